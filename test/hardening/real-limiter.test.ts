/**
 * The AUTH_FAILURE_LIMITER binding as wrangler.toml declares it (60 failures / 60 s per client,
 * simulated by miniflare): the 61st failed authentication from one IP is answered 429, and a
 * valid token from another IP is unaffected.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateToken } from "../../src/token/format";
import { seedOrg, seedServiceToken } from "../helpers/seed";
import { call, marker } from "../helpers/worker";

describe("failed-authentication rate limit with the real binding", () => {
  it("answers 429 with Retry-After after 60 failures from one IP, and serves other clients", async () => {
    const org = await seedOrg();
    const good = await seedServiceToken(org.orgId);
    const limiter = { AUTH_FAILURE_LIMITER: env.AUTH_FAILURE_LIMITER };
    const attacker = { "cf-connecting-ip": "203.0.113.77" };
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) {
      const res = await call(`/guess/${i}`, { headers: { ...attacker, authorization: `Bearer ${generateToken("user")}` }, env: limiter });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 60).every((s) => s === 401)).toBe(true);
    expect(statuses[60]).toBe(429);
    const blocked = await call(`/guess/${marker()}`, { headers: { ...attacker, authorization: `Bearer ${good.secret}` }, env: limiter });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    const other = await call(`/ok/${marker()}`, {
      headers: { "cf-connecting-ip": "203.0.113.78", authorization: `Bearer ${good.secret}` },
      env: limiter,
    });
    expect(other.status).toBe(200);
  });
});
