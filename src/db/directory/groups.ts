/**
 * Groups (SPEC §4): named collections of members whose ids the proxy forwards (SPEC §3.4). The
 * management API creates, renames and deletes them through collections.ts over the tables named
 * here; SCIM (src/scim, RFC 7643 §4.2) reads them with their members and writes them with
 * membership changes and case-insensitive displayName uniqueness, below. Scoped by org id;
 * every change and its activity event are one batch.
 */
import { sql, type SQL } from "drizzle-orm";
import { activityInsertWhen, type Actor } from "../activity";
import { atomically, type BatchItem, type Orm } from "../client";
import { newId } from "../ids";
import { groups, userGroups } from "../schema";
import { changes } from "../tokens";
import { all, groupNameTaken, jsonIds, pairs, type Slice } from "./rules";

/** The tables of the group collection: the groups and their memberships. */
export const GROUP_TABLES = { table: groups, prefix: "grp", membership: userGroups, memberColumn: userGroups.groupId } as const;

// ---------------------------------------------------------------------------------------------
// Groups as SCIM reads and provisions them (RFC 7643 §4.2)

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

/** The ids among `ids` that are not live members of the org (another org's id is unknown here). */
export async function unknownMemberIds(db: Orm, orgId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await all<{ id: string }>(
    db,
    sql`SELECT id FROM users WHERE org_id = ${orgId} AND status <> 'removed' AND id IN ${jsonIds(ids)}`,
  );
  const known = new Set(found.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}

/** Membership inserts that only take members still live in this org when the batch runs. */
function addMembers(orgId: string, groupId: string, memberIds: string[]): SQL {
  return sql`INSERT OR IGNORE INTO user_groups (user_id, group_id)
    SELECT u.id, ${groupId} FROM users u
    WHERE u.org_id = ${orgId} AND u.status <> 'removed' AND u.id IN ${jsonIds(memberIds)}
      AND EXISTS (SELECT 1 FROM groups WHERE id = ${groupId} AND org_id = ${orgId})`;
}

/** Event details listing changed members; long lists are cut (the count stays exact). */
function memberDetails(key: string, ids: string[]): Record<string, unknown> {
  if (ids.length === 0) return {};
  return { [key]: ids.slice(0, 100), [`${key}_count`]: ids.length };
}

/** Creates a group; null when the org already has a group of that name (case-insensitive). */
export async function createScimGroup(
  db: Orm,
  input: { orgId: string; name: string; memberIds: string[]; actor: Actor; now: number },
): Promise<ScimGroupRecord | null> {
  const { orgId, name, now } = input;
  const id = newId("grp", now);
  const statements: BatchItem[] = [
    sql`INSERT INTO groups (id, org_id, name, created_at)
      SELECT ${id}, ${orgId}, ${name}, ${now}
      WHERE NOT ${groupNameTaken(orgId, name)}`,
  ];
  if (input.memberIds.length > 0) statements.push(addMembers(orgId, id, input.memberIds));
  statements.push(
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM groups WHERE id = ${id})`, {
      orgId,
      type: "group.created",
      actor: input.actor,
      target: { type: "group", id, name },
      details: { source: "scim", ...memberDetails("members_added", input.memberIds) },
      at: now,
    }),
  );
  const [inserted] = await atomically(db, statements);
  if (changes(inserted) === 0) return null;
  return findScimGroup(db, orgId, id);
}

/** Renames a group and/or adds and removes members, with one `group.updated` event. */
export async function updateScimGroup(
  db: Orm,
  input: { orgId: string; current: ScimGroupRecord; name: string; add: string[]; remove: string[]; actor: Actor; now: number },
): Promise<boolean> {
  const { orgId, current, name, add, remove, now } = input;
  if (name === current.name && add.length === 0 && remove.length === 0) return true;
  const statements: BatchItem[] = [sql`UPDATE groups SET name = ${name} WHERE id = ${current.id} AND org_id = ${orgId}`];
  if (remove.length > 0) {
    statements.push(sql`DELETE FROM user_groups WHERE group_id = ${current.id} AND user_id IN ${jsonIds(remove)}`);
  }
  if (add.length > 0) statements.push(addMembers(orgId, current.id, add));
  const details: Record<string, unknown> = {
    source: "scim",
    ...(name !== current.name ? { name: { from: current.name, to: name } } : {}),
    ...memberDetails("members_added", add),
    ...memberDetails("members_removed", remove),
  };
  statements.push(
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM groups WHERE id = ${current.id} AND org_id = ${orgId})`, {
      orgId,
      type: "group.updated",
      actor: input.actor,
      target: { type: "group", id: current.id, name },
      details,
      at: now,
    }),
  );
  const [renamed] = await atomically(db, statements);
  return changes(renamed) > 0;
}

/** Deletes a group and every membership in it; false when not found. */
export async function deleteScimGroup(db: Orm, input: { orgId: string; current: ScimGroupRecord; actor: Actor; now: number }): Promise<boolean> {
  const { orgId, current, now } = input;
  // Event first, under the condition that the group still exists: a concurrent delete records nothing twice.
  const [recorded] = await atomically(db, [
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM groups WHERE id = ${current.id} AND org_id = ${orgId})`, {
      orgId,
      type: "group.deleted",
      actor: input.actor,
      target: { type: "group", id: current.id, name: current.name },
      details: { source: "scim", members: current.members?.length ?? null },
      at: now,
    }),
    sql`DELETE FROM user_groups WHERE group_id = ${current.id}
      AND EXISTS (SELECT 1 FROM groups WHERE id = ${current.id} AND org_id = ${orgId})`,
    sql`DELETE FROM groups WHERE id = ${current.id} AND org_id = ${orgId}`,
  ]);
  return changes(recorded) > 0;
}
