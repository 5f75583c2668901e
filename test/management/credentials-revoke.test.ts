import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateToken } from "../../src/token/format";
import { seedOrg, seedServiceToken, seedUser, seedUserToken } from "../helpers/seed";
import { call, inOneWindow, PREFIX, proxied, type CallOptions } from "../helpers/worker";
import { countingDb } from "../helpers/bindings";
import { eventsFor, tokenRow } from "../helpers/records";
import { setDeadline } from "../helpers/token-state";
import { errorCode } from "../helpers/errors";

function report(body: unknown, options: CallOptions = {}) {
  return call(`${PREFIX}/credentials/revoke`, {
    ...options,
    method: "POST",
    headers: { "content-type": "application/json", ...(options.headers as Record<string, string>) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("POST /credentials/revoke (leaked tokens)", () => {
  it("revokes a leaked service token at once, without a credential, and records the event", async () => {
    const org = await seedOrg();
    const leaked = await seedServiceToken(org.orgId, { name: "CI deploy" });
    expect((await proxied(leaked.secret)).res.status).toBe(200);

    const res = await report({ credentials: [leaked.secret] });

    expect(res.status).toBe(202);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ accepted: true });
    expect((await tokenRow(leaked.id))!.status).toBe("revoked");
    const { res: denied } = await proxied(leaked.secret);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toContain('error_description="token revoked"');
    const [event, ...more] = await eventsFor(leaked.id, "token.revoked_leaked");
    expect(more).toEqual([]);
    expect(event).toMatchObject({ orgId: org.orgId, actorId: null, actorType: "system", targetType: "api_token", targetName: "CI deploy" });
    expect(event!.details).not.toContain(leaked.secret.slice(4, -4));
    expect(JSON.parse(event!.details!)).toEqual({ kind: "service_user", hint: expect.stringMatching(/^pcs_…/) });
  });

  it("answers the same 202 whatever the list holds, and revokes only the valid tokens in it", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId);
    const userToken = await seedUserToken(org.orgId, user.id);
    const serviceToken = await seedServiceToken(org.orgId);
    const unknown = generateToken("service_user");
    const junk = ["", "hello", `${serviceToken.secret.slice(0, -1)}x`, "pcs_" + "a".repeat(49)];

    const mixed = await report({ credentials: [userToken.secret, ...junk, unknown, serviceToken.secret, userToken.secret] });
    const nothing = await report({ credentials: [unknown, ...junk] });

    for (const res of [mixed, nothing]) {
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: true });
    }
    expect((await tokenRow(userToken.id))!.status).toBe("revoked");
    expect((await tokenRow(serviceToken.id))!.status).toBe("revoked");
    expect(await eventsFor(userToken.id, "token.revoked_leaked")).toHaveLength(1);
    expect(await eventsFor(serviceToken.id, "token.revoked_leaked")).toHaveLength(1);
    expect((await proxied(userToken.secret)).res.status).toBe(401);
  });

  it("a second report of the same token changes nothing", async () => {
    const org = await seedOrg();
    const leaked = await seedServiceToken(org.orgId);
    await report({ credentials: [leaked.secret] });
    const first = await tokenRow(leaked.id);

    const again = await report({ credentials: [leaked.secret] });

    expect(again.status).toBe(202);
    expect(await tokenRow(leaked.id)).toEqual(first);
    expect(await eventsFor(leaked.id, "token.revoked_leaked")).toHaveLength(1);
  });

  it("leaves tokens that no longer work as they are", async () => {
    const org = await seedOrg();
    const expired = await seedServiceToken(org.orgId, { name: "expired" });
    const idle = await seedServiceToken(org.orgId, { name: "idle" });
    await env.DB.prepare("UPDATE api_tokens SET status = 'expired' WHERE id = ?1").bind(expired.id).run();
    await setDeadline(idle.id, Date.now() - 1);

    await report({ credentials: [expired.secret, idle.secret] });

    expect((await tokenRow(expired.id))!.status).toBe("expired");
    expect((await tokenRow(idle.id))!.status).toBe("active"); // the expiry sweep marks it expired
    expect(await eventsFor(expired.id, "token.revoked_leaked")).toEqual([]);
    expect(await eventsFor(idle.id, "token.revoked_leaked")).toEqual([]);
  });

  it("drops malformed strings without a D1 query", async () => {
    const { db, counts } = countingDb();
    const res = await report({ credentials: ["nope", "pcu_short", "x".repeat(1_000)] }, { env: { DB: db } });
    expect(res.status).toBe(202);
    expect(counts.prepare + counts.batch).toBe(0);
  });

  it("rejects malformed JSON, empty or oversized lists and unknown fields with 400", async () => {
    const bodies: unknown[] = [
      "{not json",
      { credentials: [] },
      { credentials: Array.from({ length: 1_001 }, () => "x") },
      { credentials: ["x"], note: "found on a paste site" },
      { credentials: "pcs_x" },
      [],
    ];
    for (const body of bodies) {
      const res = await report(body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
  });

  it("rejects a non-JSON body with 415 and a body over 64 KiB with 413", async () => {
    const form = await call(`${PREFIX}/credentials/revoke`, { method: "POST", headers: { "content-type": "text/plain" }, body: "pcs_x" });
    expect(form.status).toBe(415);
    const big = await report({ credentials: Array.from({ length: 1_000 }, () => "p".repeat(70)) });
    expect(big.status).toBe(413);
  });

  it("is rate-limited per client IP: 429 with Retry-After, and nothing revoked", async () => {
    const org = await seedOrg();
    const leaked = await seedServiceToken(org.orgId);
    const keys: string[] = [];
    const limiter = {
      limit: async ({ key }: { key: string }) => {
        keys.push(key);
        return { success: false };
      },
    };

    const res = await report(
      { credentials: [leaked.secret] },
      { env: { LEAK_REPORT_LIMITER: limiter as unknown as RateLimit }, headers: { "cf-connecting-ip": "203.0.113.7" } },
    );

    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("60");
    expect(await errorCode(res)).toBe("rate_limited");
    expect(keys).toEqual(["203.0.113.7"]);
    expect((await tokenRow(leaked.id))!.status).toBe("active");
  });

  it("the configured limiter (10 reports a minute per IP, wrangler.toml) refuses the 11th", async () => {
    const statuses = await inOneWindow(async (ip) => {
      const seen: number[] = [];
      for (let i = 0; i < 11; i++) seen.push((await report({ credentials: ["nothing here"] }, { headers: { "cf-connecting-ip": ip } })).status);
      return seen;
    });
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(202));
    expect(statuses[10]).toBe(429);
    // Another client is not affected.
    expect((await report({ credentials: ["nothing here"] })).status).toBe(202);
  });

  it("still accepts reports when the limiter itself fails", async () => {
    const org = await seedOrg();
    const leaked = await seedServiceToken(org.orgId);
    const broken = { limit: async () => Promise.reject(new Error("limiter down")) };

    const res = await report({ credentials: [leaked.secret] }, { env: { LEAK_REPORT_LIMITER: broken as unknown as RateLimit } });

    expect(res.status).toBe(202);
    expect((await tokenRow(leaked.id))!.status).toBe("revoked");
  });
});
