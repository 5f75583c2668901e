/**
 * The expiry sweep (SPEC §6): tokens idle past their window become `expired`, with one
 * `token.expired` event each, so lists and limits show the truth even for tokens nobody calls.
 * A second pass ends user tokens of members who are no longer active, should any remain.
 */
import { guard, type Orm } from "../db/client";
import { expireTokens, idleTokenIds, inactiveMemberTokenIds, type ExpiryReason } from "../db/sweep";
import type { JobLimits } from "./limits";

export interface SweepContext {
  db: Orm;
  /** The run's clock: the cron's scheduled time. */
  now: number;
  deadline: number;
  dbTimeoutMs: number;
}

export interface JobReport {
  /** Rows changed (tokens expired or events deleted). */
  count: number;
  batches: number;
  /** True when the job stopped at its batch ceiling or the deadline with work possibly left. */
  more: boolean;
}

async function sweep(
  ctx: SweepContext,
  limits: JobLimits,
  reason: ExpiryReason,
  candidates: (limit: number) => Promise<string[]>,
): Promise<JobReport> {
  const report: JobReport = { count: 0, batches: 0, more: false };
  while (report.batches < limits.maxBatches) {
    if (Date.now() >= ctx.deadline) return { ...report, more: true };
    const ids = await guard(() => candidates(limits.batchSize), { timeoutMs: ctx.dbTimeoutMs, retry: true });
    if (ids.length === 0) return report;
    report.count += await guard(() => expireTokens(ctx.db, ids, reason, ctx.now), { timeoutMs: ctx.dbTimeoutMs });
    report.batches++;
    if (ids.length < limits.batchSize) return report;
  }
  return { ...report, more: true };
}

export function expireIdleTokens(ctx: SweepContext, limits: JobLimits): Promise<JobReport> {
  return sweep(ctx, limits, "inactivity", (limit) => idleTokenIds(ctx.db, ctx.now, limit));
}

export function expireTokensOfInactiveMembers(ctx: SweepContext, limits: JobLimits): Promise<JobReport> {
  return sweep(ctx, limits, "member_inactive", (limit) => inactiveMemberTokenIds(ctx.db, limit));
}
