/**
 * Bootstrapping an organization (SPEC §7): the org, its `Administrator` permission set holding
 * every platform permission, and the first admin holding that set, in one batch.
 */
import { PLATFORM_PERMISSIONS } from "../domain/permissions";
import { activityInsert } from "./activity";
import { atomically, type Orm } from "./client";
import { newId } from "./ids";
import { organizations, permissionSets, userPermissionSets, users } from "./schema";

export interface BootstrapInput {
  name: string;
  admin: { name: string; email: string };
  now?: number;
}

export async function bootstrapOrganization(db: Orm, input: BootstrapInput) {
  const now = input.now ?? Date.now();
  const org = { id: newId("org", now), name: input.name, createdAt: now };
  const admin = {
    id: newId("usr", now),
    orgId: org.id,
    name: input.admin.name,
    email: input.admin.email,
    status: "active" as const,
    createdAt: now,
    updatedAt: now,
  };
  const adminSet = {
    id: newId("ps", now),
    orgId: org.id,
    name: "Administrator",
    permissions: JSON.stringify([...PLATFORM_PERMISSIONS]),
    createdAt: now,
  };
  await atomically(db, [
    db.insert(organizations).values(org),
    db.insert(permissionSets).values(adminSet),
    db.insert(users).values(admin),
    db.insert(userPermissionSets).values({ userId: admin.id, permissionSetId: adminSet.id }),
    activityInsert(db, {
      orgId: org.id,
      type: "org.created",
      actor: { id: null, type: "operator", name: "Operator" },
      target: { type: "organization", id: org.id, name: org.name },
      details: { admin_id: admin.id },
      at: now,
    }),
  ]);
  return { org, admin, adminPermissionSet: { id: adminSet.id, name: adminSet.name, permissions: [...PLATFORM_PERMISSIONS] } };
}
