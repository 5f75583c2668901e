/**
 * Members of an organization's directory (SPEC §4): `users` rows, their permission sets, groups
 * and sites. One write per operation, whoever calls: `createMember` and `updateMember` serve the
 * management API (/users) and SCIM provisioning (src/scim/users.ts, RFC 7643 §4.1), which only
 * translates its resource into their inputs; removal is `setMemberStatus` (db/members.ts) for
 * both. Two read shapes: members with their assignments (keyset pages, the API) and SCIM records
 * with their groups (offset slices, equality filters, userName = email).
 *
 * Every query is scoped by org id, so an id from another organization is simply not found;
 * removed members are invisible. A change, its activity event and the tokens a status change
 * ends are one D1 batch (status changes are planned by `planMemberStatus`, db/members.ts, the
 * one deprovisioning path). Email uniqueness (`emailTaken`, rules.ts) is a condition of the
 * write's own statements, decided when the batch runs, so two concurrent writers can never give
 * two live members one email, and a conflict changes nothing, status included.
 *
 * Expected failures come back as results; only infrastructure faults throw (and `guard` turns
 * those into 503).
 */
import { and, count, eq, ne, sql, type SQL } from "drizzle-orm";
import { activityInsertWhen, type Actor } from "../activity";
import { atomically, type BatchItem, type Orm } from "../client";
import { newId } from "../ids";
import { planMemberStatus } from "../members";
import { groups, permissionSets, sites, userGroups, userPermissionSets, users, userSites } from "../schema";
import { changes } from "../tokens";
import {
  emailTaken,
  inJson,
  isUniqueViolation,
  keysetPage,
  listDiff,
  missingIds,
  pairs,
  sortedIds,
  sourceDetails,
  type Page,
  type Slice,
  type WriteSource,
} from "./rules";

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

/** The org's live members: removed ones stay only for the activity log. */
function liveIn(orgId: string): SQL | undefined {
  return and(eq(users.orgId, orgId), ne(users.status, "removed"));
}

// Subqueries name the outer row as `users.id`: drizzle renders a column of a single-table select
// unqualified, and a bare `id` inside a subquery would be resolved against the subquery's tables.
const memberColumns = {
  id: users.id,
  name: users.name,
  email: users.email,
  status: users.status,
  permissionSetIds: sql<string | null>`(SELECT json_group_array(permission_set_id) FROM user_permission_sets WHERE user_id = users.id)`,
  groupIds: sql<string | null>`(SELECT json_group_array(group_id) FROM user_groups WHERE user_id = users.id)`,
  siteIds: sql<string | null>`(SELECT json_group_array(site_id) FROM user_sites WHERE user_id = users.id)`,
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
  const rows = await keysetPage(db.select(memberColumns).from(users).$dynamic(), users.id, liveIn(orgId), page);
  return rows.map(toMember);
}

export async function findMember(db: Orm, orgId: string, id: string): Promise<Member | null> {
  const [row] = await db
    .select(memberColumns)
    .from(users)
    .where(and(eq(users.id, id), liveIn(orgId)))
    .limit(1);
  return row ? toMember(row) : null;
}

/** Seats (SPEC §4, seeds: "counts toward assigned user seat"): active human members only. */
export async function countSeats(db: Orm, orgId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users).where(and(eq(users.orgId, orgId), eq(users.status, "active")));
  return row?.n ?? 0;
}

export async function unknownRefs(db: Orm, orgId: string, refs: MemberRefs): Promise<UnknownRefs | null> {
  const [sets, grps, sts] = await Promise.all([
    missingIds(db, permissionSets, orgId, refs.permissionSetIds),
    missingIds(db, groups, orgId, refs.groupIds),
    missingIds(db, sites, orgId, refs.siteIds),
  ]);
  const unknown: UnknownRefs = {};
  if (sets.length) unknown.permission_set_ids = sets;
  if (grps.length) unknown.group_ids = grps;
  if (sts.length) unknown.site_ids = sts;
  return Object.keys(unknown).length ? unknown : null;
}

/**
 * Assignment inserts that only take ids still in this org when the batch runs (a set, group or
 * site deleted between the check and the write is skipped rather than failing the batch), and
 * only when the write's condition `when` holds.
 */
function assignStatements(orgId: string, userId: string, refs: MemberRefs, when: SQL): BatchItem[] {
  const out: BatchItem[] = [];
  if (refs.permissionSetIds?.length) {
    out.push(sql`INSERT INTO user_permission_sets (user_id, permission_set_id)
      SELECT ${userId}, id FROM permission_sets WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.permissionSetIds)} AND ${when}`);
  }
  if (refs.groupIds?.length) {
    out.push(sql`INSERT INTO user_groups (user_id, group_id)
      SELECT ${userId}, id FROM groups WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.groupIds)} AND ${when}`);
  }
  if (refs.siteIds?.length) {
    out.push(sql`INSERT INTO user_sites (user_id, site_id)
      SELECT ${userId}, id FROM sites WHERE org_id = ${orgId} AND ${inJson(sql`id`, refs.siteIds)} AND ${when}`);
  }
  return out;
}

const sorted = (ids: string[] | undefined) => [...(ids ?? [])].sort();

export type MemberWriteResult =
  | { ok: true; member: Member; endedTokenIds: string[] }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict" }
  | { ok: false; reason: "unknown_refs"; unknown: UnknownRefs };

/**
 * Adds a member, `active` unless `status` says otherwise (SCIM may provision a member
 * deactivated), with the assignments in `refs`. The event's details name what the caller gave:
 * the email, the three id lists when `refs` is given, the status when `status` is.
 */
export async function createMember(
  db: Orm,
  input: { orgId: string; name: string; email: string; status?: MemberStatus; refs?: MemberRefs; source?: WriteSource; actor: Actor; now?: number },
): Promise<MemberWriteResult> {
  const { orgId, name, email, refs } = input;
  const now = input.now ?? Date.now();
  const unknown = refs ? await unknownRefs(db, orgId, refs) : null;
  if (unknown) return { ok: false, reason: "unknown_refs", unknown };
  const member: Member = {
    id: newId("usr", now),
    name,
    email,
    status: input.status ?? "active",
    permissionSetIds: sorted(refs?.permissionSetIds),
    groupIds: sorted(refs?.groupIds),
    siteIds: sorted(refs?.siteIds),
  };
  const created = sql`EXISTS (SELECT 1 FROM users WHERE id = ${member.id})`;
  const lists = refs ? { permission_set_ids: member.permissionSetIds, group_ids: member.groupIds, site_ids: member.siteIds } : {};
  let results: D1Result[];
  try {
    results = await atomically(db, [
      sql`INSERT INTO users (id, org_id, name, email, status, created_at, updated_at)
        SELECT ${member.id}, ${orgId}, ${name}, ${email}, ${member.status}, ${now}, ${now} WHERE NOT ${emailTaken(orgId, email, null)}`,
      ...assignStatements(orgId, member.id, refs ?? {}, created),
      activityInsertWhen(created, {
        orgId,
        type: "user.created",
        actor: input.actor,
        target: { type: "user", id: member.id, name },
        details: { email, ...lists, ...(input.status ? { status: member.status } : {}), ...sourceDetails(input.source) },
        at: now,
      }),
    ]);
  } catch (err) {
    // The unique index on live emails: a concurrent writer took the exact spelling first.
    if (isUniqueViolation(err)) return { ok: false, reason: "conflict" };
    throw err;
  }
  if (changes(results[0]) === 0) return { ok: false, reason: "conflict" };
  return { ok: true, member, endedTokenIds: [] };
}

export interface MemberChanges extends MemberRefs {
  name?: string;
  email?: string;
  status?: MemberStatus;
}

/**
 * PATCH semantics: fields present replace, absent stay. The field edits, the assignment
 * replacements and a status change (which ends tokens on deactivation) are one batch, and every
 * statement in it carries one condition — the member still live and, when the email changes,
 * the new email still free — so the batch applies whole or not at all.
 */
export async function updateMember(
  db: Orm,
  input: { orgId: string; userId: string; changes: MemberChanges; source?: WriteSource; actor: Actor; now?: number },
): Promise<MemberWriteResult> {
  const { orgId, changes: wanted } = input;
  const now = input.now ?? Date.now();
  const current = await findMember(db, orgId, input.userId);
  if (!current) return { ok: false, reason: "not_found" };
  const unknown = await unknownRefs(db, orgId, wanted);
  if (unknown) return { ok: false, reason: "unknown_refs", unknown };

  const next: Member = {
    ...current,
    name: wanted.name ?? current.name,
    email: wanted.email ?? current.email,
    status: wanted.status ?? current.status,
    permissionSetIds: wanted.permissionSetIds ? sorted(wanted.permissionSetIds) : current.permissionSetIds,
    groupIds: wanted.groupIds ? sorted(wanted.groupIds) : current.groupIds,
    siteIds: wanted.siteIds ? sorted(wanted.siteIds) : current.siteIds,
  };
  const applies = sql`EXISTS (SELECT 1 FROM users WHERE id = ${current.id} AND org_id = ${orgId} AND status <> 'removed')
    AND ${next.email === current.email ? sql`1` : sql`NOT ${emailTaken(orgId, next.email, current.id)}`}`;

  const details: Record<string, unknown> = {};
  const fields: { name?: string; email?: string } = {};
  if (next.name !== current.name) {
    fields.name = next.name;
    details["name"] = { from: current.name, to: next.name };
  }
  if (next.email !== current.email) {
    fields.email = next.email;
    details["email"] = { from: current.email, to: next.email };
  }
  const lists = [
    ["permission_set_ids", "permissionSetIds", userPermissionSets, userPermissionSets.userId] as const,
    ["group_ids", "groupIds", userGroups, userGroups.userId] as const,
    ["site_ids", "siteIds", userSites, userSites.userId] as const,
  ];
  const replaced: MemberRefs = {};
  const listStatements: BatchItem[] = [];
  for (const [key, field, table, userColumn] of lists) {
    const diff = listDiff(current[field], next[field]);
    if (diff.added.length === 0 && diff.removed.length === 0) continue;
    details[key] = diff;
    replaced[field] = next[field];
    listStatements.push(db.delete(table).where(and(eq(userColumn, current.id), applies)));
  }
  // Built before the status change's event, so its id (time-ordered) comes first in the log.
  const updated =
    Object.keys(details).length > 0
      ? [
          activityInsertWhen(applies, {
            orgId,
            type: "user.updated",
            actor: input.actor,
            target: { type: "user", id: current.id, name: next.name },
            details: { ...details, ...sourceDetails(input.source) },
            at: now,
          }),
        ]
      : [];
  const status = await planMemberStatus(
    db,
    { orgId, userId: current.id, status: next.status, actor: input.actor, now },
    { known: { id: current.id, name: next.name, status: current.status }, when: applies },
  );
  if (updated.length === 0 && status.statements.length === 0) return { ok: true, member: current, endedTokenIds: [] };

  const statements: BatchItem[] = [
    // First, and in every write: its changed-row count tells whether the condition held.
    db.update(users).set({ ...fields, updatedAt: now }).where(and(eq(users.id, current.id), eq(users.orgId, orgId), applies)),
    ...listStatements,
    ...assignStatements(orgId, current.id, replaced, applies),
    ...updated,
    ...status.statements,
  ];
  let results: D1Result[];
  try {
    results = await atomically(db, statements);
  } catch (err) {
    if (isUniqueViolation(err)) return { ok: false, reason: "conflict" };
    throw err;
  }
  if (changes(results[0]) === 0) {
    return (await findMember(db, orgId, current.id)) ? { ok: false, reason: "conflict" } : { ok: false, reason: "not_found" };
  }
  return { ok: true, member: next, endedTokenIds: status.endedTokenIds };
}

// ---------------------------------------------------------------------------------------------
// Members as SCIM reads them (RFC 7643 §4.1): records with their groups, offset slices

export interface ScimMemberRecord {
  id: string;
  name: string;
  email: string;
  status: MemberStatus;
  createdAt: number;
  updatedAt: number;
  groups: { id: string; name: string }[];
}

/** An equality filter already mapped to a column (scim/filter.ts does the mapping). */
export type MemberFilter = { by: "id" | "email"; value: string } | null;

const recordColumns = {
  id: users.id,
  name: users.name,
  email: users.email,
  status: users.status,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
  groups: sql<string | null>`(SELECT json_group_array(json_object('id', g.id, 'name', g.name))
     FROM user_groups ug JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = users.id)`,
};

function toRecord(row: Omit<ScimMemberRecord, "status" | "groups"> & { status: string; groups: string | null }): ScimMemberRecord {
  return { ...row, status: row.status as MemberStatus, groups: pairs(row.groups) };
}

function recordWhere(orgId: string, filter: MemberFilter): SQL | undefined {
  if (!filter) return liveIn(orgId);
  // SCIM userName is case-insensitive (RFC 7643 §4.1.1, caseExact false), and so are emails.
  return and(liveIn(orgId), filter.by === "id" ? eq(users.id, filter.value) : sql`lower(${users.email}) = lower(${filter.value})`);
}

export async function listScimMembers(db: Orm, orgId: string, filter: MemberFilter, slice: Slice) {
  const where = recordWhere(orgId, filter);
  const [total] = await db.select({ n: count() }).from(users).where(where);
  const rows =
    slice.count === 0
      ? []
      : await db.select(recordColumns).from(users).where(where).orderBy(users.id).limit(slice.count).offset(slice.offset);
  return { total: total?.n ?? 0, members: rows.map(toRecord) };
}

export async function findScimMember(db: Orm, orgId: string, id: string): Promise<ScimMemberRecord | null> {
  const [row] = await db.select(recordColumns).from(users).where(recordWhere(orgId, { by: "id", value: id })).limit(1);
  return row ? toRecord(row) : null;
}
