/**
 * The expiry sweep at scale: 100,000 tokens idle past their window. Proves the batching — each
 * run stops at its batch ceiling, stays under the 1,000-queries-per-invocation limit, and the
 * next run continues — and prints how many runs it took and how long each one lasted (printed,
 * not asserted: speed belongs to benchmarks).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { maxQueries, RUN_LIMITS } from "../../src/cron/limits";
import { seedOrg, seedServiceToken } from "../helpers/seed";
import { bulkTokens, countEvents, countTokens, runCron } from "../helpers/cron";
import { countingDb } from "../helpers/bindings";

const IDLE = 100_000;
const NOT_DUE = 1_000;

describe("expiry sweep at 100,000 tokens", () => {
  it("expires every idle token exactly once over bounded runs", { timeout: 600_000 }, async () => {
    const org = await seedOrg("Scale");
    const owner = await seedServiceToken(org.orgId);
    const now = Date.now();
    const seedStart = Date.now();
    await bulkTokens(org.orgId, owner.serviceUserId, IDLE, { expiresAt: now - 1 });
    await bulkTokens(org.orgId, owner.serviceUserId, NOT_DUE, { expiresAt: now + 86_400_000 + NOT_DUE });
    console.log(`seeded ${IDLE + NOT_DUE} tokens in ${Date.now() - seedStart} ms`);

    const perRun = RUN_LIMITS.idleTokens.batchSize * RUN_LIMITS.idleTokens.maxBatches;
    const runs: { run: number; expired: number; batches: number; queries: number; ms: number }[] = [];
    for (let run = 1; run <= 10; run++) {
      const { db, counts } = countingDb(env.DB);
      const started = performance.now();
      // Production ceilings, but no wall-clock cut-off: on a busy test machine the deadline could
      // end a run early, and this test is about the batch ceiling (the deadline has its own test).
      const report = await runCron(now + (run - 1) * 5 * 60_000, { DB: db }, { ...RUN_LIMITS, timeBudgetMs: 600_000 });
      const ms = Math.round(performance.now() - started);
      runs.push({ run, expired: report.idleTokens!.count, batches: report.idleTokens!.batches, queries: counts.prepare, ms });
      console.log(
        `run ${run}: expired ${report.idleTokens!.count} tokens in ${report.idleTokens!.batches} batches, ${counts.prepare} D1 statements (${counts.batch} batches), ${ms} ms`,
      );
      expect(counts.prepare).toBeLessThanOrEqual(maxQueries(RUN_LIMITS));
      if (!report.idleTokens!.more) break;
    }
    console.log(`100,000-token sweep: ${runs.length} runs, ${runs.reduce((s, r) => s + r.batches, 0)} batches, ${runs.reduce((s, r) => s + r.ms, 0)} ms in total`);

    // Each run stops at its ceiling; the backlog drains in ceil(100,000 / 50,000) runs plus one that finds nothing.
    expect(runs.map((r) => r.expired)).toEqual([perRun, perRun, 0]);
    expect(runs.map((r) => r.batches)).toEqual([RUN_LIMITS.idleTokens.maxBatches, RUN_LIMITS.idleTokens.maxBatches, 0]);
    expect(maxQueries(RUN_LIMITS)).toBeLessThan(1_000);
    expect(await countTokens(org.orgId, "expired")).toBe(IDLE);
    expect(await countTokens(org.orgId, "active")).toBe(NOT_DUE + 1);
    expect(await countEvents(org.orgId, "token.expired")).toBe(IDLE);
    const distinct = await env.DB.prepare("SELECT count(DISTINCT target_id) AS n FROM activity_events WHERE org_id = ?1 AND type = 'token.expired'")
      .bind(org.orgId)
      .first<{ n: number }>();
    expect(distinct!.n).toBe(IDLE);
  });
});
