/**
 * Groups as SCIM reads them (RFC 7643 §4.2): records with their live members and creation time,
 * offset slices, equality filters on id and displayName (case-insensitive, as names are unique
 * that way). Every write to groups, SCIM's included, goes through collections.ts.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Orm } from "../client";
import { all, pairs, type Slice } from "./rules";

export interface ScimGroupRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Null when the caller asked for the group without its members. */
  members: { id: string; name: string }[] | null;
}

export type GroupFilter = { by: "id" | "name"; value: string } | null;

interface GroupRow {
  id: string;
  name: string;
  created_at: number;
  members: string | null;
}

const groupColumns = (withMembers: boolean) =>
  withMembers
    ? sql`g.id, g.name, g.created_at,
        (SELECT json_group_array(json_object('id', u.id, 'name', u.name))
           FROM user_groups ug JOIN users u ON u.id = ug.user_id WHERE ug.group_id = g.id AND u.status <> 'removed') AS members`
    : sql`g.id, g.name, g.created_at, NULL AS members`;

function toGroup(row: GroupRow, withMembers: boolean): ScimGroupRecord {
  return { id: row.id, name: row.name, createdAt: row.created_at, members: withMembers ? pairs(row.members) : null };
}

function groupWhere(orgId: string, filter: GroupFilter): SQL {
  const scoped = sql`g.org_id = ${orgId}`;
  if (!filter) return scoped;
  return filter.by === "id" ? sql`${scoped} AND g.id = ${filter.value}` : sql`${scoped} AND lower(g.name) = lower(${filter.value})`;
}

export async function listScimGroups(db: Orm, orgId: string, filter: GroupFilter, slice: Slice, withMembers: boolean) {
  const where = groupWhere(orgId, filter);
  const [total] = await all<{ n: number }>(db, sql`SELECT count(*) AS n FROM groups g WHERE ${where}`);
  const rows =
    slice.count === 0
      ? []
      : await all<GroupRow>(
          db,
          sql`SELECT ${groupColumns(withMembers)} FROM groups g WHERE ${where} ORDER BY g.id LIMIT ${slice.count} OFFSET ${slice.offset}`,
        );
  return { total: total?.n ?? 0, groups: rows.map((r) => toGroup(r, withMembers)) };
}

export async function findScimGroup(db: Orm, orgId: string, id: string, withMembers = true): Promise<ScimGroupRecord | null> {
  const [row] = await all<GroupRow>(db, sql`SELECT ${groupColumns(withMembers)} FROM groups g WHERE ${groupWhere(orgId, { by: "id", value: id })}`);
  return row ? toGroup(row, withMembers) : null;
}
