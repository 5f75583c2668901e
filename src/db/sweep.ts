/**
 * The statements of the scheduled jobs (SPEC §6), in bounded batches.
 *
 * Expiring a batch is one D1 batch (one transaction): first the `token.expired` events are
 * inserted from the rows of the batch that are *still* eligible, then exactly those rows are
 * updated. A batch replayed by an overlapping run, or retried after a crash, finds nothing
 * eligible and writes nothing, so events are never doubled and a dead run loses nothing: the
 * state lives in the rows, and the next run picks up whatever is still `active`.
 *
 * Candidate ids travel as one JSON parameter (`json_each`), because D1 binds at most 100
 * parameters per statement.
 */
import { sql, type SQL } from "drizzle-orm";
import { eventIdSql, SYSTEM_ACTOR, tokenActivityInsert } from "./activity";
import { atomically, selectRows, statement, type Orm } from "./client";
import { idleAt } from "./token-rules";
import { changes } from "./tokens";

/** Why the sweep ends a token; recorded in the event's details. */
export type ExpiryReason = "inactivity" | "member_inactive";

/**
 * Still-eligible condition per reason, re-checked inside the writing transaction. The unary
 * `+` keeps SQLite from answering it through `api_tokens_expiry_idx`, which would scan every
 * active token past its deadline (the whole backlog) per batch instead of looking up the
 * batch's ids by primary key.
 */
function stillEligible(reason: ExpiryReason, now: number): SQL {
  return reason === "inactivity"
    ? idleAt(now, { noIndex: true })
    : sql`+status = 'active' AND kind = 'user'
        AND EXISTS (SELECT 1 FROM users WHERE users.id = api_tokens.user_id AND users.status <> 'active')`;
}

async function ids(db: Orm, query: SQL): Promise<string[]> {
  const rows = await selectRows<{ id: string }>(db, query);
  return rows.map((r) => r.id);
}

/**
 * Up to `limit` active tokens idle past their deadline, earliest deadline first
 * (an index range scan of `api_tokens_expiry_idx (status, expires_at)`).
 */
export function idleTokenIds(db: Orm, now: number, limit: number): Promise<string[]> {
  return ids(db, sql`SELECT id FROM api_tokens WHERE ${idleAt(now)} ORDER BY expires_at LIMIT ${limit}`);
}

/**
 * Up to `limit` active user tokens whose member is deactivated or removed. Deactivation ends
 * them in the same batch (db/members.ts), so this only finds what slipped past it, e.g. rows
 * written by hand or by an older version. CROSS JOIN fixes the join order (SQLite honours it):
 * members drive the lookup, so the cost is one pass over `users` plus an index probe of
 * `api_tokens_user_idx` per inactive member, never a pass over every active token.
 */
export function inactiveMemberTokenIds(db: Orm, limit: number): Promise<string[]> {
  return ids(
    db,
    sql`SELECT t.id FROM users u CROSS JOIN api_tokens t ON t.user_id = u.id AND t.status = 'active'
        WHERE u.status <> 'active' LIMIT ${limit}`,
  );
}

/**
 * Marks the still-eligible tokens among `tokenIds` expired, one `token.expired` event each
 * (actor: the system), in one transaction. Returns how many tokens it expired.
 */
export async function expireTokens(db: Orm, tokenIds: string[], reason: ExpiryReason, now: number): Promise<number> {
  if (tokenIds.length === 0) return 0;
  const eligible = sql`id IN (SELECT value FROM json_each(${JSON.stringify(tokenIds)})) AND ${stillEligible(reason, now)}`;
  const [, updated] = await atomically(db, [
    tokenActivityInsert({
      id: eventIdSql(now),
      type: "token.expired",
      actor: SYSTEM_ACTOR,
      at: now,
      details: sql`json_object('kind', kind, 'hint', hint, 'reason', ${reason}, 'inactivity_days', inactivity_days)`,
      where: eligible,
    }),
    // An expired token ends both secrets of a roll (SPEC §9); min() keeps a null deadline null.
    sql`UPDATE api_tokens SET status = 'expired', expired_at = ${now}, updated_at = ${now},
        previous_expires_at = min(previous_expires_at, ${now})
      WHERE ${eligible}`,
  ]);
  return changes(updated);
}

/**
 * Deletes up to `limit` activity events that occurred before `cutoff`, oldest first (an index
 * range scan of `activity_events_occurred_idx`). Returns how many it deleted.
 */
export async function pruneActivity(db: Orm, cutoff: number, limit: number): Promise<number> {
  const result = await statement(
    db,
    sql`DELETE FROM activity_events WHERE rowid IN (
          SELECT rowid FROM activity_events WHERE occurred_at < ${cutoff} ORDER BY occurred_at LIMIT ${limit})`,
  ).run();
  return changes(result);
}
