/**
 * Route policy (SPEC §3.3, §7) and its defence against path confusion: no spelling of a path
 * may reach a protected upstream resource with less than the policy demands, and a public rule
 * never stretches over another spelling.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEMO_POLICY } from "../../src/domain/demo-route-policy";
import { parsePolicy, type RoutePolicy } from "../../src/domain/route-policy";
import { decide, memoizedDecisionCount } from "../../src/proxy/policy";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { seedIntegration } from "../helpers/seed";

function policy(rules: unknown): RoutePolicy {
  const parsed = parsePolicy(rules);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const VIEW = { kind: "permissions", required: ["inspections.view"] };
const EDIT = { kind: "permissions", required: ["inspections.edit"] };
const AUTHENTICATED = { kind: "authenticated" };
const PUBLIC = { kind: "public" };

describe("demo policy decisions", () => {
  it.each([
    ["GET", "/health", PUBLIC],
    ["HEAD", "/health", PUBLIC],
    ["POST", "/health", AUTHENTICATED],
    ["GET", "/inspections", VIEW],
    ["GET", "/inspections/", VIEW],
    ["GET", "/inspections/42/photos", VIEW],
    ["HEAD", "/inspections/42", VIEW],
    ["get", "/inspections/42", VIEW],
    ["POST", "/inspections", EDIT],
    ["PUT", "/inspections/42", EDIT],
    ["PATCH", "/inspections/42", EDIT],
    ["DELETE", "/inspections/42", EDIT],
    ["OPTIONS", "/inspections/42", AUTHENTICATED],
    ["GET", "/inspectionsx", AUTHENTICATED],
    ["GET", "/reports/1", AUTHENTICATED],
  ])("%s %s", (method, path, expected) => {
    expect(decide(DEMO_POLICY, method, path)).toEqual(expected);
  });

  it.each([
    "//inspections/42",
    "/INSPECTIONS/42",
    "/Inspections/42",
    "/inspections;jsessionid=1/42",
    "/inspections;/42",
    "/%69nspections/42",
    "/inspections%2f42",
    "/inspections%2F42",
    "/inspections%5c42",
    "/inspections%252f42",
    "/%2569nspections/42",
    "//health/inspections/42",
    "//anything/inspections",
    "/%2fhealth/inspections/42",
    "/inspections%3F/42",
    "/inspections%3f",
    "/inspections%253F/42",
    "/inspections%23/42",
    "/%2569nspections/42%25",
    "/%2569nspections/42%25zz",
    "/%252569nspections/%25E0%25A4%25A",
  ])("every other spelling of /inspections still needs inspections.view: %s", (path) => {
    expect(decide(DEMO_POLICY, "GET", path)).toEqual(VIEW);
  });

  it.each([
    "/HEALTH",
    "/Health",
    "/health/",
    "//health",
    "/health;x",
    "/%68ealth",
    "/health%20",
    "/health%2f",
  ])("a public rule matches only its exact spelling: %s needs a token", (path) => {
    expect(decide(DEMO_POLICY, "GET", path)).toEqual(AUTHENTICATED);
  });

  it.each([
    "/inspections/..%2fadmin",
    "/health/..%2finspections/42",
    "/health/%2e%2e%2finspections",
    "/health/..%5cinspections",
    "/health/.%2e%2finspections",
    "/health/%252e%252e%252finspections",
    "/inspections%00",
    "/health%00/x",
    "/inspections/%0d%0aX-Injected:1",
    "/inspections/%E0%A4%A",
    "/inspections/%",
    "/inspections/%25252525252541",
  ])("a path that decodes to dot segments, control characters or invalid escapes is refused: %s", (path) => {
    expect(decide(DEMO_POLICY, "GET", path)).toBeNull();
  });

  it("a literal percent sign in an id is fine", () => {
    expect(decide(DEMO_POLICY, "GET", "/inspections/100%25")).toEqual(VIEW);
    expect(decide(DEMO_POLICY, "GET", "/reports/50%25off")).toEqual(AUTHENTICATED);
  });
});

describe("custom policies", () => {
  const rules = policy([
    { match: "GET /public/*", public: true },
    { match: "GET /admin/*", permissions: ["admin.read"] },
    { match: "GET /files/:id", permissions: ["files.read"] },
    { match: "GET /docs/:id" },
    { match: "GET /docs/*", permissions: ["docs.secret"] },
    { match: "* /billing/*", permissions: ["billing.manage", "billing.view"] },
  ]);

  it("a public prefix cannot be walked out of into a protected one", () => {
    expect(decide(rules, "GET", "/public/logo.png")).toEqual(PUBLIC);
    expect(decide(rules, "GET", "/public/..%2fadmin/users")).toBeNull();
    expect(decide(rules, "GET", "/public%2f..%2fadmin/users")).toBeNull();
    expect(decide(rules, "GET", "/public/..;/admin")).toBeNull();
    expect(decide(rules, "GET", "/PUBLIC/x")).toEqual(AUTHENTICATED);
  });

  it("an encoded slash inside an id does not slip past a one-segment rule", () => {
    expect(decide(rules, "GET", "/files/a%2Fb")).toEqual({ kind: "permissions", required: ["files.read"] });
    expect(decide(rules, "GET", "/files/a")).toEqual({ kind: "permissions", required: ["files.read"] });
  });

  it("when readings of one path match different rules, the strictest wins", () => {
    // As sent: /docs/<one id> (authenticated); decoded: /docs/a/b (docs.secret).
    expect(decide(rules, "GET", "/docs/a%2Fb")).toEqual({ kind: "permissions", required: ["docs.secret"] });
    expect(decide(rules, "GET", "/docs/a")).toEqual(AUTHENTICATED);
  });

  it("with several candidate methods the strictest decision wins", () => {
    expect(decide(DEMO_POLICY, ["GET", "DELETE"], "/inspections/1")).toEqual({
      kind: "permissions",
      required: ["inspections.edit", "inspections.view"],
    });
    expect(decide(DEMO_POLICY, ["GET", "DELETE"], "/health")).toEqual(AUTHENTICATED);
    expect(decide(DEMO_POLICY, ["GET", "get"], "/health")).toEqual(PUBLIC);
  });

  it("a '*' method rule covers every method, with all its permissions sorted", () => {
    for (const method of ["GET", "POST", "PROPFIND", "OPTIONS"]) {
      expect(decide(rules, method, "/billing/1")).toEqual({ kind: "permissions", required: ["billing.manage", "billing.view"] });
    }
  });

  it.each([
    [{ match: "GET /a/%2e" }, "path segments"],
    [{ match: "GET /a;b" }, "path segments"],
    [{ match: "GET /a/../b" }, "path segments"],
    [{ match: "GET a" }, "must start with /"],
    [{ match: "GET /a", public: true, permissions: ["x.y"] }, "public rule cannot require"],
    [{ match: "GET /a", permissions: ["Not A Permission"] }, "permissions must be"],
    [{ match: "G3T /a" }, "bad method"],
  ])("rejects a rule that could never be enforced as written: %j", (rule, reason) => {
    const parsed = parsePolicy([rule]);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });
});

describe("memoized decisions", () => {
  const RULES = [
    { match: "GET /public/*", public: true },
    { match: "GET /inspections/*", permissions: ["inspections.view"] },
    { match: "POST,PUT,PATCH,DELETE /inspections/*", permissions: ["inspections.edit"] },
    { match: "GET /docs/:id" },
    { match: "GET /docs/*", permissions: ["docs.secret"] },
  ];

  it("a repeated request gets the decision a fresh policy makes, for any spelling (property, 3,000 runs)", () => {
    const piece = fc.constantFrom("public", "PUBLIC", "inspections", "docs", "a", "..", ".", "%2f", "%2F", "%252f", "%2e", ";x", "%3f", "%25", "%zz", "\\", "");
    const pathArb = fc.array(piece, { minLength: 0, maxLength: 5 }).map((parts) => "/" + parts.join("/"));
    const method = fc.constantFrom("GET", "get", "HEAD", "POST", "DELETE", "OPTIONS");
    const warm = policy(RULES);
    fc.assert(
      fc.property(fc.array(fc.tuple(method, pathArb), { minLength: 1, maxLength: 8 }), (requests) => {
        for (const [m, path] of requests) {
          // A new policy object has an empty memo: its answer is the unmemoized decision.
          const fresh = decide(policy(RULES), m, path);
          expect(decide(warm, m, path)).toEqual(fresh);
          expect(decide(warm, m, path)).toEqual(fresh);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("memoizes per policy: one policy's decision never answers for another", () => {
    const strict = policy([{ match: "GET /reports/*", permissions: ["reports.view"] }]);
    const open = policy([{ match: "GET /reports/*", public: true }]);
    expect(decide(open, "GET", "/reports/1")).toEqual(PUBLIC);
    expect(decide(strict, "GET", "/reports/1")).toEqual({ kind: "permissions", required: ["reports.view"] });
    expect(decide(open, "GET", "/reports/1")).toEqual(PUBLIC);
  });

  it("keys on the method and the path as sent", () => {
    const rules = policy(RULES);
    expect(decide(rules, "GET", "/inspections/1")).toEqual(VIEW);
    expect(decide(rules, "DELETE", "/inspections/1")).toEqual(EDIT);
    expect(decide(rules, "GET", "/public/1")).toEqual(PUBLIC);
    expect(decide(rules, "GET", "/Public/1")).toEqual(AUTHENTICATED);
    expect(decide(rules, "GET", "/public/..%2finspections/1")).toBeNull();
    expect(decide(rules, "GET", "/public/1")).toEqual(PUBLIC);
  });

  it("shares only frozen decisions, so no request can change another's", () => {
    const rules = policy(RULES);
    for (const [m, path] of [["GET", "/x"], ["GET", "/public/a"], ["GET", "/docs/a%2fb"], ["DELETE", "/inspections/1"]] as const) {
      const decision = decide(rules, m, path)!;
      expect(Object.isFrozen(decision)).toBe(true);
      if (decision.kind === "permissions") expect(Object.isFrozen(decision.required)).toBe(true);
      expect(decide(rules, m, path)).toBe(decision);
    }
  });

  it("stays bounded under unique paths and never keeps a long one", () => {
    const rules = policy(RULES);
    for (let i = 0; i < 5_000; i++) decide(rules, "GET", `/inspections/${i}`);
    expect(memoizedDecisionCount(rules)).toBe(1_024);
    // The newest entries stay; unique paths cost only a miss.
    expect(decide(rules, "GET", "/inspections/4999")).toEqual(VIEW);
    const before = memoizedDecisionCount(rules);
    const long = "/inspections/" + "a".repeat(300);
    expect(decide(rules, "GET", long)).toEqual(VIEW);
    expect(memoizedDecisionCount(rules)).toBe(before);
  });

  it("decides requests with method overrides afresh", () => {
    const rules = policy(RULES);
    expect(decide(rules, ["GET", "DELETE"], "/inspections/1")).toEqual({ kind: "permissions", required: ["inspections.edit", "inspections.view"] });
    expect(memoizedDecisionCount(rules)).toBe(0);
  });
});

describe("path confusion through the proxy", () => {
  it("a token without inspections.view is refused on every spelling, and the upstream sees nothing", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const spellings = [
      `//inspections/${m}`,
      `/INSPECTIONS/${m}`,
      `/inspections;x/${m}`,
      `/%69nspections/${m}`,
      `/inspections%2f${m}`,
      // A decoded "?" or "#" ends the path for an upstream that decodes once more.
      `/inspections%3F/${m}`,
      `/inspections%2523/${m}`,
      // A later decoding round that fails must not leave a half-decoded reading.
      `/%2569nspections/${m}%25`,
    ];
    for (const path of spellings) {
      for (const method of ["GET", "HEAD"]) {
        const res = await call(path, { method, headers: bearer(token.secret) });
        expect(res.status, `${method} ${path}`).toBe(403);
      }
    }
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("a dot-segment smuggled through an encoded slash is 400 invalid_request, never forwarded", async () => {
    const { token } = await seedIntegration(["inspections.view"]);
    const m = marker();
    for (const path of [`/health/..%2finspections/${m}`, `/inspections/${m}/..%2f..%2fadmin`, `/inspections/${m}%00`]) {
      const res = await call(path, { headers: bearer(token.secret) });
      expect(res.status, path).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_request");
    }
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("a public path spelled differently needs a token", async () => {
    const m = marker();
    for (const path of [`/HEALTH/${m}`, `/health/${m}`]) {
      expect((await call(path)).status, path).toBe(401);
    }
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("plain dot segments are resolved by the URL parser before anything else, so the upstream sees the resolved path", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const res = await call(`/inspections/%2e%2e/reports/${m}`, { headers: bearer(token.secret) });
    expect(res.status).toBe(200);
    expect((await upstreamRequests(m)).map((r) => r.path)).toEqual([`/reports/${m}`]);
  });

  it("a method override (header or ?_method=) is judged as the method the upstream will act on", async () => {
    const viewer = await seedIntegration(["inspections.view"]);
    const m = marker();
    for (const [name, value] of [
      ["X-HTTP-Method-Override", "DELETE"],
      ["x-http-method", "put"],
      ["X-Method-Override", "PATCH"],
    ]) {
      const res = await call(`/inspections/${m}`, { headers: bearer(viewer.token.secret, { [name!]: value! }) });
      expect(res.status, name).toBe(403);
      expect(res.headers.get("www-authenticate")).toContain('scope="inspections.edit"');
    }
    expect((await call(`/inspections/${m}?_method=DELETE`, { headers: bearer(viewer.token.secret) })).status).toBe(403);
    expect((await call("/health", { headers: { "x-http-method-override": "DELETE" } })).status).toBe(401);
    expect(await upstreamRequests(m)).toEqual([]);

    const editor = await seedIntegration(["inspections.edit", "inspections.view"]);
    const res = await call(`/inspections/${m}`, { headers: bearer(editor.token.secret, { "x-http-method-override": "DELETE" }) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-http-method-override"]).toBe("DELETE");
  });

  it("a ROUTE_POLICY var replaces the demo policy", async () => {
    const { token } = await seedIntegration(["inspections.view"]);
    const custom = JSON.stringify([{ match: "GET /inspections/*", permissions: ["inspections.audit"] }]);
    const res = await call(`/inspections/${marker()}`, { headers: bearer(token.secret), env: { ROUTE_POLICY: custom } });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain('scope="inspections.audit"');
  });
});
