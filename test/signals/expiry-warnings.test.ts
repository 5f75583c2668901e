/**
 * SPEC §10 expiry warnings: `token.expiring` when the idle deadline is less than 7 days away and
 * again at less than 1 day, once each per deadline, re-armed by a use; bounded, index-driven.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RUN_LIMITS } from "../../src/cron/limits";
import { warnExpiringTokens } from "../../src/cron/signals";
import { DAY_MS } from "../../src/domain/tokens";
import { attemptDelivery } from "../../src/signals/deliver";
import { db, seedServiceToken } from "../helpers/seed";
import { bulkTokens, runCron } from "../helpers/cron";
import { OPTIONS, received, receiverEndpoint, signalsOrg } from "./support";
import { setDeadline } from "../helpers/token-state";

async function warnings(tokenId: string) {
  const { results } = await env.DB.prepare(
    "SELECT json_extract(details, '$.level') AS level, json_extract(details, '$.expires_at') AS expires_at, occurred_at FROM activity_events WHERE target_id = ?1 AND type = 'token.expiring' ORDER BY id",
  )
    .bind(tokenId)
    .all<{ level: string; expires_at: string; occurred_at: number }>();
  return results;
}

function run(now: number) {
  return warnExpiringTokens({ db: db(), now, deadline: Date.now() + 60_000, dbTimeoutMs: 5_000 }, RUN_LIMITS.expiryWarnings);
}

/**
 * Each test works on its own clock far from the others' (the scan marks are global), moving
 * forward only, as the cron's clock does.
 */
let clock = Date.now() + 400 * DAY_MS;
const nextClock = () => (clock += 40 * DAY_MS);

describe("token.expiring", () => {
  it("warns at less than 7 days and at less than 1 day, not at exactly those distances", async () => {
    const org = await signalsOrg();
    const now = nextClock();
    const seven = await seedServiceToken(org.orgId, { name: "seven" });
    const justUnderSeven = await seedServiceToken(org.orgId, { name: "under seven" });
    const one = await seedServiceToken(org.orgId, { name: "one" });
    const justUnderOne = await seedServiceToken(org.orgId, { name: "under one" });
    await setDeadline(seven.id, now + 7 * DAY_MS);
    await setDeadline(justUnderSeven.id, now + 7 * DAY_MS - 1);
    await setDeadline(one.id, now + DAY_MS);
    await setDeadline(justUnderOne.id, now + DAY_MS - 1);
    await run(now);
    expect(await warnings(seven.id)).toEqual([]);
    expect((await warnings(justUnderSeven.id)).map((w) => w.level)).toEqual(["7d"]);
    // Exactly one day away is still inside the 7-day window, not yet the 1-day one.
    expect((await warnings(one.id)).map((w) => w.level)).toEqual(["7d"]);
    // First seen inside one day: only the 1-day warning.
    expect((await warnings(justUnderOne.id)).map((w) => w.level)).toEqual(["1d"]);
    expect(await warnings(justUnderOne.id)).toEqual([{ level: "1d", expires_at: new Date(now + DAY_MS - 1).toISOString(), occurred_at: now }]);
  });

  it("warns once per level per deadline across runs, then once more inside the last day", async () => {
    const org = await signalsOrg();
    const now = nextClock();
    const token = await seedServiceToken(org.orgId);
    const deadline = now + 3 * DAY_MS;
    await setDeadline(token.id, deadline);
    await run(now);
    await run(now + 5 * 60_000);
    await run(now + DAY_MS);
    expect((await warnings(token.id)).map((w) => w.level)).toEqual(["7d"]);
    await run(deadline - DAY_MS + 1);
    await run(deadline - DAY_MS + 5 * 60_000);
    await run(deadline - 60_000);
    expect((await warnings(token.id)).map((w) => w.level)).toEqual(["7d", "1d"]);
  });

  it("a use moves the deadline and re-arms both warnings", async () => {
    const org = await signalsOrg();
    const now = nextClock();
    const token = await seedServiceToken(org.orgId);
    await setDeadline(token.id, now + 12 * 3_600_000);
    await run(now);
    expect((await warnings(token.id)).map((w) => w.level)).toEqual(["1d"]);
    // A recorded use restarts the idle clock: the deadline is 45 days out again.
    const used = now + 3_600_000;
    const newDeadline = used + 45 * DAY_MS;
    await setDeadline(token.id, newDeadline);
    await run(used);
    expect(await warnings(token.id)).toHaveLength(1);
    await run(newDeadline - 6 * DAY_MS);
    await run(newDeadline - 12 * 3_600_000);
    expect((await warnings(token.id)).map((w) => [w.level, w.expires_at])).toEqual([
      ["1d", new Date(now + 12 * 3_600_000).toISOString()],
      ["7d", new Date(newDeadline).toISOString()],
      ["1d", new Date(newDeadline).toISOString()],
    ]);
  });

  it("does not warn revoked or expired tokens", async () => {
    const org = await signalsOrg();
    const now = nextClock();
    const token = await seedServiceToken(org.orgId);
    await setDeadline(token.id, now + 2 * DAY_MS);
    await env.DB.prepare("UPDATE api_tokens SET status = 'revoked' WHERE id = ?1").bind(token.id).run();
    await run(now);
    expect(await warnings(token.id)).toEqual([]);
  });

  it("is sent as a webhook with the deadline, from the cron", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["token.expiring"] });
    const now = nextClock();
    const token = await seedServiceToken(org.orgId, { name: "Monthly report" });
    await setDeadline(token.id, now + 5 * DAY_MS);
    await runCron(now, org.env);
    for (const id of org.queue.take()) await attemptDelivery(db(), id, Date.now(), OPTIONS);
    const got = await received(endpoint);
    expect(got.map((r) => [r.verified, r.payload])).toEqual([
      [
        true,
        {
          type: "token.expiring",
          timestamp: new Date(now).toISOString(),
          data: {
            org_id: org.orgId,
            token_id: token.id,
            token_kind: "service_user",
            name: "Monthly report",
            hint: expect.stringMatching(/^pcs_…/),
            expires_at: new Date(now + 5 * DAY_MS).toISOString(),
          },
        },
      ],
    ]);
  });

  it("works in bounded batches that resume where they stopped", async () => {
    const org = await signalsOrg();
    const owner = await seedServiceToken(org.orgId);
    const now = nextClock();
    await bulkTokens(org.orgId, owner.serviceUserId, 1_200, { expiresAt: now + 3 * DAY_MS });
    const limits = { batchSize: 500, maxBatches: 2, queriesPerBatch: 6 };
    const first = await warnExpiringTokens({ db: db(), now, deadline: Date.now() + 60_000, dbTimeoutMs: 5_000 }, limits);
    expect(first).toEqual({ count: 500, batches: 2, more: true });
    const second = await warnExpiringTokens({ db: db(), now: now + 60_000, deadline: Date.now() + 60_000, dbTimeoutMs: 5_000 }, limits);
    const third = await warnExpiringTokens({ db: db(), now: now + 120_000, deadline: Date.now() + 60_000, dbTimeoutMs: 5_000 }, limits);
    expect(first.count + second.count + third.count).toBe(1_200);
    const total = await env.DB.prepare("SELECT count(*) AS n, count(DISTINCT target_id) AS d FROM activity_events WHERE org_id = ?1 AND type = 'token.expiring'")
      .bind(org.orgId)
      .first<{ n: number; d: number }>();
    expect(total).toEqual({ n: 1_200, d: 1_200 });
  });

  it("reads candidates through the expiry index, never a scan of every token", async () => {
    const { results } = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT id, expires_at AS expiresAt FROM api_tokens WHERE status = 'active' AND expires_at >= ?1 AND expires_at < ?2 ORDER BY expires_at LIMIT ?3",
    )
      .bind(1, 2, 3)
      .all<{ detail: string }>();
    expect(results.map((r) => r.detail).join("; ")).toMatch(/SEARCH api_tokens USING (COVERING )?INDEX api_tokens_expiry_idx \(status=\? AND expires_at>\? AND expires_at<\?\)/);
  });
});
