/**
 * The cron's part of the lifecycle signals (SPEC §10): expiry warnings in bounded batches, and
 * the webhook backstop (drain the outbox, re-enqueue deliveries whose queue message was lost).
 */
import { guard } from "../db/client";
import { pruneWarnings, WARNING_WINDOWS, warningCandidates, warningMark, warnTokens } from "../db/expiry-warnings";
import type { WebhookMessage } from "../env";
import { dispatchOutbox, requeueOverdue } from "../signals/dispatch";
import type { JobReport, SweepContext } from "./expiry-sweep";
import type { JobLimits } from "./limits";

export async function warnExpiringTokens(ctx: SweepContext, limits: JobLimits): Promise<JobReport> {
  const report: JobReport = { count: 0, batches: 0, more: false };
  for (const window of WARNING_WINDOWS) {
    let done = false;
    while (!done) {
      if (report.batches >= limits.maxBatches || Date.now() >= ctx.deadline) return { ...report, more: true };
      const mark = await guard(() => warningMark(ctx.db, window.level), { timeoutMs: ctx.dbTimeoutMs, retry: true });
      const found = await guard(() => warningCandidates(ctx.db, window, mark, ctx.now, limits.batchSize), { timeoutMs: ctx.dbTimeoutMs, retry: true });
      report.count += await guard(() => warnTokens(ctx.db, window, found.ids, found.reached, ctx.now), { timeoutMs: ctx.dbTimeoutMs });
      report.batches++;
      done = found.exhausted;
    }
  }
  await guard(() => pruneWarnings(ctx.db, ctx.now, limits.batchSize), { timeoutMs: ctx.dbTimeoutMs });
  return report;
}

export async function webhookBackstop(ctx: SweepContext, queue: Queue<WebhookMessage> | undefined, limits: JobLimits): Promise<JobReport> {
  const report: JobReport = { count: 0, batches: 0, more: false };
  while (report.batches < limits.maxBatches) {
    if (Date.now() >= ctx.deadline) return { ...report, more: true };
    // Deliveries are stamped with the wall clock (the queue consumer's), not the run's clock.
    const pass = await guard(() => dispatchOutbox(ctx.db, queue, Date.now(), limits.batchSize), { timeoutMs: ctx.dbTimeoutMs * 4 });
    report.count += pass.deliveries;
    report.batches++;
    if (pass.events < limits.batchSize) break;
  }
  await guard(() => requeueOverdue(ctx.db, queue, Date.now()), { timeoutMs: ctx.dbTimeoutMs });
  return report;
}
