/**
 * The directory the proxy resolves from (SPEC §4): members, groups, sites and permission sets
 * of one organization. Every query is scoped by org id, so an id from another organization is
 * simply not found. Every change and its activity event are one D1 batch (one transaction).
 *
 * Expected failures come back as results ({ok: false, reason}); only infrastructure faults
 * throw (and `guard` turns those into 503).
 */
import { and, asc, count, eq, gt, ne, sql, type AnyColumn, type SQL } from "drizzle-orm";
import { activityInsert, type Actor } from "./activity";
import { atomically, type BatchItem, type Orm } from "./client";
import { newId } from "./ids";
import { planMemberStatus } from "./members";
import {
  groups,
  permissionSets,
  serviceUserPermissionSets,
  sites,
  userGroups,
  userPermissionSets,
  users,
  userSites,
} from "./schema";
import { emailInUse, isUniqueViolation, jsonIds, sortedIds } from "./directory-rules";

export type Page = { afterId: string | null; limit: number };

function inJson(column: AnyColumn | SQL, ids: string[]): SQL {
  return sql`${column} IN ${jsonIds(ids)}`;
}

// ---------------------------------------------------------------------------------------------
// Members (users)

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

function listDiff(before: string[], after: string[]) {
  const a = new Set(after);
  const b = new Set(before);
  return { added: after.filter((id) => !b.has(id)).sort(), removed: before.filter((id) => !a.has(id)).sort() };
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
// Groups and sites: named collections of members; the proxy forwards their ids (SPEC §3.4).

export type Collection = "group" | "site";

const COLLECTIONS = {
  group: { table: groups, prefix: "grp", membership: userGroups, memberColumn: userGroups.groupId },
  site: { table: sites, prefix: "site", membership: userSites, memberColumn: userSites.siteId },
} as const;

export interface Named {
  id: string;
  name: string;
}

export async function listCollection(db: Orm, kind: Collection, orgId: string, page: Page): Promise<Named[]> {
  const { table } = COLLECTIONS[kind];
  return db
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(and(eq(table.orgId, orgId), page.afterId ? gt(table.id, page.afterId) : undefined))
    .orderBy(asc(table.id))
    .limit(page.limit + 1);
}

export async function findInCollection(db: Orm, kind: Collection, orgId: string, id: string): Promise<Named | null> {
  const { table } = COLLECTIONS[kind];
  const [row] = await db
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(and(eq(table.id, id), eq(table.orgId, orgId)))
    .limit(1);
  return row ?? null;
}

export async function createInCollection(db: Orm, kind: Collection, input: { orgId: string; name: string; actor: Actor; now?: number }): Promise<Named> {
  const now = input.now ?? Date.now();
  const { table, prefix } = COLLECTIONS[kind];
  const row = { id: newId(prefix, now), name: input.name };
  await atomically(db, [
    db.insert(table).values({ ...row, orgId: input.orgId, createdAt: now }),
    activityInsert(db, { orgId: input.orgId, type: `${kind}.created`, actor: input.actor, target: { type: kind, id: row.id, name: row.name }, at: now }),
  ]);
  return row;
}

export async function renameInCollection(
  db: Orm,
  kind: Collection,
  input: { orgId: string; id: string; name: string; actor: Actor; now?: number },
): Promise<Named | null> {
  const now = input.now ?? Date.now();
  const { table } = COLLECTIONS[kind];
  const current = await findInCollection(db, kind, input.orgId, input.id);
  if (!current) return null;
  if (current.name === input.name) return current;
  await atomically(db, [
    db.update(table).set({ name: input.name }).where(and(eq(table.id, input.id), eq(table.orgId, input.orgId))),
    activityInsert(db, {
      orgId: input.orgId,
      type: `${kind}.updated`,
      actor: input.actor,
      target: { type: kind, id: current.id, name: input.name },
      details: { name: { from: current.name, to: input.name } },
      at: now,
    }),
  ]);
  return { id: current.id, name: input.name };
}

/** Deletes a group or site and every membership in it, in one batch. False when not found. */
export async function deleteFromCollection(
  db: Orm,
  kind: Collection,
  input: { orgId: string; id: string; actor: Actor; now?: number },
): Promise<boolean> {
  const now = input.now ?? Date.now();
  const { table, membership, memberColumn } = COLLECTIONS[kind];
  const current = await findInCollection(db, kind, input.orgId, input.id);
  if (!current) return false;
  const [members] = await db.select({ n: count() }).from(membership).where(eq(memberColumn, current.id));
  await atomically(db, [
    db.delete(membership).where(eq(memberColumn, current.id)),
    db.delete(table).where(and(eq(table.id, current.id), eq(table.orgId, input.orgId))),
    activityInsert(db, {
      orgId: input.orgId,
      type: `${kind}.deleted`,
      actor: input.actor,
      target: { type: kind, id: current.id, name: current.name },
      details: { members: members?.n ?? 0 },
      at: now,
    }),
  ]);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Permission sets: the proxy reads them live on every request (SPEC §1), so a change here
// applies to every holder's existing tokens on their next request.

export interface PermissionSet {
  id: string;
  name: string;
  permissions: string[];
}

function toPermissionSet(row: { id: string; name: string; permissions: string }): PermissionSet {
  return { id: row.id, name: row.name, permissions: (JSON.parse(row.permissions) as string[]).slice().sort() };
}

const setColumns = { id: permissionSets.id, name: permissionSets.name, permissions: permissionSets.permissions };

export async function listPermissionSets(db: Orm, orgId: string, page: Page): Promise<PermissionSet[]> {
  const rows = await db
    .select(setColumns)
    .from(permissionSets)
    .where(and(eq(permissionSets.orgId, orgId), page.afterId ? gt(permissionSets.id, page.afterId) : undefined))
    .orderBy(asc(permissionSets.id))
    .limit(page.limit + 1);
  return rows.map(toPermissionSet);
}

export async function findPermissionSet(db: Orm, orgId: string, id: string): Promise<PermissionSet | null> {
  const [row] = await db
    .select(setColumns)
    .from(permissionSets)
    .where(and(eq(permissionSets.id, id), eq(permissionSets.orgId, orgId)))
    .limit(1);
  return row ? toPermissionSet(row) : null;
}

/** The event of a permission-set change, about the set as it is after the change. */
function permissionSetEvent(
  db: Orm,
  type: "permission_set.created" | "permission_set.updated" | "permission_set.deleted",
  input: { orgId: string; actor: Actor },
  set: PermissionSet,
  details: Record<string, unknown>,
  at: number,
) {
  return activityInsert(db, { orgId: input.orgId, type, actor: input.actor, target: { type: "permission_set", id: set.id, name: set.name }, details, at });
}

export async function createPermissionSet(
  db: Orm,
  input: { orgId: string; name: string; permissions: string[]; actor: Actor; now?: number },
): Promise<PermissionSet> {
  const now = input.now ?? Date.now();
  const set: PermissionSet = { id: newId("ps", now), name: input.name, permissions: input.permissions };
  await atomically(db, [
    db.insert(permissionSets).values({ id: set.id, orgId: input.orgId, name: set.name, permissions: JSON.stringify(set.permissions), createdAt: now }),
    permissionSetEvent(db, "permission_set.created", input, set, { permissions: set.permissions }, now),
  ]);
  return set;
}

export async function updatePermissionSet(
  db: Orm,
  input: { orgId: string; id: string; name?: string; permissions?: string[]; actor: Actor; now?: number },
): Promise<PermissionSet | null> {
  const now = input.now ?? Date.now();
  const current = await findPermissionSet(db, input.orgId, input.id);
  if (!current) return null;
  const next: PermissionSet = { id: current.id, name: input.name ?? current.name, permissions: input.permissions ?? current.permissions };
  const details: Record<string, unknown> = {};
  if (next.name !== current.name) details["name"] = { from: current.name, to: next.name };
  const diff = listDiff(current.permissions, next.permissions);
  if (diff.added.length || diff.removed.length) details["permissions"] = diff;
  if (Object.keys(details).length === 0) return current;
  await atomically(db, [
    db
      .update(permissionSets)
      .set({ name: next.name, permissions: JSON.stringify(next.permissions) })
      .where(and(eq(permissionSets.id, current.id), eq(permissionSets.orgId, input.orgId))),
    permissionSetEvent(db, "permission_set.updated", input, next, details, now),
  ]);
  return next;
}

/** Deletes a set and every assignment of it (members and service users), in one batch. */
export async function deletePermissionSet(db: Orm, input: { orgId: string; id: string; actor: Actor; now?: number }): Promise<boolean> {
  const now = input.now ?? Date.now();
  const current = await findPermissionSet(db, input.orgId, input.id);
  if (!current) return false;
  await atomically(db, [
    db.delete(userPermissionSets).where(eq(userPermissionSets.permissionSetId, current.id)),
    db.delete(serviceUserPermissionSets).where(eq(serviceUserPermissionSets.permissionSetId, current.id)),
    db.delete(permissionSets).where(and(eq(permissionSets.id, current.id), eq(permissionSets.orgId, input.orgId))),
    permissionSetEvent(db, "permission_set.deleted", input, current, { permissions: current.permissions }, now),
  ]);
  return true;
}
