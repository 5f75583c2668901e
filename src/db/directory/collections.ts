/**
 * Groups and sites as the management API sees them (SPEC §4): named collections of members,
 * one implementation over the tables each of groups.ts and sites.ts names. The proxy forwards
 * their ids (SPEC §3.4). Scoped by org id; every change and its activity event are one batch.
 * SCIM's groups (with members and displayName uniqueness) are in groups.ts.
 */
import { and, asc, count, eq, gt } from "drizzle-orm";
import { activityInsert, type Actor } from "../activity";
import { atomically, type Orm } from "../client";
import { newId } from "../ids";
import { GROUP_TABLES } from "./groups";
import type { Page } from "./rules";
import { SITE_TABLES } from "./sites";

export type Collection = "group" | "site";

const COLLECTIONS = { group: GROUP_TABLES, site: SITE_TABLES } as const;

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
