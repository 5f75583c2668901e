/**
 * D1 faults (SPEC §3.6, issue 6 §11): whatever D1 does wrong — the errors it raises in
 * production, or silence past DB_TIMEOUT_MS — the answer is 503 with Retry-After and a generic
 * body, the upstream is never called (fail closed), and a read is retried at most once.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateToken } from "../../src/token/format";
import { bearer, call, marker, PREFIX, upstreamRequests } from "../helpers/worker";
import { seedInspector, seedIntegration, sessionJwt } from "../helpers/seed";
import { errorOf } from "../helpers/errors";
import { failingDb } from "../helpers/bindings";

const PRODUCTION_ERRORS = [
  "D1_ERROR: Network connection lost.",
  "D1 DB is overloaded. Requests queued for too long.",
  "D1_ERROR: D1 DB storage operation exceeded timeout which caused object to be reset.",
];

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

async function expectUnavailable(res: Response, m: string) {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  expect(res.headers.get("www-authenticate")).toBeNull();
  const error = await errorOf(res);
  expect(error).toEqual({ code: "unavailable", message: "The authorization store is unavailable; try again shortly." });
  expect(await upstreamRequests(m)).toEqual([]);
}

/** D1 that fails the first `failures` reads with `message`, then behaves. */
function flakyDb(failures: number, message: string) {
  let reads = 0;
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const real = target.prepare(sql);
          return new Proxy(real, {
            get(stmt, name) {
              if (name === "bind") return (...args: unknown[]) => flakyStatement(stmt.bind(...args));
              const value = Reflect.get(stmt, name);
              return typeof value === "function" ? value.bind(stmt) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  function flakyStatement(stmt: D1PreparedStatement): D1PreparedStatement {
    return new Proxy(stmt, {
      get(target, name) {
        if (name === "first") {
          return (...args: unknown[]) => {
            reads++;
            if (reads <= failures) return Promise.reject(new Error(message));
            return (target.first as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
  return { db, reads: () => reads };
}

describe("D1 failures at the proxy", () => {
  for (const message of PRODUCTION_ERRORS) {
    it(`"${message}" → 503, upstream never called, the read tried twice at most`, async () => {
      const { token } = await seedIntegration();
      const failing = failingDb(message, "throw");
      const m = marker();
      const res = await call(`/inspections/${m}`, { headers: bearer(token.secret), env: { DB: failing.db } });
      await expectUnavailable(res, m);
      expect(failing.calls()).toBe(2);
    });
  }

  it("a D1 that hangs past DB_TIMEOUT_MS → 503, upstream never called, no retry of a timed-out read", async () => {
    const { token } = await seedIntegration();
    const hanging = failingDb("unused", "hang");
    const m = marker();
    const res = await call(`/inspections/${m}`, {
      headers: bearer(token.secret),
      env: { DB: hanging.db, DB_TIMEOUT_MS: "200" },
    });
    await expectUnavailable(res, m);
    expect(hanging.calls()).toBe(1);
  });

  it("an error that is not transient (a schema fault) → 503 without a retry", async () => {
    const { token } = await seedIntegration();
    const failing = failingDb("D1_ERROR: no such table: api_tokens: SQLITE_ERROR", "throw");
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret), env: { DB: failing.db } });
    await expectUnavailable(res, m);
    expect(failing.calls()).toBe(1);
  });

  it("one transient failure followed by success: the single retry serves the request", async () => {
    const { token } = await seedIntegration();
    const flaky = flakyDb(1, PRODUCTION_ERRORS[0]!);
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret), env: { DB: flaky.db } });
    expect(res.status).toBe(200);
    expect(flaky.reads()).toBe(2);
    expect(await upstreamRequests(m)).toHaveLength(1);
  });

  it("two transient failures in a row: no third attempt, 503", async () => {
    const { token } = await seedIntegration();
    const flaky = flakyDb(2, PRODUCTION_ERRORS[1]!);
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret), env: { DB: flaky.db } });
    await expectUnavailable(res, m);
    expect(flaky.reads()).toBe(2);
  });

  it("an unknown token during an outage is 503, not 401 (the proxy cannot know it is unknown)", async () => {
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(generateToken("user")), env: { DB: failingDb().db } });
    await expectUnavailable(res, m);
  });

  it("a malformed token during an outage is still 401: it never needed D1", async () => {
    const failing = failingDb();
    const res = await call(`/inspections/${marker()}`, { headers: bearer("pcs_short"), env: { DB: failing.db } });
    expect(res.status).toBe(401);
    expect(failing.calls()).toBe(0);
  });

  it("a public route keeps working during an outage (it needs no D1)", async () => {
    const failing = failingDb();
    const res = await call("/health", { env: { DB: failing.db } });
    expect(res.status).toBe(200);
    expect(failing.calls()).toBe(0);
  });
});

describe("D1 failures at the management API", () => {
  it("an API token during an outage → 503 with Retry-After", async () => {
    const { token } = await seedIntegration();
    const res = await call(`${PREFIX}/me`, { headers: bearer(token.secret), env: { DB: failingDb().db } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await errorOf(res)).code).toBe("unavailable");
  });

  it("a session during an outage → 503 with Retry-After", async () => {
    const { org, user } = await seedInspector();
    const jwt = await sessionJwt({ sub: user.id, org: org.orgId });
    const res = await call(`${PREFIX}/me`, { headers: bearer(jwt), env: { DB: failingDb(PRODUCTION_ERRORS[2]).db } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await errorOf(res)).code).toBe("unavailable");
  });
});
