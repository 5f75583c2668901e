/**
 * Rules every part of the directory (members, groups, sites, permission sets) asks, for both of
 * its callers (the management API and SCIM), so they cannot drift: paging, id lists bound as
 * JSON, ids unknown to the org, the unique-index conflict, one live member per email, one group
 * per name, and what an event says about who wrote.
 *
 * The two uniqueness rules are SQL conditions, so a write carries them in its own statements and
 * they are decided when the batch runs, never by a read before it:
 * - email: one live member per email per org, case-insensitively (`emailTaken`);
 * - group name: one group per name per org, case-insensitively (`groupNameTaken`), for the
 *   management API (SPEC §4, 409 `conflict`) and SCIM (RFC 7643 §4.2, identity providers link
 *   groups by displayName) alike. Sites have no name rule.
 */
import { and, asc, eq, gt, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { SQLiteSelect } from "drizzle-orm/sqlite-core";
import { statement, type Orm } from "../client";
import type { groups, permissionSets, sites, users } from "../schema";

/** `ids` bound as one JSON parameter: no limit on list length from D1's bound-parameter cap. */
export function jsonIds(ids: string[]): SQL {
  return sql`(SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/** A JSON array aggregated in SQL (nulls from outer joins dropped), sorted. */
export function sortedIds(json: string | null): string[] {
  if (!json) return [];
  return (JSON.parse(json) as (string | null)[]).filter((v): v is string => typeof v === "string").sort();
}

/** A write refused by a unique index: a concurrent writer took the value first. */
export function isUniqueViolation(err: unknown): boolean {
  return /UNIQUE constraint failed/i.test(String((err as Error)?.message ?? err));
}

/**
 * Another live member of the org already uses this email: one live membership per email per
 * org, compared case-insensitively (RFC 5321 practice). The unique index `users_org_email_live_uq`
 * backs it for the exact spelling.
 */
export function emailTaken(orgId: string, email: string, exceptId: string | null): SQL {
  return sql`EXISTS (
  SELECT 1 FROM users o WHERE o.org_id = ${orgId} AND o.status <> 'removed' AND lower(o.email) = lower(${email})
    AND (${exceptId} IS NULL OR o.id <> ${exceptId}))`;
}

/** Another group of the org already has this name, compared case-insensitively (see the header). */
export function groupNameTaken(orgId: string, name: string, exceptId: string | null): SQL {
  return sql`EXISTS (
  SELECT 1 FROM groups o WHERE o.org_id = ${orgId} AND lower(o.name) = lower(${name})
    AND (${exceptId} IS NULL OR o.id <> ${exceptId}))`;
}

/** Who wrote, when the log should tell: SCIM's events say `source: "scim"`; the management API's carry no source. */
export type WriteSource = "scim";

export function sourceDetails(source: WriteSource | undefined): { source?: WriteSource } {
  return source ? { source } : {};
}

/** Keyset paging of the management API (SPEC §4): rows after `afterId`, one extra to tell if more follow. */
export type Page = { afterId: string | null; limit: number };

/** One keyset page of a dynamic select: the rows matching `where` after the cursor, in id (creation) order. */
export function keysetPage<T extends SQLiteSelect>(query: T, id: AnyColumn, where: SQL | undefined, page: Page) {
  return query.where(and(where, page.afterId ? gt(id, page.afterId) : undefined)).orderBy(asc(id)).limit(page.limit + 1);
}

/** Offset paging of SCIM lists (RFC 7644 §3.4.2.4). */
export interface Slice {
  /** Rows to skip (SCIM startIndex − 1). */
  offset: number;
  /** Rows to return; 0 returns only the total. */
  count: number;
}

export function inJson(column: AnyColumn | SQL, ids: string[]): SQL {
  return sql`${column} IN ${jsonIds(ids)}`;
}

/**
 * The ids among `ids` that `table` holds no row for in this org, narrowed by `where` (another
 * organization's id is simply unknown here). Reported as 400, never as 404 or 403.
 */
export async function missingIds(
  db: Orm,
  table: typeof users | typeof permissionSets | typeof groups | typeof sites,
  orgId: string,
  ids: string[] | undefined,
  where?: SQL,
): Promise<string[]> {
  if (!ids || ids.length === 0) return [];
  const found = await db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.orgId, orgId), inJson(table.id, ids), where));
  const known = new Set(found.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}

/** What a replacement of one id list added and removed, both sorted (the event details). */
export function listDiff(before: string[], after: string[]) {
  const a = new Set(after);
  const b = new Set(before);
  return { added: after.filter((id) => !b.has(id)).sort(), removed: before.filter((id) => !a.has(id)).sort() };
}

/** A JSON array of {id, name} aggregated in SQL (nulls from outer joins dropped), sorted by id. */
export function pairs(json: string | null): { id: string; name: string }[] {
  if (!json) return [];
  return (JSON.parse(json) as ({ id: string; name: string } | null)[])
    .filter((p): p is { id: string; name: string } => p !== null && typeof p.id === "string")
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function all<T>(db: Orm, query: SQL): Promise<T[]> {
  return (await statement(db, query).all<T>()).results;
}
