/**
 * Bad credentials at the proxy (issue 6 §1–5): every malformed Authorization ends in a clear
 * 4xx, a malformed token never costs a D1 query, a token is only ever read from the header,
 * and the rejections of unknown and revoked tokens cannot be told apart except by their text.
 */
import { describe, expect, it } from "vitest";
import { generateToken } from "../../src/token/format";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { seedIntegration } from "../helpers/seed";
import { setTokenStatus } from "../helpers/token-state";
import { countingDb } from "../helpers/bindings";

const CHALLENGE = 'Bearer realm="portcullis"';

/** Sends `authorization` to a fresh path with a counting D1; returns the response, its D1 use and what the upstream saw. */
async function attempt(authorization: string | string[] | null, path = `/inspections/${marker()}`) {
  const headers = new Headers();
  for (const value of authorization === null ? [] : Array.isArray(authorization) ? authorization : [authorization]) {
    headers.append("authorization", value);
  }
  const { db, counts } = countingDb();
  const res = await call(path, { headers, env: { DB: db } });
  const m = path.split("/")[2]!;
  return { res, counts, seen: await upstreamRequests(m) };
}

describe("1. the Authorization scheme", () => {
  it("no Authorization at all → 401 unauthorized with the bare challenge", async () => {
    const { res, counts, seen } = await attempt(null);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
    expect((await errorOf(res)).code).toBe("unauthorized");
    expect(counts.prepare).toBe(0);
    expect(seen).toEqual([]);
  });

  it.each([
    ["an empty value", "Bearer "],
    ["a whitespace-only value", "Bearer      "],
    ["the scheme alone", "Bearer"],
    ["a tab instead of a space", `Bearer\t${generateToken("service_user")}`],
    ["a tab-separated second part", `Bearer ${generateToken("service_user")}\textra`],
    ["a space inside the credential", `Bearer pcs_abc def`],
  ])("Bearer with %s → 401 invalid_token, no D1 query", async (_, value) => {
    const { res, counts, seen } = await attempt(value);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
    expect((await errorOf(res)).code).toBe("invalid_token");
    expect(counts).toEqual({ prepare: 0, batch: 0, exec: 0 });
    expect(seen).toEqual([]);
  });

  it.each([
    ["lower-case scheme", (t: string) => `bearer ${t}`],
    ["upper-case scheme", (t: string) => `BEARER ${t}`],
    ["mixed-case scheme", (t: string) => `bEaReR ${t}`],
    ["several spaces after the scheme", (t: string) => `Bearer     ${t}`],
  ])("a valid token with a %s is accepted (RFC 7235 §2.1)", async (_, format) => {
    const { token } = await seedIntegration();
    const { res, seen } = await attempt(format(token.secret));
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it.each([
    ["Basic", (t: string) => `Basic ${btoa(`user:${t}`)}`],
    ["Token", (t: string) => `Token ${t}`],
    ["Digest", () => 'Digest username="a"'],
    ["a bare token without a scheme", (t: string) => t],
  ])("another scheme (%s) → 401 with the Bearer challenge, never accepted", async (_, format) => {
    const { token } = await seedIntegration();
    const { res, counts, seen } = await attempt(format(token.secret));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="portcullis"/);
    expect(["unauthorized", "invalid_token"]).toContain((await errorOf(res)).code);
    expect(counts.prepare).toBe(0);
    expect(seen).toEqual([]);
  });
});

describe("2. more than one credential", () => {
  it("two Authorization headers → 400 invalid_request, even when both are valid", async () => {
    const { token } = await seedIntegration();
    const { res, counts, seen } = await attempt([`Bearer ${token.secret}`, `Bearer ${token.secret}`]);
    expect(res.status).toBe(400);
    expect(res.headers.get("www-authenticate")).toBe(`${CHALLENGE}, error="invalid_request"`);
    expect((await errorOf(res)).code).toBe("invalid_request");
    expect(counts.prepare).toBe(0);
    expect(seen).toEqual([]);
  });

  it.each([
    (t: string) => `Bearer ${t}, Bearer ${t}`,
    (t: string) => `Bearer ${t},Basic YTpi`,
    (t: string) => `Bearer ${t},`,
    (t: string) => `Basic YTpi, Bearer ${t}`,
  ])("comma-joined values → 400 invalid_request (%#)", async (format) => {
    const { token } = await seedIntegration();
    const { res, seen } = await attempt(format(token.secret));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("invalid_request");
    expect(seen).toEqual([]);
  });
});

describe("3. malformed tokens are refused without touching D1", () => {
  const valid = generateToken("service_user");
  const body = valid.slice(4, -6);
  const lastChecksumDigit = valid.at(-1)!;
  const cases: [string, string][] = [
    ["a 16 KiB token", `pcs_${"A".repeat(16 * 1024)}`],
    ["16 KiB of a valid token repeated", valid.repeat(Math.ceil((16 * 1024) / valid.length))],
    ["a control character", `${valid.slice(0, 20)}\u0001${valid.slice(21)}`],
    ["DEL", `${valid.slice(0, 20)}\u007f${valid.slice(21)}`],
    ["a Latin-1 letter", `${valid.slice(0, 20)}é${valid.slice(21)}`],
    ["an emoji", `${valid.slice(0, 20)}🔑${valid.slice(22)}`],
    ["a Cyrillic 'с' in the prefix", `pсs_${valid.slice(4)}`],
    ["a Cyrillic 'ѕ' in the prefix", `pcѕ_${valid.slice(4)}`],
    ["a Cyrillic 'о' in the body", `pcs_${body.slice(0, 10)}о${body.slice(11)}${valid.slice(-6)}`],
    ["a full-width digit", `${valid.slice(0, 30)}１${valid.slice(31)}`],
    ["a wrong prefix", `pck_${valid.slice(4)}`],
    ["an upper-case prefix", `PCS_${valid.slice(4)}`],
    ["a dash instead of underscore", `pcs-${valid.slice(4)}`],
    ["a bad checksum", valid.slice(0, -1) + (lastChecksumDigit === "0" ? "1" : "0")],
    ["one character too short", valid.slice(0, -1)],
    ["one character too long", `${valid}0`],
    ["base64 padding", `${valid}==`],
    ["a session-looking JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
  ];

  it.each(cases)("%s → 401 invalid_token, zero D1 queries, nothing forwarded", async (_, credential) => {
    const { res, counts, seen } = await attempt(`Bearer ${credential}`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
    expect((await errorOf(res)).code).toBe("invalid_token");
    expect(counts).toEqual({ prepare: 0, batch: 0, exec: 0 });
    expect(seen).toEqual([]);
  });

  it("by contrast a well-formed unknown token costs exactly one D1 read", async () => {
    const { res, counts } = await attempt(`Bearer ${generateToken("user")}`);
    expect(res.status).toBe(401);
    expect(counts).toEqual({ prepare: 1, batch: 0, exec: 0 });
  });
});

describe("4. a token in the query string or form body is never accepted", () => {
  it.each(["access_token", "token", "api_key", "authorization"])("?%s=<valid token> → 401, not forwarded", async (name) => {
    const { token } = await seedIntegration();
    const m = marker();
    const res = await call(`/inspections/${m}?${name}=${token.secret}`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("a form-encoded access_token body (RFC 6750 §2.2) → 401, not forwarded", async () => {
    const { token } = await seedIntegration(["inspections.edit"]);
    const m = marker();
    const res = await call(`/inspections/${m}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `access_token=${token.secret}`,
    });
    expect(res.status).toBe(401);
    expect(await upstreamRequests(m)).toEqual([]);
  });
});

describe("5. unknown and revoked tokens are indistinguishable but for their description", () => {
  /** Everything about a rejection except the human text. */
  async function shape(res: Response) {
    const headers = [...res.headers].map(([name, value]) =>
      name === "www-authenticate" ? [name, value.replace(/error_description="[^"]*"/, 'error_description="…"')] : [name, value],
    );
    const error = await errorOf(res);
    return { status: res.status, headers, code: error.code, fields: Object.keys(error).sort() };
  }

  it("unknown, revoked, expired and deleted tokens get the same status, headers and body class", async () => {
    const revoked = await seedIntegration();
    await setTokenStatus(revoked.token.id, "revoked");
    const expired = await seedIntegration();
    await setTokenStatus(expired.token.id, "expired");
    const deleted = await seedIntegration();
    await setTokenStatus(deleted.token.id, "deleted");
    const shapes = [];
    for (const secret of [generateToken("service_user"), revoked.token.secret, expired.token.secret, deleted.token.secret]) {
      shapes.push(await shape((await attempt(`Bearer ${secret}`)).res));
    }
    expect(shapes[0]).toMatchObject({ status: 401, code: "invalid_token" });
    for (const other of shapes.slice(1)) expect(other).toEqual(shapes[0]);
  });
});
