/**
 * The token rules of domain/tokens.ts as SQL predicates over `api_tokens`, so a query asks the
 * same question the TypeScript does. Callers that must keep a particular index choice (see
 * `EXPLAIN QUERY PLAN` in test/db/list-plans.test.ts) ask for the `+column` form, which only turns off the index.
 */
import { sql, type SQL } from "drizzle-orm";
import { DAY_MS, SERVICE_TOKEN_LIMIT, USER_TOKEN_LIMIT } from "../domain/tokens";

interface Columns {
  /** Table alias, e.g. "a" for `a.status`. */
  alias?: string;
  /** Write `+status`, `+expires_at`: the same predicate, not usable as an index constraint. */
  noIndex?: boolean;
}

function column(name: string, opts: Columns): SQL {
  return sql.raw(`${opts.noIndex ? "+" : ""}${opts.alias ? `${opts.alias}.` : ""}${name}`);
}

/** isActive(): the row is active and its inactivity deadline is ahead of `now`. */
export function activeAt(now: number, opts: Columns = {}): SQL {
  return sql`${column("status", opts)} = 'active' AND ${column("expires_at", opts)} > ${now}`;
}

/** An active row whose inactivity deadline has passed: expired in effect, not yet marked. */
export function idleAt(now: number, opts: Columns = {}): SQL {
  return sql`${column("status", opts)} = 'active' AND ${column("expires_at", opts)} <= ${now}`;
}

/** inactivityDeadline() in SQL: `inactivity_days` after `from`. */
export function deadlineAfter(from: SQL | number): SQL {
  return sql`${from} + inactivity_days * ${DAY_MS}`;
}

/** The user holds fewer than USER_TOKEN_LIMIT active tokens (SPEC §1). */
export function underUserTokenLimit(userId: string, now: number): SQL {
  return sql`(SELECT count(*) FROM api_tokens
             WHERE user_id = ${userId} AND ${activeAt(now)}) < ${USER_TOKEN_LIMIT}`;
}

/** The organization holds fewer than SERVICE_TOKEN_LIMIT active service tokens (SPEC §1). */
export function underServiceTokenLimit(orgId: string, now: number): SQL {
  return sql`(SELECT count(*) FROM api_tokens a
    WHERE a.org_id = ${orgId} AND a.kind = 'service_user' AND ${activeAt(now, { alias: "a" })}) < ${SERVICE_TOKEN_LIMIT}`;
}
