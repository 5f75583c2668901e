/**
 * Groups and sites (SPEC §4): named collections of members whose ids the proxy forwards (SPEC
 * §3.4). One write per operation, whoever calls: the management API's /groups and /sites routes,
 * and SCIM Groups (src/scim/groups.ts, RFC 7643 §4.2), which only translates its resource into
 * these inputs and also adds and removes members. The one rule that differs by kind is the name:
 * a group's is unique in its org, compared case-insensitively (`groupNameTaken`, rules.ts), for
 * both callers; sites have no name rule.
 *
 * Scoped by org id. A change and its activity event are one D1 batch, and every statement in it
 * carries the write's condition (the row still there and, on a create or rename, the name still
 * free), decided when the batch runs: a conflict changes nothing. SCIM's read model of groups
 * (with their members) is in groups.ts.
 */
import { and, count, eq, ne, sql, type SQL } from "drizzle-orm";
import { activityInsertWhen, type Actor } from "../activity";
import { atomically, type BatchItem, type Orm } from "../client";
import { newId } from "../ids";
import { groups, sites, userGroups, users, userSites } from "../schema";
import { changes } from "../tokens";
import { groupNameTaken, jsonIds, keysetPage, missingIds, sourceDetails, type Page, type WriteSource } from "./rules";

export type Collection = "group" | "site";

const COLLECTIONS = {
  group: { table: groups, prefix: "grp", membership: userGroups, memberColumn: userGroups.groupId, uniqueNames: true },
  site: { table: sites, prefix: "site", membership: userSites, memberColumn: userSites.siteId, uniqueNames: false },
} as const;

/** Whether names of this kind are unique in the org (a name another item has is a conflict). */
export function hasUniqueNames(kind: Collection): boolean {
  return COLLECTIONS[kind].uniqueNames;
}

/** The naming rule as SQL: true when `name` is free for the item `exceptId` (null: a new one). */
function nameFree(kind: Collection, orgId: string, name: string, exceptId: string | null): SQL {
  return hasUniqueNames(kind) ? sql`NOT ${groupNameTaken(orgId, name, exceptId)}` : sql`1`;
}

export interface Named {
  id: string;
  name: string;
}

export type CollectionWriteResult =
  | { ok: true; item: Named }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict" }
  | { ok: false; reason: "unknown_members"; unknown: string[] };

export async function listCollection(db: Orm, kind: Collection, orgId: string, page: Page): Promise<Named[]> {
  const { table } = COLLECTIONS[kind];
  return keysetPage(db.select({ id: table.id, name: table.name }).from(table).$dynamic(), table.id, eq(table.orgId, orgId), page);
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

/** The ids among `memberIds` that are not live members of the org. */
function unknownMembers(db: Orm, orgId: string, memberIds: string[]): Promise<string[]> {
  return missingIds(db, users, orgId, memberIds, ne(users.status, "removed"));
}

/** Membership inserts that only take members still live in this org, and only when `when` holds. */
function addMembers(kind: Collection, orgId: string, id: string, memberIds: string[], when: SQL): BatchItem[] {
  if (memberIds.length === 0) return [];
  const { membership, memberColumn } = COLLECTIONS[kind];
  return [
    sql`INSERT OR IGNORE INTO ${membership} (user_id, ${sql.identifier(memberColumn.name)})
      SELECT u.id, ${id} FROM users u
      WHERE u.org_id = ${orgId} AND u.status <> 'removed' AND u.id IN ${jsonIds(memberIds)} AND ${when}`,
  ];
}

/** Event details listing changed members; long lists are cut (the count stays exact). */
function memberDetails(key: string, ids: string[]): Record<string, unknown> {
  if (ids.length === 0) return {};
  return { [key]: ids.slice(0, 100), [`${key}_count`]: ids.length };
}

/**
 * The event of a change to `item` (as it is after the change), recorded only when `when` holds
 * as the batch runs. No details at all when there is nothing to say (the API's created events).
 */
function collectionEvent(
  kind: Collection,
  change: "created" | "updated" | "deleted",
  input: { orgId: string; source?: WriteSource; actor: Actor },
  item: Named,
  when: SQL,
  details: Record<string, unknown>,
  at: number,
): SQL {
  const said = { ...sourceDetails(input.source), ...details };
  return activityInsertWhen(when, {
    orgId: input.orgId,
    type: `${kind}.${change}`,
    actor: input.actor,
    target: { type: kind, id: item.id, name: item.name },
    details: Object.keys(said).length > 0 ? said : undefined,
    at,
  });
}

/** Creates a group or site, with `memberIds` as its first members; a group name taken is a conflict. */
export async function createInCollection(
  db: Orm,
  kind: Collection,
  input: { orgId: string; name: string; memberIds?: string[]; source?: WriteSource; actor: Actor; now?: number },
): Promise<CollectionWriteResult> {
  const { orgId, name } = input;
  const now = input.now ?? Date.now();
  const memberIds = input.memberIds ?? [];
  const unknown = await unknownMembers(db, orgId, memberIds);
  if (unknown.length > 0) return { ok: false, reason: "unknown_members", unknown };
  const { table, prefix } = COLLECTIONS[kind];
  const item: Named = { id: newId(prefix, now), name };
  const created = sql`EXISTS (SELECT 1 FROM ${table} WHERE id = ${item.id})`;
  const [inserted] = await atomically(db, [
    sql`INSERT INTO ${table} (id, org_id, name, created_at)
      SELECT ${item.id}, ${orgId}, ${name}, ${now} WHERE ${nameFree(kind, orgId, name, null)}`,
    ...addMembers(kind, orgId, item.id, memberIds, created),
    collectionEvent(kind, "created", input, item, created, memberDetails("members_added", memberIds), now),
  ]);
  if (changes(inserted) === 0) return { ok: false, reason: "conflict" };
  return { ok: true, item };
}

/** Renames a group or site and/or adds and removes members, with one `<kind>.updated` event. */
export async function updateInCollection(
  db: Orm,
  kind: Collection,
  input: { orgId: string; id: string; name?: string; add?: string[]; remove?: string[]; source?: WriteSource; actor: Actor; now?: number },
): Promise<CollectionWriteResult> {
  const { orgId, add = [], remove = [] } = input;
  const now = input.now ?? Date.now();
  const current = await findInCollection(db, kind, orgId, input.id);
  if (!current) return { ok: false, reason: "not_found" };
  const unknown = await unknownMembers(db, orgId, add);
  if (unknown.length > 0) return { ok: false, reason: "unknown_members", unknown };
  const name = input.name ?? current.name;
  const renamed = name !== current.name;
  if (!renamed && add.length === 0 && remove.length === 0) return { ok: true, item: current };

  const { table, membership, memberColumn } = COLLECTIONS[kind];
  // Its own name in another letter case is free: the rule skips the item itself.
  const applies = sql`EXISTS (SELECT 1 FROM ${table} WHERE id = ${current.id} AND org_id = ${orgId})
    AND ${renamed ? nameFree(kind, orgId, name, current.id) : sql`1`}`;
  const statements: BatchItem[] = [
    // First: its changed-row count tells whether the condition held.
    sql`UPDATE ${table} SET name = ${name} WHERE id = ${current.id} AND ${applies}`,
  ];
  if (remove.length > 0) {
    statements.push(sql`DELETE FROM ${membership} WHERE ${memberColumn} = ${current.id} AND user_id IN ${jsonIds(remove)} AND ${applies}`);
  }
  statements.push(
    ...addMembers(kind, orgId, current.id, add, applies),
    collectionEvent(
      kind,
      "updated",
      input,
      { id: current.id, name },
      applies,
      {
        ...(renamed ? { name: { from: current.name, to: name } } : {}),
        ...memberDetails("members_added", add),
        ...memberDetails("members_removed", remove),
      },
      now,
    ),
  );
  const [updated] = await atomically(db, statements);
  if (changes(updated) > 0) return { ok: true, item: { id: current.id, name } };
  return (await findInCollection(db, kind, orgId, current.id)) ? { ok: false, reason: "conflict" } : { ok: false, reason: "not_found" };
}

/** Deletes a group or site and every membership in it, in one batch. False when not found. */
export async function deleteFromCollection(
  db: Orm,
  kind: Collection,
  input: { orgId: string; id: string; source?: WriteSource; actor: Actor; now?: number },
): Promise<boolean> {
  const { orgId } = input;
  const now = input.now ?? Date.now();
  const current = await findInCollection(db, kind, orgId, input.id);
  if (!current) return false;
  const { table, membership, memberColumn } = COLLECTIONS[kind];
  const [members] = await db.select({ n: count() }).from(membership).where(eq(memberColumn, current.id));
  const exists = sql`EXISTS (SELECT 1 FROM ${table} WHERE id = ${current.id} AND org_id = ${orgId})`;
  // The event first, under the condition that the row still exists: a concurrent delete records nothing twice.
  const [recorded] = await atomically(db, [
    collectionEvent(kind, "deleted", input, current, exists, { members: members?.n ?? 0 }, now),
    sql`DELETE FROM ${membership} WHERE ${memberColumn} = ${current.id} AND ${exists}`,
    sql`DELETE FROM ${table} WHERE id = ${current.id} AND org_id = ${orgId}`,
  ]);
  return changes(recorded) > 0;
}
