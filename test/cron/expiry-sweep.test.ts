import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { RUN_LIMITS } from "../../src/cron/limits";
import { bearer, call } from "../helpers/worker";
import { seedOrg, seedServiceToken, seedUser, seedUserToken } from "../helpers/seed";
import { bulkTokens, countEvents, countTokens, runCron } from "../helpers/cron";
import { eventsFor, tokenRow } from "../helpers/records";
import { setDeadline } from "../helpers/token-state";

/** A D1 binding whose `batch` fails from the `failAt`-th call on, as a run dying mid-way would. */
function dyingDb(failAt: number): D1Database {
  let batches = 0;
  return new Proxy(env.DB, {
    get(target, prop, receiver) {
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          batches++;
          if (batches >= failAt) return Promise.reject(new Error("D1_ERROR: Network connection lost."));
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("expiry sweep (SPEC §6)", () => {
  it("marks a token idle past its window expired, with one token.expired event by the system", async () => {
    const org = await seedOrg();
    const idle = await seedServiceToken(org.orgId, { name: "Nightly export" });
    const fresh = await seedServiceToken(org.orgId, { name: "Still in use" });
    const now = Date.now();
    await setDeadline(idle.id, now - 1);

    const controller = createScheduledController({ scheduledTime: now, cron: "*/5 * * * *" });
    const ctx = createExecutionContext();
    await worker.scheduled!(controller, env as Env, ctx);
    await waitOnExecutionContext(ctx);

    expect(await tokenRow(idle.id)).toMatchObject({ status: "expired", expiredAt: now, updatedAt: now });
    expect((await tokenRow(fresh.id))!.status).toBe("active");
    const [event, ...more] = await eventsFor(idle.id, "token.expired");
    expect(more).toEqual([]);
    expect(event).toMatchObject({ actorId: null, actorType: "system", actorName: "Portcullis", targetType: "api_token", targetName: "Nightly export", occurredAt: now });
    expect(JSON.parse(event!.details!)).toEqual({ kind: "service_user", hint: expect.stringMatching(/^pcs_/), reason: "inactivity", inactivity_days: 45 });
    expect(await eventsFor(fresh.id, "token.expired")).toEqual([]);
  });

  it("judges deadlines by the trigger's scheduledTime: a deadline equal to it has passed", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const deadline = Date.now() + 10 * 60_000;
    await setDeadline(token.id, deadline);

    await runCron(deadline - 1);
    expect((await tokenRow(token.id))!.status).toBe("active");

    await runCron(deadline);
    expect((await tokenRow(token.id))!.status).toBe("expired");
  });

  it("an expired token is refused by the proxy with the inactivity description", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId, { inactivityDays: 60 });
    const now = Date.now();
    await setDeadline(token.id, now - 1);
    await runCron(now);

    const res = await call("/inspections/1", { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error_description="token expired after 60 days of inactivity"');
  });

  it("leaves revoked, deleted and already expired tokens alone", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await bulkTokens(org.orgId, token.serviceUserId, 3, { expiresAt: now - 1, status: "revoked" });
    await bulkTokens(org.orgId, token.serviceUserId, 3, { expiresAt: now - 1, status: "deleted" });
    await bulkTokens(org.orgId, token.serviceUserId, 3, { expiresAt: now - 1, status: "expired" });

    await runCron(now);

    expect(await countTokens(org.orgId, "revoked")).toBe(3);
    expect(await countTokens(org.orgId, "deleted")).toBe(3);
    expect(await countTokens(org.orgId, "expired")).toBe(3);
    expect(await countEvents(org.orgId, "token.expired")).toBe(0);
  });

  it("a second run adds no second event", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await setDeadline(token.id, now - 1);

    await runCron(now);
    await runCron(now + 5 * 60_000);

    expect(await eventsFor(token.id, "token.expired")).toHaveLength(1);
    expect(await tokenRow(token.id)).toMatchObject({ status: "expired", expiredAt: now });
  });

  it("two runs at once expire every token exactly once (no doubled events)", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await bulkTokens(org.orgId, token.serviceUserId, 1_200, { expiresAt: now - 1 });

    const [a, b] = await Promise.all([runCron(now), runCron(now)]);

    expect(await countTokens(org.orgId, "active")).toBe(1); // the seeded token, not past its deadline
    expect(await countTokens(org.orgId, "expired")).toBe(1_200);
    expect(await countEvents(org.orgId, "token.expired")).toBe(1_200);
    expect(a.idleTokens!.count + b.idleTokens!.count).toBeGreaterThanOrEqual(1_200);
    const { results } = await env.DB.prepare(
      "SELECT target_id FROM activity_events WHERE org_id = ?1 AND type = 'token.expired' GROUP BY target_id HAVING count(*) > 1",
    )
      .bind(org.orgId)
      .all();
    expect(results).toEqual([]);
  });

  it("a run that dies mid-way loses nothing, and the next run finishes", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await bulkTokens(org.orgId, token.serviceUserId, 1_200, { expiresAt: now - 1 });

    // The second write batch fails: the first is committed, the second wrote nothing.
    await expect(runCron(now, { DB: dyingDb(2) })).rejects.toThrow(/idleTokens/);
    const expiredAfterCrash = await countTokens(org.orgId, "expired");
    expect(expiredAfterCrash).toBe(RUN_LIMITS.idleTokens.batchSize);
    expect(await countEvents(org.orgId, "token.expired")).toBe(expiredAfterCrash);

    const report = await runCron(now);
    expect(report.failures).toEqual([]);
    expect(await countTokens(org.orgId, "expired")).toBe(1_200);
    expect(await countEvents(org.orgId, "token.expired")).toBe(1_200);
  });

  it("a D1 outage fails the run after trying every job, and writes nothing", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await setDeadline(token.id, now - 1);

    const failing = dyingDb(1);
    const broken = new Proxy(failing, {
      get(target, prop, receiver) {
        if (prop === "prepare") {
          return () => {
            throw new Error("D1_ERROR: D1 DB is overloaded.");
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    await expect(runCron(now, { DB: broken })).rejects.toThrow(/5 job\(s\) failed/);
    expect((await tokenRow(token.id))!.status).toBe("active");
    expect(await eventsFor(token.id, "token.expired")).toEqual([]);

    await runCron(now);
    expect((await tokenRow(token.id))!.status).toBe("expired");
  });

  it("starts no batch once the run's time budget is spent, and says there is more", async () => {
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    const now = Date.now();
    await setDeadline(token.id, now - 1);

    const report = await runCron(now, {}, { ...RUN_LIMITS, timeBudgetMs: 0 });
    expect(report.idleTokens).toEqual({ count: 0, batches: 0, more: true });
    expect((await tokenRow(token.id))!.status).toBe("active");

    await runCron(now);
    expect((await tokenRow(token.id))!.status).toBe("expired");
  });
});

describe("query plans at scale", () => {
  /** Every statement a run executes (with its parameters), then SQLite's plan for it. */
  async function plansOfOneRun(): Promise<{ sql: string; plan: string[] }[]> {
    const prepared = new Map<string, unknown[]>();
    const recording = new Proxy(env.DB, {
      get(target, prop, receiver) {
        if (prop === "prepare") {
          return (sql: string) => {
            const stmt = target.prepare(sql);
            prepared.set(sql, []);
            return new Proxy(stmt, {
              get(s, p, r) {
                if (p === "bind") {
                  return (...params: unknown[]) => {
                    prepared.set(sql, params);
                    return s.bind(...params);
                  };
                }
                const value = Reflect.get(s, p, r);
                return typeof value === "function" ? value.bind(s) : value;
              },
            });
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const org = await seedOrg();
    const token = await seedServiceToken(org.orgId);
    await setDeadline(token.id, Date.now() - 1);
    await runCron(Date.now(), { DB: recording });
    const out = [];
    for (const [sql, params] of prepared) {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
      out.push({ sql, plan: results.map((r) => r.detail) });
    }
    return out;
  }

  it("writes look tokens up by id, never by scanning the backlog of idle tokens", async () => {
    const plans = await plansOfOneRun();
    const writes = plans.filter((p) => /^\s*(INSERT INTO activity_events|UPDATE api_tokens)/.test(p.sql));
    expect(writes.length).toBeGreaterThanOrEqual(2);
    for (const { plan } of writes) {
      expect(plan.join(" | ")).toMatch(/SEARCH api_tokens USING INDEX sqlite_autoindex_api_tokens_1 \(id=\?\)/);
      expect(plan.join(" | ")).not.toMatch(/api_tokens_expiry_idx|SCAN api_tokens/);
    }
  });

  it("reads candidates through an index range, and members drive the inactive-member lookup", async () => {
    const plans = await plansOfOneRun();
    const idle = plans.find((p) => /FROM api_tokens WHERE status = 'active' AND expires_at <=/.test(p.sql))!;
    expect(idle.plan.join(" | ")).toMatch(/SEARCH api_tokens USING INDEX api_tokens_expiry_idx \(status=\? AND expires_at<\?\)/);
    const members = plans.find((p) => /FROM users u CROSS JOIN api_tokens/.test(p.sql))!;
    // Only inactive members are read: the partial index users_inactive_idx holds just those rows.
    expect(members.plan).toEqual([expect.stringMatching(/^SCAN u USING (COVERING )?INDEX users_inactive_idx/), expect.stringMatching(/SEARCH t USING INDEX api_tokens_user_idx \(user_id=\? AND status=\?\)/)]);
    const retention = plans.find((p) => /^\s*DELETE FROM activity_events/.test(p.sql))!;
    expect(retention.plan.join(" | ")).toMatch(/COVERING INDEX activity_events_occurred_idx/);
  });
});

describe("inactive-member sweep", () => {
  it("ends user tokens that are still active although their member was deactivated", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId, { name: "Riley Former" });
    const token = await seedUserToken(org.orgId, user.id, "laptop");
    const other = await seedUser(org.orgId, { name: "Sam Current" });
    const kept = await seedUserToken(org.orgId, other.id);
    // Bypasses setMemberStatus on purpose: the sweep is the safety net for such rows.
    await env.DB.prepare("UPDATE users SET status = 'deactivated' WHERE id = ?1").bind(user.id).run();
    const now = Date.now();

    const report = await runCron(now);

    expect(report.inactiveMembers!.count).toBeGreaterThanOrEqual(1);
    expect(await tokenRow(token.id)).toMatchObject({ status: "expired", expiredAt: now });
    expect((await tokenRow(kept.id))!.status).toBe("active");
    const [event] = await eventsFor(token.id, "token.expired");
    expect(event).toMatchObject({ actorType: "system", targetName: "laptop" });
    expect(JSON.parse(event!.details!)).toMatchObject({ kind: "user", reason: "member_inactive" });

    const res = await call("/inspections/1", { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("ends tokens of removed members too, and a second run adds nothing", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId);
    const token = await seedUserToken(org.orgId, user.id);
    await env.DB.prepare("UPDATE users SET status = 'removed' WHERE id = ?1").bind(user.id).run();

    await runCron(Date.now());
    await runCron(Date.now());

    expect((await tokenRow(token.id))!.status).toBe("expired");
    expect(await eventsFor(token.id, "token.expired")).toHaveLength(1);
  });
});
