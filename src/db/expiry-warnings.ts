/**
 * Expiry warnings (SPEC §10): `token.expiring` when an active token's idle deadline is less than
 * 7 days away, and again at less than 1 day, once each per deadline.
 *
 * No scan of every token: a token enters a warning window when the clock passes
 * `deadline - window`, so each run reads only the deadlines that entered the window since the
 * previous run, an index range of `api_tokens_expiry_idx (status, expires_at)` from a stored
 * mark (`signal_cursors`) up to `now + window`. `token_expiry_warnings` (token, level, deadline)
 * makes each warning once; a use moves the deadline past the mark, so the token is warned
 * again when the new deadline comes near (the re-arming). A token first seen inside the 1-day
 * window gets only the 1-day warning.
 *
 * Known gap: a deadline moved *earlier* than the mark (a shorter inactivity window set by
 * PATCH) is not warned at that level.
 */
import { sql } from "drizzle-orm";
import { DAY_MS } from "../domain/tokens";
import { activityInsertSelect, eventIdSql, SYSTEM_ACTOR } from "./activity";
import { atomically, selectRows, statement, type Orm } from "./client";
import { tokenColumns, type TokenFields } from "./token-row";

export type WarningLevel = "7d" | "1d";

export interface WarningWindow {
  level: WarningLevel;
  /** Deadlines strictly less than this far away. */
  withinMs: number;
  /** ...and at least this far away (a nearer level takes over below it). */
  fromMs: number;
}

export const WARNING_WINDOWS: readonly WarningWindow[] = [
  { level: "1d", withinMs: DAY_MS, fromMs: 1 },
  { level: "7d", withinMs: 7 * DAY_MS, fromMs: DAY_MS },
];

const cursorName = (level: WarningLevel) => `expiry_warning_${level}`;

export async function warningMark(db: Orm, level: WarningLevel): Promise<number> {
  const row = await statement(db, sql`SELECT value FROM signal_cursors WHERE name = ${cursorName(level)}`).first<{ value: number }>();
  return row?.value ?? 0;
}

export interface Candidates {
  ids: string[];
  /** The deadline of the last candidate, or the window's end when the range was exhausted. */
  reached: number;
  exhausted: boolean;
}

const CANDIDATE_FIELDS = ["id", "expiresAt"] as const;

/** Up to `limit` active tokens whose deadline lies in [max(mark, now + fromMs), now + withinMs). */
export async function warningCandidates(db: Orm, window: WarningWindow, mark: number, now: number, limit: number): Promise<Candidates> {
  const low = Math.max(mark, now + window.fromMs);
  const high = now + window.withinMs;
  const results = await selectRows<TokenFields<typeof CANDIDATE_FIELDS>>(
    db,
    sql`SELECT ${tokenColumns(CANDIDATE_FIELDS)} FROM api_tokens
        WHERE status = 'active' AND expires_at >= ${low} AND expires_at < ${high} ORDER BY expires_at LIMIT ${limit}`,
  );
  const exhausted = results.length < limit;
  return { ids: results.map((r) => r.id), reached: exhausted ? high : results[results.length - 1]!.expiresAt, exhausted };
}

/**
 * Warns the still-eligible tokens among `tokenIds` at `window`'s level, once per deadline, and
 * advances the mark to `reached`, in one transaction. Returns how many warnings it made.
 */
export async function warnTokens(db: Orm, window: WarningWindow, tokenIds: string[], reached: number, now: number): Promise<number> {
  const runId = crypto.randomUUID();
  const statements = [
    sql`INSERT OR IGNORE INTO token_expiry_warnings (token_id, level, deadline, run_id, warned_at)
        SELECT id, ${window.level}, expires_at, ${runId}, ${now} FROM api_tokens
        WHERE id IN (SELECT value FROM json_each(${JSON.stringify(tokenIds)}))
          AND +status = 'active' AND +expires_at >= ${now + window.fromMs} AND +expires_at < ${now + window.withinMs}`,
    activityInsertSelect(
      {
        id: eventIdSql(now),
        orgId: sql`t.org_id`,
        occurredAt: sql`${now}`,
        type: sql`'token.expiring'`,
        actorId: sql`${SYSTEM_ACTOR.id}`,
        actorType: sql`${SYSTEM_ACTOR.type}`,
        actorName: sql`${SYSTEM_ACTOR.name}`,
        targetType: sql`'api_token'`,
        targetId: sql`t.id`,
        targetName: sql`t.name`,
        details: sql`json_object('kind', t.kind, 'hint', t.hint, 'level', w.level,
            'expires_at', strftime('%Y-%m-%dT%H:%M:%fZ', w.deadline / 1000.0, 'unixepoch'))`,
      },
      sql`FROM token_expiry_warnings w JOIN api_tokens t ON t.id = w.token_id WHERE w.run_id = ${runId}`,
    ),
    sql`INSERT INTO signal_cursors (name, value) VALUES (${cursorName(window.level)}, ${reached})
        ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`,
  ];
  const [inserted] = await atomically(db, tokenIds.length > 0 ? statements : statements.slice(2));
  return tokenIds.length > 0 ? ((inserted as D1Result).meta?.changes ?? 0) : 0;
}

/** Forgets warnings whose deadline has passed (bounded; `warned_at` is at most 7 days before it). */
export async function pruneWarnings(db: Orm, now: number, limit: number): Promise<number> {
  const result = await statement(
    db,
    sql`DELETE FROM token_expiry_warnings WHERE rowid IN (
          SELECT rowid FROM token_expiry_warnings WHERE warned_at < ${now - 8 * DAY_MS} LIMIT ${limit})`,
  ).run();
  return result.meta?.changes ?? 0;
}
