/**
 * Activity retention (SPEC §6): events older than ACTIVITY_RETENTION_DAYS are deleted, oldest
 * first, a bounded number per run.
 */
import { guard } from "../db/client";
import { pruneActivity } from "../db/sweep";
import { DAY_MS } from "../domain/tokens";
import type { JobReport, SweepContext } from "./expiry-sweep";
import type { JobLimits } from "./limits";

export async function pruneOldActivity(ctx: SweepContext, limits: JobLimits, retentionDays: number): Promise<JobReport> {
  const cutoff = ctx.now - retentionDays * DAY_MS;
  const report: JobReport = { count: 0, batches: 0, more: false };
  while (report.batches < limits.maxBatches) {
    if (Date.now() >= ctx.deadline) return { ...report, more: true };
    const deleted = await guard(() => pruneActivity(ctx.db, cutoff, limits.batchSize), { timeoutMs: ctx.dbTimeoutMs });
    report.batches++;
    report.count += deleted;
    if (deleted < limits.batchSize) return report;
  }
  return { ...report, more: true };
}
