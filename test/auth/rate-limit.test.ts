/**
 * Failed authentications are rate-limited per client IP (issue 6 §14) through the
 * AUTH_FAILURE_LIMITER binding ([[ratelimits]] in wrangler.toml, simulated by miniflare).
 * Once an IP is over its budget it gets 429 + Retry-After before any D1 read; valid tokens
 * from other clients are unaffected, and valid traffic never spends the budget.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clearRateLimitBlocks, clientIp } from "../../src/auth/rate-limit";
import { generateToken } from "../../src/token/format";
import { call, inOneWindow, marker, PREFIX, upstreamRequests } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { countingDb, fakeLimiter } from "../helpers/bindings";
import { seedIntegration } from "../helpers/seed";

afterEach(() => clearRateLimitBlocks());

const from = (ip: string, authorization?: string) => ({
  "cf-connecting-ip": ip,
  ...(authorization ? { authorization } : {}),
});

describe("failed-authentication rate limit", () => {
  it("the failure over the limit gets 429 with Retry-After; later attempts from that IP are refused before D1", async () => {
    const { token } = await seedIntegration();
    const { limiter, counts } = fakeLimiter((_, count) => count <= 3);
    const ip = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(`/any/${marker()}`, { headers: from(ip, `Bearer ${generateToken("service_user")}`), env: { AUTH_FAILURE_LIMITER: limiter } });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get("retry-after")).toBe("60");
        expect((await errorOf(res)).code).toBe("rate_limited");
      }
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(counts.get(ip)).toBe(4);

    const { db, counts: d1 } = countingDb();
    const m = marker();
    const blocked = await call(`/any/${m}`, { headers: from(ip, `Bearer ${token.secret}`), env: { AUTH_FAILURE_LIMITER: limiter, DB: db } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(d1.prepare).toBe(0);
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("a valid token from another IP is unaffected, and so is a failure from another IP", async () => {
    const { token } = await seedIntegration();
    const { limiter } = fakeLimiter((key) => key !== "198.51.100.66");
    const blockedIp = "198.51.100.66";
    const bad = await call(`/any/${marker()}`, { headers: from(blockedIp, "Bearer pcs_bad"), env: { AUTH_FAILURE_LIMITER: limiter } });
    expect(bad.status).toBe(429);
    const m = marker();
    const ok = await call(`/any/${m}`, { headers: from("198.51.100.67", `Bearer ${token.secret}`), env: { AUTH_FAILURE_LIMITER: limiter } });
    expect(ok.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
    const otherFailure = await call(`/any/${marker()}`, { headers: from("198.51.100.68", "Bearer pcs_bad"), env: { AUTH_FAILURE_LIMITER: limiter } });
    expect(otherFailure.status).toBe(401);
  });

  it("successful requests never spend the failure budget", async () => {
    const { token } = await seedIntegration();
    const { limiter, counts } = fakeLimiter(() => false);
    for (let i = 0; i < 5; i++) {
      const res = await call(`/any/${marker()}`, { headers: from("192.0.2.10", `Bearer ${token.secret}`), env: { AUTH_FAILURE_LIMITER: limiter } });
      expect(res.status).toBe(200);
    }
    expect(counts.size).toBe(0);
  });

  it("a limiter that fails is advisory: the failure is still a 401, never a 5xx", async () => {
    const broken: RateLimit = { limit: () => Promise.reject(new Error("rate limiter unavailable")) };
    const res = await call(`/any/${marker()}`, { headers: from("192.0.2.11", "Bearer pcs_bad"), env: { AUTH_FAILURE_LIMITER: broken } });
    expect(res.status).toBe(401);
  });

  it("the management API shares the same limit", async () => {
    const { limiter } = fakeLimiter((_, count) => count <= 1);
    const first = await call(`${PREFIX}/me`, { headers: from("192.0.2.12", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"), env: { AUTH_FAILURE_LIMITER: limiter } });
    expect(first.status).toBe(401);
    const second = await call(`${PREFIX}/me`, { headers: from("192.0.2.12", `Bearer ${generateToken("user")}`), env: { AUTH_FAILURE_LIMITER: limiter } });
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("60");
  });

  it("the wrangler.toml binding (60 per minute, simulated locally) lets 60 failures through and limits the 61st", async () => {
    const statuses = await inOneWindow(async (ip) => {
      const seen: number[] = [];
      for (let i = 0; i < 61; i++) seen.push((await call(`/any/${marker()}`, { headers: from(ip, "Bearer pcs_guess") })).status);
      return seen;
    });
    expect(statuses.slice(0, 60)).toEqual(Array(60).fill(401));
    expect(statuses[60]).toBe(429);
  });

  it("IPv6 clients are limited per /64, so rotating addresses inside one subscriber's prefix does not help", () => {
    const ip = (value: string) => clientIp(new Request("https://x.test/", { headers: { "cf-connecting-ip": value } }));
    expect(ip("2001:db8:1:2::1")).toBe(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect(ip("2001:DB8:0001:0002:0:0:0:9")).toBe(ip("2001:db8:1:2::1"));
    expect(ip("2001:db8:1:3::1")).not.toBe(ip("2001:db8:1:2::1"));
    expect(ip("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(ip("192.0.2.1")).toBe("192.0.2.1");
    expect(ip("192.0.2.1")).not.toBe(ip("192.0.2.2"));
  });

  it("wrong operator secrets on POST /orgs count as failed authentications per client address (SPEC §11)", async () => {
    const { limiter, counts } = fakeLimiter((_, count) => count <= 3);
    const ip = "192.0.2.77";
    const body = JSON.stringify({ name: "Guess", admin: { name: "G", email: "g@example.com" } });
    const attempt = (secret: string, from = ip) =>
      call(`${PREFIX}/orgs`, {
        method: "POST",
        headers: { "cf-connecting-ip": from, authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body,
        env: { AUTH_FAILURE_LIMITER: limiter },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt(`guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(counts.get(ip)).toBe(4);
    // Blocked: even the right secret waits, and nothing is compared or counted meanwhile.
    const blocked = await attempt("test-admin-secret");
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBeTruthy();
    expect(counts.get(ip)).toBe(4);
    // Another client address is unaffected.
    expect((await attempt("test-admin-secret", "192.0.2.78")).status).toBe(201);
  });
});
