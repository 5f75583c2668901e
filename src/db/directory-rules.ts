/**
 * Rules both directory write paths (the management API in db/directory.ts and SCIM in
 * db/scim.ts) ask, so they cannot drift: id lists bound as JSON, the unique-index conflict,
 * one live member per email, and SCIM's group displayName uniqueness.
 */
import { sql, type SQL } from "drizzle-orm";
import { statement, type Orm } from "./client";

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
