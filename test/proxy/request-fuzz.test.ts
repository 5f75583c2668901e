/**
 * Property tests (issue 6 §6): random Authorization values never get a 2xx or a 5xx and never
 * reach the upstream; random path spellings never let a token without `inspections.view`
 * reach anything an upstream could route as /inspections.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE62, checksum, generateToken } from "../../src/token/format";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { seedIntegration } from "../helpers/seed";
import { setTokenStatus } from "../helpers/token-state";

const AUTH_RUNS = 10_000;
const PATH_RUNS = 2_000;

/**
 * Header values cannot carry NUL, CR or LF (the runtime refuses them before the Worker runs).
 * Non-ASCII values are covered one by one in test/auth/bad-credentials.test.ts and by the unit
 * property in test/auth/bearer.test.ts; here they would only make workerd print a warning per run.
 */
const headerSafe = (s: string) => s.replace(/[\0\r\n]/g, "");

let revokedSecret: string;
let expiredSecret: string;
let liveSecret: string;

beforeAll(async () => {
  const revoked = await seedIntegration();
  await setTokenStatus(revoked.token.id, "revoked");
  revokedSecret = revoked.token.secret;
  const expired = await seedIntegration();
  await setTokenStatus(expired.token.id, "expired");
  expiredSecret = expired.token.secret;
  liveSecret = (await seedIntegration([])).token.secret;
});

const base62 = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 0, maxLength: 70 });

/** Token-shaped strings: right or wrong prefix, any length, with or without a valid checksum. */
const tokenLike = fc.oneof(
  fc.tuple(fc.constantFrom("pcu_", "pcs_", "pcx_", "PCS_", "pcs", "pcs__", ""), base62).map(([p, b]) => p + b),
  fc.tuple(fc.constantFrom("pcu_", "pcs_"), fc.string({ unit: fc.constantFrom(...BASE62), minLength: 43, maxLength: 43 })).map(
    ([p, b]) => p + b + checksum(p + b),
  ),
  fc.constantFrom("user", "service_user").map((k) => generateToken(k as "user" | "service_user")),
);

/** A live token with one character changed, inserted or removed: never the live token itself. */
const mutatedLive = fc
  .tuple(fc.nat(52), fc.constantFrom(...(BASE62 + "_-.~+/= \t,").split("")), fc.constantFrom("replace", "insert", "delete"))
  .map(([pos, ch, op]) => {
    const s = liveSecret;
    if (op === "insert") return s.slice(0, pos) + ch + s.slice(pos);
    if (op === "delete") return s.slice(0, pos) + s.slice(pos + 1);
    return s.slice(0, pos) + ch + s.slice(pos + 1);
  })
  .filter((s) => s.trim() !== liveSecret);

const credential = fc.oneof(
  tokenLike,
  mutatedLive,
  fc.constantFrom("revoked", "expired").map((k) => (k === "revoked" ? revokedSecret : expiredSecret)),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary-ascii", maxLength: 80 }),
);

const scheme = fc.constantFrom("Bearer ", "bearer ", "BEARER  ", "Bearer\t", "Basic ", "Token ", "", "Bearer", "Bearer ,");

const authorization = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(scheme, credential).map(([s, c]) => s + c) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 100 }) },
  { weight: 1, arbitrary: fc.tuple(credential, credential).map(([a, b]) => `Bearer ${a}, Bearer ${b}`) },
  // The live token itself, but twice: still refused (400), never forwarded.
  { weight: 1, arbitrary: fc.constantFrom(", Bearer ", ",", ", ").map((joint) => `Bearer ${liveSecret}${joint}${liveSecret}`) },
);

describe("property: random Authorization values", () => {
  it(`never get a 2xx or a 5xx and never reach the upstream (${AUTH_RUNS} runs)`, { timeout: 600_000 }, async () => {
    const m = marker();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(authorization, fc.constantFrom("GET", "POST", "DELETE"), async (value, method) => {
        const headers = new Headers();
        headers.set("authorization", headerSafe(value));
        const res = await call(`/fuzz/${m}`, { method, headers, settle: false });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await res.body?.cancel();
        expect(res.status >= 200 && res.status < 300, `${res.status} for ${JSON.stringify(value)}`).toBe(false);
        expect(res.status, JSON.stringify(value)).toBeLessThan(500);
      }),
      { numRuns: AUTH_RUNS },
    );
    expect(await upstreamRequests(m)).toEqual([]);
    // The generator really exercised the interesting answers, not one of them over and over.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 401]));
    expect(statuses.get(401)!).toBeGreaterThan(AUTH_RUNS / 2);
  });

  it("the live token the mutations start from does work (so the property above is not vacuous)", async () => {
    const m = marker();
    expect((await call(`/fuzz/${m}`, { headers: bearer(liveSecret) })).status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
  });
});

/** Everything an upstream might route the path as, with the most generous decoding. */
function upstreamReadings(path: string): string[] {
  const readings = [path];
  let current = path;
  for (let i = 0; i < 4; i++) {
    try {
      current = decodeURIComponent(current);
    } catch {
      break;
    }
    readings.push(current);
  }
  // An upstream parsing `new URL(path, base)` takes the first segment of "//x/..." for a host.
  for (const r of [...readings]) if (/^[/\\]{2}/.test(r)) readings.push(r.replace(/^[/\\]+[^/\\]*/, ""));
  return readings.map((r) =>
    r
      .replace(/\\/g, "/")
      .split("/")
      .map((seg) => seg.split(";")[0]!.trim().toLowerCase())
      .filter((seg) => seg.length > 0)
      .join("/"),
  );
}

const segment = fc.oneof(
  fc.constantFrom("inspections", "INSPECTIONS", "Inspections", "%69nspections", "%2569nspections", "inspections;x", "insp%65ctions"),
  fc.constantFrom("..", ".", "%2e%2e", "%2e", "..%2f", "%2f", "%5c", "%252f", ";", "", "health", "reports", "%00", "%"),
  fc.string({ unit: fc.constantFrom(..."abc%2fe.;"), maxLength: 6 }),
);

describe("property: random path spellings", () => {
  it(`a token without inspections.view never reaches an upstream reading of /inspections (${PATH_RUNS} runs)`, { timeout: 300_000 }, async () => {
    const m = marker();
    let forwarded = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 5 }), fc.constantFrom("GET", "HEAD", "DELETE"), async (segments, method) => {
        const path = `/${[...segments, m].join("/")}`;
        const res = await call(path, { method, headers: bearer(liveSecret), settle: false });
        await res.body?.cancel();
        expect(res.status, path).toBeLessThan(500);
        if (res.status === 200) forwarded++;
      }),
      { numRuns: PATH_RUNS },
    );
    const seen = await upstreamRequests(m);
    expect(seen).toHaveLength(forwarded);
    expect(forwarded).toBeGreaterThan(PATH_RUNS / 10);
    for (const { path } of seen) {
      for (const reading of upstreamReadings(path)) {
        expect(/^inspections($|\/)/.test(reading), `reached the upstream as ${path}`).toBe(false);
      }
    }
  });
});
