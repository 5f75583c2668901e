/**
 * Cron entry point (SPEC §6, §10): the expiry sweep, the inactive-member sweep, activity
 * retention, expiry warnings and the webhook backstop, in that order, each bounded (cron/limits.ts). The clock is the trigger's
 * `scheduledTime`, so a delayed or retried run judges deadlines as of when it was due.
 *
 * A job that fails (D1 unavailable) does not stop the others; the invocation still ends in an
 * error so the failure shows in the Worker's logs and metrics, and the next run resumes.
 */
import { getConfig } from "../config";
import { orm } from "../db/client";
import type { Env } from "../env";
import { expireIdleTokens, expireTokensOfInactiveMembers, type JobReport, type SweepContext } from "./expiry-sweep";
import { RUN_LIMITS, type RunLimits } from "./limits";
import { pruneOldActivity } from "./retention";
import { warnExpiringTokens, webhookBackstop } from "./signals";

export interface CronReport {
  scheduledTime: number;
  idleTokens: JobReport | null;
  inactiveMembers: JobReport | null;
  retention: JobReport | null;
  expiryWarnings: JobReport | null;
  webhooks: JobReport | null;
  failures: string[];
}

export async function runScheduled(
  controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
  limits: RunLimits = RUN_LIMITS,
): Promise<CronReport> {
  void ctx;
  const config = getConfig(env);
  const sweep: SweepContext = {
    db: orm(env.DB),
    now: controller.scheduledTime,
    deadline: Date.now() + limits.timeBudgetMs,
    dbTimeoutMs: config.dbTimeoutMs,
  };
  const report: CronReport = { scheduledTime: sweep.now, idleTokens: null, inactiveMembers: null, retention: null, expiryWarnings: null, webhooks: null, failures: [] };
  const run = async <K extends "idleTokens" | "inactiveMembers" | "retention" | "expiryWarnings" | "webhooks">(job: K, work: () => Promise<JobReport>) => {
    try {
      report[job] = await work();
    } catch (err) {
      // D1 messages carry no secrets; the job's completed batches are already committed.
      report.failures.push(`${job}: ${err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}` : String(err)}`);
    }
  };
  await run("idleTokens", () => expireIdleTokens(sweep, limits.idleTokens));
  await run("inactiveMembers", () => expireTokensOfInactiveMembers(sweep, limits.inactiveMembers));
  await run("retention", () => pruneOldActivity(sweep, limits.retention, config.activityRetentionDays));
  await run("expiryWarnings", () => warnExpiringTokens(sweep, limits.expiryWarnings));
  // Last: it sends what the jobs above recorded (token.expired, token.expiring).
  await run("webhooks", () => webhookBackstop(sweep, env.WEBHOOK_QUEUE, limits.webhooks));
  console.log(`portcullis cron: ${JSON.stringify(report)}`);
  if (report.failures.length > 0) throw new Error(`portcullis cron: ${report.failures.length} job(s) failed: ${report.failures.join("; ")}`);
  return report;
}
