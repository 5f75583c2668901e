/**
 * Fast fixtures for the scheduled jobs: thousands of token rows or activity events inserted by
 * one statement (a recursive CTE), and a scheduled run with a clock the test chooses.
 */
import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { runScheduled, type CronReport } from "../../src/cron";
import type { Env } from "../../src/env";

/** Runs the cron jobs as the trigger would at `scheduledTime`. */
export function runCron(scheduledTime: number, overrides: Partial<Env> = {}, limits?: Parameters<typeof runScheduled>[3]): Promise<CronReport> {
  const controller = createScheduledController({ scheduledTime, cron: "*/5 * * * *" });
  return runScheduled(controller, { ...env, ...overrides } as Env, createExecutionContext(), limits);
}

function tag(): string {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let out = "";
  for (const b of crypto.getRandomValues(new Uint8Array(10))) out += alphabet[b % 32];
  return out;
}

/**
 * Inserts `count` service-user token rows for `serviceUserId` in one statement. Token i gets
 * the deadline `expiresAt - i`, so the batch order (earliest deadline first) is well defined.
 */
export async function bulkTokens(
  orgId: string,
  serviceUserId: string,
  count: number,
  options: { expiresAt: number; status?: "active" | "revoked" | "expired" | "deleted" },
): Promise<void> {
  const t = tag();
  const created = options.expiresAt - 45 * 86_400_000;
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status,
       inactivity_days, created_at, updated_at, last_used_at, last_active_at, expires_at)
     SELECT 'tok_' || ?2 || printf('%016d', i), ?3, 'service_user', NULL, ?4, 'bulk ' || i,
       lower(hex(randomblob(32))), 'pcs_…' || printf('%04d', i % 10000), ?5, 45, ?6, ?6, NULL, ?6, ?7 - i
     FROM n`,
  )
    .bind(count, t, orgId, serviceUserId, options.status ?? "active", created, options.expiresAt)
    .run();
}

/** Inserts `count` activity events for `orgId` that occurred at `occurredAt - i`. */
export async function bulkEvents(orgId: string, count: number, occurredAt: number, type = "token.first_used"): Promise<void> {
  const t = tag();
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO activity_events (id, org_id, occurred_at, type, actor_id, actor_type, actor_name, target_type, target_id, target_name, details)
     SELECT 'evt_' || ?2 || printf('%016d', i), ?3, ?4 - i, ?5, NULL, 'system', 'Portcullis', NULL, NULL, NULL, NULL FROM n`,
  )
    .bind(count, t, orgId, occurredAt, type)
    .run();
}

export async function countTokens(orgId: string, status: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM api_tokens WHERE org_id = ?1 AND status = ?2").bind(orgId, status).first<{ n: number }>();
  return row!.n;
}

export async function countEvents(orgId: string, type: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM activity_events WHERE org_id = ?1 AND type = ?2").bind(orgId, type).first<{ n: number }>();
  return row!.n;
}
