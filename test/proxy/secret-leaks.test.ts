/**
 * No secret anywhere it could leak from (issue 6 §18): not in D1 (any table, any column), not
 * in the logs, not in any response but the one that creates it, not in the activity log.
 * One run exercises successes and every kind of failure while all console output is captured.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bearer, call, marker, PREFIX } from "../helpers/worker";
import { adminSession, seedOrg, seedUser, seedUserToken } from "../helpers/seed";
import { failingDb, fakeLimiter, writeFailingDb } from "../helpers/bindings";
import { setTokenStatus } from "../helpers/token-state";
import { captureConsole, expectNoSecret } from "../helpers/leaks";
import { everythingStored } from "../helpers/records";

afterEach(() => vi.restoreAllMocks());

describe("secrets never leak", () => {
  it("through D1, logs, responses or the activity log, across successes and failures", async () => {
    const logged = captureConsole();
    const responses: string[] = [];
    const record = async (res: Response) => {
      responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
      return res;
    };

    // Secrets made through the management API (shown once, in the 201 and the regenerate response).
    const org = await seedOrg();
    const admin = await adminSession(org);
    const created = await call(`${PREFIX}/service-tokens`, {
      method: "POST",
      headers: bearer(admin, { "content-type": "application/json" }),
      body: JSON.stringify({ name: "Leaky integration" }),
    });
    expect(created.status).toBe(201);
    const service = (await created.json()) as { id: string; token: string };
    await record(await call(`${PREFIX}/service-tokens/${service.id}/revoke`, { method: "POST", headers: bearer(admin) }));
    const regenerated = await call(`${PREFIX}/service-tokens/${service.id}/regenerate`, { method: "POST", headers: bearer(admin) });
    expect(regenerated.status).toBe(200);
    const fresh = ((await regenerated.json()) as { token: string }).token;
    const user = await seedUser(org.orgId, { name: "Casey" });
    const userToken = await seedUserToken(org.orgId, user.id);
    const secrets = [service.token, fresh, userToken.secret];

    // Successes: proxy (first use writes an event) and management reads.
    await record(await call(`/any/${marker()}`, { headers: bearer(fresh) }));
    await record(await call(`/any/${marker()}`, { headers: bearer(userToken.secret) }));
    await record(await call(`${PREFIX}/service-tokens`, { headers: bearer(admin) }));
    await record(await call(`${PREFIX}/service-tokens/${service.id}`, { headers: bearer(admin) }));
    await record(await call(`${PREFIX}/me/api-tokens`, { headers: bearer(userToken.secret) }));
    await record(await call(`${PREFIX}/activity-log`, { headers: bearer(admin) }));

    // Failures of every kind, each carrying a secret or a near-copy of one.
    const nearMiss = fresh.slice(0, -1) + (fresh.endsWith("0") ? "1" : "0");
    await record(await call(`/any/${marker()}`, { headers: bearer(service.token) })); // the old, dead secret
    await record(await call(`/any/${marker()}`, { headers: bearer(nearMiss) })); // bad checksum
    await record(await call(`/any/${marker()}`, { headers: { authorization: `Bearer ${fresh}, Bearer ${fresh}` } }));
    await record(await call(`/any/${marker()}?access_token=${fresh}`));
    await record(await call(`/any/${marker()}`, { headers: { authorization: `Basic ${fresh}` } }));
    await record(await call(`/inspections/${marker()}`, { method: "DELETE", headers: bearer(userToken.secret) })); // 403
    await record(await call(`/any/${marker()}`, { headers: bearer(fresh), env: { DB: failingDb().db } })); // 503
    await record(await call(`/any/${marker()}`, { headers: bearer(fresh), env: { DB: failingDb("x", "hang").db, DB_TIMEOUT_MS: "50" } }));
    await record(await call(`/any/${marker()}`, { headers: bearer(fresh), env: { UPSTREAM_URL: "http://127.0.0.1:1" } })); // 502
    await record(await call(`/__slow/2000/${marker()}`, { headers: bearer(fresh), env: { UPSTREAM_TIMEOUT_MS: "100" } })); // 504
    const other = await seedUser(org.orgId, { name: "Robin" });
    const otherToken = await seedUserToken(org.orgId, other.id);
    secrets.push(otherToken.secret);
    await record(await call(`/any/${marker()}`, { headers: bearer(otherToken.secret), env: { DB: writeFailingDb().db } })); // write fails
    const limited = fakeLimiter(() => false).limiter;
    await record(await call(`/any/${marker()}`, { headers: bearer(nearMiss), env: { AUTH_FAILURE_LIMITER: limited } })); // 429
    await record(await call(`${PREFIX}/me`, { headers: bearer(nearMiss) }));
    await record(
      await call(`${PREFIX}/introspect`, {
        method: "POST",
        headers: bearer(admin, { "content-type": "application/x-www-form-urlencoded" }),
        body: `token=${fresh}`,
      }),
    );
    await setTokenStatus(userToken.id, "revoked");
    await record(await call(`/any/${marker()}`, { headers: bearer(userToken.secret) }));

    const statuses = responses.map((r) => Number(r.slice(0, 3)));
    expect(statuses).toEqual(expect.arrayContaining([200, 400, 401, 403, 429, 502, 503, 504]));
    expectNoSecret(responses.join("\n"), secrets, "a response", 16);
    expect(logged.length).toBeGreaterThan(0);
    expectNoSecret(logged.join("\n"), secrets, "the log", 16);
    const d1 = await everythingStored();
    expect(d1).toContain("token.first_used");
    expectNoSecret(d1, secrets, "D1", 16);
    const { results: events } = await env.DB.prepare("SELECT * FROM activity_events WHERE org_id = ?1").bind(org.orgId).all();
    expect(events.length).toBeGreaterThan(3);
    expectNoSecret(JSON.stringify(events), secrets, "the activity log", 16);
  });

  it("the only stored trace of a secret is its digest and a hint of prefix + last four", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId);
    const token = await seedUserToken(org.orgId, user.id);
    const row = await env.DB.prepare("SELECT digest, hint FROM api_tokens WHERE id = ?1").bind(token.id).first<{ digest: string; hint: string }>();
    expect(row!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.hint).toBe(`pcu_…${token.secret.slice(-4)}`);
  });
});
