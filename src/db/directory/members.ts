/**
 * Members of an organization's directory (SPEC §4): `users` rows, their permission sets, groups
 * and sites. One layer for both callers: the management API reads and writes members with their
 * assignments (keyset pages, PATCH semantics); SCIM provisioning (src/scim) reads them as
 * records with their groups (offset slices, equality filters, userName = email) and creates and
 * edits profiles. Every query is scoped by org id, so an id from another organization is simply
 * not found; removed members are invisible; every change and its activity event are one D1
 * batch. Status changes end tokens and go through `planMemberStatus`/`setMemberStatus`
 * (db/members.ts), the one deprovisioning path.
 *
 * Expected failures come back as results; only infrastructure faults throw (and `guard` turns
 * those into 503).
 */
import { and, asc, count, eq, gt, ne, sql, type SQL } from "drizzle-orm";
import { activityInsert, activityInsertWhen, type Actor } from "../activity";
import { atomically, type BatchItem, type Orm } from "../client";
import { newId } from "../ids";
import { planMemberStatus } from "../members";
import { groups, permissionSets, sites, userGroups, userPermissionSets, users, userSites } from "../schema";
import { changes } from "../tokens";
import { all, emailInUse, emailTaken, inJson, isUniqueViolation, listDiff, pairs, sortedIds, type Page, type Slice } from "./rules";


export type MemberStatus = "active" | "deactivated";

export interface Member {
  id: string;
  name: string;
  email: string;
  status: MemberStatus;
  permissionSetIds: string[];
  groupIds: string[];
  siteIds: string[];
}

export interface MemberRefs {
  permissionSetIds?: string[];
  groupIds?: string[];
  siteIds?: string[];
}

/** Ids in a request that are not this organization's (reported as 400, never as 404 or 403). */
export interface UnknownRefs {
  permission_set_ids?: string[];
  group_ids?: string[];
  site_ids?: string[];
}

const memberColumns = {
  id: users.id,
  name: users.name,
  email: users.email,
  status: users.status,
  permissionSetIds: sql<string | null>`(SELECT json_group_array(permission_set_id) FROM user_permission_sets WHERE user_id = ${users.id})`,
  groupIds: sql<string | null>`(SELECT json_group_array(group_id) FROM user_groups WHERE user_id = ${users.id})`,
  siteIds: sql<string | null>`(SELECT json_group_array(site_id) FROM user_sites WHERE user_id = ${users.id})`,
};

type MemberRow = { id: string; name: string; email: string; status: string; permissionSetIds: string | null; groupIds: string | null; siteIds: string | null };

function toMember(row: MemberRow): Member {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    status: row.status as MemberStatus,
    permissionSetIds: sortedIds(row.permissionSetIds),
    groupIds: sortedIds(row.groupIds),
    siteIds: sortedIds(row.siteIds),
  };
}

/** Live members (removed ones are gone from the API) in creation order. Service users live elsewhere. */
export async function listMembers(db: Orm, orgId: string, page: Page): Promise<Member[]> {
  const rows = await db
    .select(memberColumns)
    .from(users)
    .where(and(eq(users.orgId, orgId), ne(users.status, "removed"), page.afterId ? gt(users.id, page.afterId) : undefined))
    .orderBy(asc(users.id))
    .limit(page.limit + 1);
  return rows.map(toMember);
}

export async function findMember(db: Orm, orgId: string, id: string): Promise<Member | null> {
  const [row] = await db
    .select(memberColumns)
    .from(users)
    .where(and(eq(users.id, id), eq(users.orgId, orgId), ne(users.status, "removed")))
    .limit(1);
  return row ? toMember(row) : null;
}

/** Seats (SPEC §4, seeds: "counts toward assigned user seat"): active human members only. */
export async function countSeats(db: Orm, orgId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users).where(and(eq(users.orgId, orgId), eq(users.status, "active")));
  return row?.n ?? 0;
}

async function missingFrom(db: Orm, table: typeof permissionSets | typeof groups | typeof sites, orgId: string, ids: string[] | undefined) {
  if (!ids || ids.length === 0) return [];
  const found = await db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.orgId, orgId), inJson(table.id, ids)));
  const known = new Set(found.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}

export async function unknownRefs(db: Orm, orgId: string, refs: MemberRefs): Promise<UnknownRefs | null> {
  const [sets, grps, sts] = await Promise.all([
    missingFrom(db, permissionSets, orgId, refs.permissionSetIds),
    missingFrom(db, groups, orgId, refs.groupIds),
    missingFrom(db, sites, orgId, refs.siteIds),
  ]);
  const unknown: UnknownRefs = {};
  if (sets.length) unknown.permission_set_ids = sets;
  if (grps.length) unknown.group_ids = grps;
  if (sts.length) unknown.site_ids = sts;
  return Object.keys(unknown).length ? unknown : null;
}

/**
 * Assignment inserts that only take ids still in this org when the batch runs: a set, group
 * or site deleted between the check and the write is skipped rather than failing the batch.
 */
function assignStatements(orgId: string, userId: string, refs: MemberRefs): BatchItem[] {
  const out: BatchItem[] = [];
  if (refs.permissionSetIds?.length) {
    out.push(sql`INSERT INTO user_permission_sets (user_id, permission_set_id)
      SELECT ${userId}, id FROM permission_sets WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.permissionSetIds)}`);
  }
  if (refs.groupIds?.length) {
    out.push(sql`INSERT INTO user_groups (user_id, group_id)
      SELECT ${userId}, id FROM groups WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.groupIds)}`);
  }
  if (refs.siteIds?.length) {
    out.push(sql`INSERT INTO user_sites (user_id, site_id)
      SELECT ${userId}, id FROM sites WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.siteIds)}`);
  }
  return out;
}

export type MemberWriteResult =
  | { ok: true; member: Member; endedTokenIds: string[] }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict" }
  | { ok: false; reason: "unknown_refs"; unknown: UnknownRefs };

export async function createMember(
  db: Orm,
  input: { orgId: string; name: string; email: string; refs: MemberRefs; actor: Actor; now?: number },
): Promise<MemberWriteResult> {
  const now = input.now ?? Date.now();
  const unknown = await unknownRefs(db, input.orgId, input.refs);
  if (unknown) return { ok: false, reason: "unknown_refs", unknown };
  if (await emailInUse(db, input.orgId, input.email, null)) return { ok: false, reason: "conflict" };
  const member: Member = {
    id: newId("usr", now),
    name: input.name,
    email: input.email,
    status: "active",
    permissionSetIds: [...(input.refs.permissionSetIds ?? [])].sort(),
    groupIds: [...(input.refs.groupIds ?? [])].sort(),
    siteIds: [...(input.refs.siteIds ?? [])].sort(),
  };
  try {
    await atomically(db, [
      db.insert(users).values({ id: member.id, orgId: input.orgId, name: member.name, email: member.email, status: "active", createdAt: now, updatedAt: now }),
      ...assignStatements(input.orgId, member.id, input.refs),
      activityInsert(db, {
        orgId: input.orgId,
        type: "user.created",
        actor: input.actor,
        target: { type: "user", id: member.id, name: member.name },
        details: { email: member.email, permission_set_ids: member.permissionSetIds, group_ids: member.groupIds, site_ids: member.siteIds },
        at: now,
      }),
    ]);
  } catch (err) {
    // The unique index on live emails closes the race between the check above and this batch.
    if (isUniqueViolation(err)) return { ok: false, reason: "conflict" };
    throw err;
  }
  return { ok: true, member, endedTokenIds: [] };
}

export interface MemberChanges extends MemberRefs {
  name?: string;
  email?: string;
  status?: MemberStatus;
}


/**
 * PATCH semantics: fields present replace, absent stay. The field edits, the assignment
 * replacement and a status change (which ends tokens on deactivation) are one batch.
 */
export async function updateMember(
  db: Orm,
  input: { orgId: string; userId: string; changes: MemberChanges; actor: Actor; now?: number },
): Promise<MemberWriteResult> {
  const now = input.now ?? Date.now();
  const { changes } = input;
  const current = await findMember(db, input.orgId, input.userId);
  if (!current) return { ok: false, reason: "not_found" };
  const unknown = await unknownRefs(db, input.orgId, changes);
  if (unknown) return { ok: false, reason: "unknown_refs", unknown };
  if (changes.email !== undefined && changes.email !== current.email && (await emailInUse(db, input.orgId, changes.email, current.id))) {
    return { ok: false, reason: "conflict" };
  }

  const next: Member = {
    ...current,
    name: changes.name ?? current.name,
    email: changes.email ?? current.email,
    status: changes.status ?? current.status,
    permissionSetIds: changes.permissionSetIds ? [...changes.permissionSetIds].sort() : current.permissionSetIds,
    groupIds: changes.groupIds ? [...changes.groupIds].sort() : current.groupIds,
    siteIds: changes.siteIds ? [...changes.siteIds].sort() : current.siteIds,
  };
  const details: Record<string, unknown> = {};
  const statements: BatchItem[] = [];
  const live = and(eq(users.id, current.id), eq(users.orgId, input.orgId), ne(users.status, "removed"));
  const fields: { name?: string; email?: string } = {};
  if (next.name !== current.name) {
    fields.name = next.name;
    details["name"] = { from: current.name, to: next.name };
  }
  if (next.email !== current.email) {
    fields.email = next.email;
    details["email"] = { from: current.email, to: next.email };
  }
  if (fields.name !== undefined || fields.email !== undefined) {
    statements.push(db.update(users).set({ ...fields, updatedAt: now }).where(live));
  }
  const lists = [
    ["permission_set_ids", current.permissionSetIds, next.permissionSetIds, userPermissionSets, userPermissionSets.userId] as const,
    ["group_ids", current.groupIds, next.groupIds, userGroups, userGroups.userId] as const,
    ["site_ids", current.siteIds, next.siteIds, userSites, userSites.userId] as const,
  ];
  const replaced: MemberRefs = {};
  for (const [key, before, after, table, userColumn] of lists) {
    const diff = listDiff(before, after);
    if (diff.added.length === 0 && diff.removed.length === 0) continue;
    details[key] = diff;
    statements.push(db.delete(table).where(eq(userColumn, current.id)));
    if (key === "permission_set_ids") replaced.permissionSetIds = after;
    if (key === "group_ids") replaced.groupIds = after;
    if (key === "site_ids") replaced.siteIds = after;
  }
  statements.push(...assignStatements(input.orgId, current.id, replaced));
  if (Object.keys(details).length > 0) {
    if (fields.name === undefined && fields.email === undefined) {
      statements.push(db.update(users).set({ updatedAt: now }).where(live));
    }
    statements.push(
      activityInsert(db, {
        orgId: input.orgId,
        type: "user.updated",
        actor: input.actor,
        target: { type: "user", id: current.id, name: next.name },
        details,
        at: now,
      }),
    );
  }
  const status = await planMemberStatus(
    db,
    { orgId: input.orgId, userId: current.id, status: next.status, actor: input.actor, now },
    { id: current.id, name: next.name, status: current.status },
  );
  statements.push(...status.statements);
  if (statements.length === 0) return { ok: true, member: current, endedTokenIds: [] };
  try {
    await atomically(db, statements);
  } catch (err) {
    if (isUniqueViolation(err)) return { ok: false, reason: "conflict" };
    throw err;
  }
  return { ok: true, member: next, endedTokenIds: status.endedTokenIds };
}

// ---------------------------------------------------------------------------------------------
// Members as SCIM reads and provisions them (RFC 7643 §4.1)

export interface ScimMemberRecord {
  id: string;
  name: string;
  email: string;
  status: "active" | "deactivated";
  createdAt: number;
  updatedAt: number;
  groups: { id: string; name: string }[];
}

/** An equality filter already mapped to a column (scim/filter.ts does the mapping). */
export type MemberFilter = { by: "id" | "email"; value: string } | null;

interface ScimMemberRow {
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

function toScimMember(row: ScimMemberRow): ScimMemberRecord {
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
      : await all<ScimMemberRow>(db, sql`SELECT ${MEMBER_COLUMNS} FROM users u WHERE ${where} ORDER BY u.id LIMIT ${slice.count} OFFSET ${slice.offset}`);
  return { total: total?.n ?? 0, members: rows.map(toScimMember) };
}

export async function findScimMember(db: Orm, orgId: string, id: string): Promise<ScimMemberRecord | null> {
  const [row] = await all<ScimMemberRow>(db, sql`SELECT ${MEMBER_COLUMNS} FROM users u WHERE ${memberWhere(orgId, { by: "id", value: id })}`);
  return row ? toScimMember(row) : null;
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
