/**
 * Rules every part of the directory (members, groups, sites, permission sets) asks, for both of
 * its callers (the management API and SCIM), so they cannot drift: paging, id lists bound as
 * JSON, the unique-index conflict, one live member per email, and SCIM's group displayName
 * uniqueness.
 */
import { sql, type AnyColumn, type SQL } from "drizzle-orm";
import { statement, type Orm } from "../client";

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
 * org, compared case-insensitively (RFC 5321 practice). As SQL, so a write can carry it in its
 * own WHERE clause and decide it when the batch runs.
 */
export function emailTaken(orgId: string, email: string, exceptId: string | null): SQL {
  return sql`EXISTS (
  SELECT 1 FROM users o WHERE o.org_id = ${orgId} AND o.status <> 'removed' AND lower(o.email) = lower(${email})
    AND (${exceptId} IS NULL OR o.id <> ${exceptId}))`;
}

export async function emailInUse(db: Orm, orgId: string, email: string, exceptId: string | null): Promise<boolean> {
  const row = await statement(db, sql`SELECT ${emailTaken(orgId, email, exceptId)} AS taken`).first<{ taken: number }>();
  return row?.taken === 1;
}

/**
 * A group of the org already has this name, compared case-insensitively. SCIM requires it
 * (identity providers link groups by displayName, RFC 7643 §4.2); the management API (SPEC §4)
 * does not, and keeps accepting duplicate names.
 */
export function groupNameTaken(orgId: string, name: string): SQL {
  return sql`EXISTS (SELECT 1 FROM groups WHERE org_id = ${orgId} AND lower(name) = lower(${name}))`;
}

/** Keyset paging of the management API (SPEC §4): rows after `afterId`, one extra to tell if more follow. */
export type Page = { afterId: string | null; limit: number };

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
