/**
 * The queries behind SCIM 2.0 provisioning (src/scim): members (`users` rows, userName = email)
 * and groups (`groups` + `user_groups`) of one organization. Every query is scoped by org id,
 * removed members are invisible, and every change lands with its activity event in one batch.
 * Status changes are not here: SCIM deprovisions through `setMemberStatus` (db/members.ts),
 * the one deprovisioning path.
 */
import { sql, type SQL } from "drizzle-orm";
import { activityInsertWhen, type Actor } from "./activity";
import { atomically, statement, type BatchItem, type Orm } from "./client";
import { newId } from "./ids";
import { emailTaken, groupNameTaken, isUniqueViolation, jsonIds } from "./directory-rules";
import { changes } from "./tokens";

export interface ScimMemberRecord {
  id: string;
  name: string;
  email: string;
  status: "active" | "deactivated";
  createdAt: number;
  updatedAt: number;
  groups: { id: string; name: string }[];
}

export interface ScimGroupRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Null when the caller asked for the group without its members. */
  members: { id: string; name: string }[] | null;
}

export interface Slice {
  /** Rows to skip (SCIM startIndex − 1). */
  offset: number;
  /** Rows to return; 0 returns only the total. */
  count: number;
}

/** An equality filter already mapped to a column (scim/filter.ts does the mapping). */
export type MemberFilter = { by: "id" | "email"; value: string } | null;
export type GroupFilter = { by: "id" | "name"; value: string } | null;


function pairs(json: string | null): { id: string; name: string }[] {
  if (!json) return [];
  return (JSON.parse(json) as ({ id: string; name: string } | null)[])
    .filter((p): p is { id: string; name: string } => p !== null && typeof p.id === "string")
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function all<T>(db: Orm, query: SQL): Promise<T[]> {
  return (await statement(db, query).all<T>()).results;
}

// ---------------------------------------------------------------------------------------------
// Members

interface MemberRow {
  id: string;
  name: string;
  email: string;
  status: "active" | "deactivated";
  created_at: number;
  updated_at: number;
  groups: string | null;
}

const MEMBER_COLUMNS = sql`u.id, u.name, u.email, u.status, u.created_at, u.updated_at,
  (SELECT json_group_array(json_object('id', g.id, 'name', g.name))
     FROM user_groups ug JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id) AS groups`;

function toMember(row: MemberRow): ScimMemberRecord {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    groups: pairs(row.groups),
  };
}

function memberWhere(orgId: string, filter: MemberFilter): SQL {
  const live = sql`u.org_id = ${orgId} AND u.status <> 'removed'`;
  if (!filter) return live;
  // SCIM userName is case-insensitive (RFC 7643 §4.1.1, caseExact false), and so are emails.
  return filter.by === "id" ? sql`${live} AND u.id = ${filter.value}` : sql`${live} AND lower(u.email) = lower(${filter.value})`;
}

export async function listScimMembers(db: Orm, orgId: string, filter: MemberFilter, slice: Slice) {
  const where = memberWhere(orgId, filter);
  const [total] = await all<{ n: number }>(db, sql`SELECT count(*) AS n FROM users u WHERE ${where}`);
  const rows =
    slice.count === 0
      ? []
      : await all<MemberRow>(db, sql`SELECT ${MEMBER_COLUMNS} FROM users u WHERE ${where} ORDER BY u.id LIMIT ${slice.count} OFFSET ${slice.offset}`);
  return { total: total?.n ?? 0, members: rows.map(toMember) };
}

export async function findScimMember(db: Orm, orgId: string, id: string): Promise<ScimMemberRecord | null> {
  const [row] = await all<MemberRow>(db, sql`SELECT ${MEMBER_COLUMNS} FROM users u WHERE ${memberWhere(orgId, { by: "id", value: id })}`);
  return row ? toMember(row) : null;
}


/**
 * Creates a member; null when the email is already a live member's. The uniqueness check is in
 * the INSERT itself (and the unique index catches an exact-case race), so two concurrent
 * provisioning calls cannot create the same person twice.
 */
export async function createScimMember(
  db: Orm,
  input: { orgId: string; email: string; name: string; active: boolean; actor: Actor; now: number },
): Promise<ScimMemberRecord | null> {
  const { orgId, email, name, now } = input;
  const id = newId("usr", now);
  const status = input.active ? "active" : "deactivated";
  let results: D1Result[];
  try {
    results = await atomically(db, [
      sql`INSERT INTO users (id, org_id, name, email, status, created_at, updated_at)
        SELECT ${id}, ${orgId}, ${name}, ${email}, ${status}, ${now}, ${now} WHERE NOT ${emailTaken(orgId, email, null)}`,
      activityInsertWhen(sql`EXISTS (SELECT 1 FROM users WHERE id = ${id})`, {
        orgId,
        type: "user.created",
        actor: input.actor,
        target: { type: "user", id, name },
        details: { email, status, source: "scim" },
        at: now,
      }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) return null;
    throw err;
  }
  if (changes(results[0]) === 0) return null;
  return { id, name, email, status, createdAt: now, updatedAt: now, groups: [] };
}

export type ProfileUpdate = "updated" | "unchanged" | "conflict" | "not_found";

/** Renames a member and/or changes their email (userName). */
export async function updateScimMemberProfile(
  db: Orm,
  input: { orgId: string; current: ScimMemberRecord; name: string; email: string; actor: Actor; now: number },
): Promise<ProfileUpdate> {
  const { orgId, current, name, email, now } = input;
  if (name === current.name && email === current.email) return "unchanged";
  const details: Record<string, unknown> = { source: "scim" };
  if (name !== current.name) details["name"] = { from: current.name, to: name };
  if (email !== current.email) details["email"] = { from: current.email, to: email };
  // The event is inserted first under the same condition as the update, so both apply or neither.
  const applies = sql`EXISTS (SELECT 1 FROM users WHERE id = ${current.id} AND org_id = ${orgId} AND status <> 'removed')
    AND NOT ${emailTaken(orgId, email, current.id)}`;
  let results: D1Result[];
  try {
    results = await atomically(db, [
      activityInsertWhen(applies, { orgId, type: "user.updated", actor: input.actor, target: { type: "user", id: current.id, name }, details, at: now }),
      sql`UPDATE users SET name = ${name}, email = ${email}, updated_at = ${now} WHERE id = ${current.id} AND ${applies}`,
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) return "conflict";
    throw err;
  }
  if (changes(results[1]) > 0) return "updated";
  return (await findScimMember(db, orgId, current.id)) ? "conflict" : "not_found";
}

// ---------------------------------------------------------------------------------------------
// Groups

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
