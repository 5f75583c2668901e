/**
 * Permission sets (SPEC §4): the proxy reads them live on every request (SPEC §1), so a change
 * here applies to every holder's existing tokens on their next request. Written by the
 * management API only; scoped by org id; every change and its activity event are one batch.
 */
import { and, eq } from "drizzle-orm";
import { activityInsert, type Actor } from "../activity";
import { atomically, type Orm } from "../client";
import { newId } from "../ids";
import { permissionSets, serviceUserPermissionSets, userPermissionSets } from "../schema";
import { keysetPage, listDiff, type Page } from "./rules";

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
  const rows = await keysetPage(db.select(setColumns).from(permissionSets).$dynamic(), permissionSets.id, eq(permissionSets.orgId, orgId), page);
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
