import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RUN_LIMITS } from "../../src/cron/limits";
import { seedOrg } from "../helpers/seed";
import { bulkEvents, runCron } from "../helpers/cron";

const DAY_MS = 86_400_000;

async function eventTimes(orgId: string): Promise<number[]> {
  const { results } = await env.DB.prepare("SELECT occurred_at FROM activity_events WHERE org_id = ?1 ORDER BY occurred_at")
    .bind(orgId)
    .all<{ occurred_at: number }>();
  return results.map((r) => r.occurred_at);
}

describe("activity retention (SPEC §6)", () => {
  it("deletes events older than 400 days by default and keeps younger ones", async () => {
    const org = await seedOrg();
    const now = Date.now();
    const cutoff = now - 400 * DAY_MS;
    await bulkEvents(org.orgId, 3, cutoff); // cutoff - 1 … cutoff - 3: too old
    await bulkEvents(org.orgId, 2, cutoff + 3); // cutoff + 2, cutoff + 1: still kept

    const report = await runCron(now);

    expect(report.retention!.count).toBeGreaterThanOrEqual(3);
    const left = await eventTimes(org.orgId);
    expect(left.filter((t) => t < cutoff)).toEqual([]);
    expect(left).toEqual(expect.arrayContaining([cutoff + 1, cutoff + 2]));
  });

  it("honours ACTIVITY_RETENTION_DAYS", async () => {
    const org = await seedOrg();
    const now = Date.now();
    await bulkEvents(org.orgId, 1, now - 31 * DAY_MS);
    await bulkEvents(org.orgId, 1, now - 29 * DAY_MS);

    await runCron(now, { ACTIVITY_RETENTION_DAYS: "30" });

    const left = await eventTimes(org.orgId);
    expect(left.some((t) => t < now - 30 * DAY_MS)).toBe(false);
    expect(left.some((t) => t > now - 30 * DAY_MS && t < now - 28 * DAY_MS)).toBe(true);
  });

  it("deletes in bounded batches and finishes a backlog over several runs", async () => {
    const org = await seedOrg();
    const now = Date.now();
    const perRun = RUN_LIMITS.retention.batchSize * RUN_LIMITS.retention.maxBatches;
    const backlog = perRun + 2_500;
    await bulkEvents(org.orgId, backlog, now - 500 * DAY_MS);

    const first = await runCron(now);
    expect(first.retention).toEqual({ count: perRun, batches: RUN_LIMITS.retention.maxBatches, more: true });
    const second = await runCron(now);
    expect(second.retention).toEqual({ count: 2_500, batches: 3, more: false });
    expect((await eventTimes(org.orgId)).filter((t) => t < now - 400 * DAY_MS)).toEqual([]);
  });
});
