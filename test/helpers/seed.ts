/**
 * Test data: organizations through the real bootstrap route, and tokens, users and permission
 * sets through the same data functions the management API uses.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { orm } from "../../src/db/client";
import { newId } from "../../src/db/ids";
import { permissionSets, userGroups, userPermissionSets, users, groups, sites, userSites } from "../../src/db/schema";
import { createServiceToken, createUserToken } from "../../src/db/tokens";
import { PREFIX, call } from "./worker";

export const db = () => orm(env.DB);

export interface SeededOrg {
  orgId: string;
  adminId: string;
  adminName: string;
  adminSetId: string;
}

/** An email address no other test uses (a member's email is unique within an organization). */
export const freshEmail = () => `${crypto.randomUUID()}@example.com`;

export async function seedOrg(name = "Acme"): Promise<SeededOrg> {
  const adminName = `${name} Admin`;
  const res = await call(`${PREFIX}/orgs`, {
    method: "POST",
    headers: { authorization: "Bearer test-admin-secret", "content-type": "application/json" },
    body: JSON.stringify({ name, admin: { name: adminName, email: `admin-${crypto.randomUUID()}@example.com` } }),
  });
  if (res.status !== 201) throw new Error(`bootstrap failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { org: { id: string }; admin: { id: string; permission_set_ids: string[] } };
  return { orgId: body.org.id, adminId: body.admin.id, adminName, adminSetId: body.admin.permission_set_ids[0]! };
}

export async function sessionJwt(claims: { sub: string; org: string; authTime?: number; expiresIn?: number; secret?: string }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ org: claims.org, auth_time: claims.authTime ?? now })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuer("portcullis-demo-idp")
    .setAudience("portcullis")
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(claims.secret ?? "test-session-secret"));
}

/** A fresh session of the org's bootstrap admin (holds every platform permission). */
export async function adminSession(org: SeededOrg): Promise<string> {
  return sessionJwt({ sub: org.adminId, org: org.orgId });
}

export async function seedPermissionSet(orgId: string, permissions: string[], name = "Set"): Promise<string> {
  const id = newId("ps");
  await db().insert(permissionSets).values({ id, orgId, name, permissions: JSON.stringify(permissions), createdAt: Date.now() });
  return id;
}

export async function seedUser(
  orgId: string,
  options: { name?: string; permissionSetIds?: string[]; groupNames?: string[]; siteNames?: string[] } = {},
): Promise<{ id: string; name: string; groupIds: string[]; siteIds: string[] }> {
  const now = Date.now();
  const id = newId("usr");
  const name = options.name ?? "Dana Inspector";
  await db().insert(users).values({ id, orgId, name, email: `${id}@example.com`, status: "active", createdAt: now, updatedAt: now });
  for (const setId of options.permissionSetIds ?? []) await db().insert(userPermissionSets).values({ userId: id, permissionSetId: setId });
  const groupIds: string[] = [];
  for (const g of options.groupNames ?? []) {
    const gid = newId("grp");
    await db().insert(groups).values({ id: gid, orgId, name: g, createdAt: now });
    await db().insert(userGroups).values({ userId: id, groupId: gid });
    groupIds.push(gid);
  }
  const siteIds: string[] = [];
  for (const s of options.siteNames ?? []) {
    const sid = newId("site");
    await db().insert(sites).values({ id: sid, orgId, name: s, createdAt: now });
    await db().insert(userSites).values({ userId: id, siteId: sid });
    siteIds.push(sid);
  }
  return { id, name, groupIds: groupIds.sort(), siteIds: siteIds.sort() };
}

export async function seedUserToken(orgId: string, userId: string, name = "CLI"): Promise<{ id: string; secret: string }> {
  const user = await db().query.users.findFirst({ where: eq(users.id, userId) });
  const created = await createUserToken(db(), { orgId, userId, userName: user!.name, name, pepper: env.TOKEN_PEPPER });
  if (!created) throw new Error("user token limit reached in seed");
  return { id: created.id, secret: created.secret };
}

export async function seedServiceToken(
  orgId: string,
  options: { name?: string; permissionSetIds?: string[]; inactivityDays?: number } = {},
): Promise<{ id: string; secret: string; serviceUserId: string }> {
  const created = await createServiceToken(db(), {
    orgId,
    name: options.name ?? "Warehouse sync",
    inactivityDays: options.inactivityDays ?? 45,
    permissionSetIds: options.permissionSetIds ?? [],
    actor: { id: null, type: "operator", name: "Test" },
    pepper: env.TOKEN_PEPPER,
  });
  if (!created) throw new Error("service token limit reached in seed");
  return { id: created.id, secret: created.secret, serviceUserId: created.serviceUserId };
}

/** A member with `inspections.view`, two groups and two sites, and their user token. */
export async function seedInspector(permissions: string[] = ["inspections.view"]) {
  const org = await seedOrg();
  const setId = await seedPermissionSet(org.orgId, permissions, "Inspectors");
  const user = await seedUser(org.orgId, {
    name: "Dana Inspector",
    permissionSetIds: [setId],
    groupNames: ["North", "South"],
    siteNames: ["Depot 7", "Depot 9"],
  });
  const token = await seedUserToken(org.orgId, user.id);
  return { org, setId, user, token };
}

/** A service user token holding `permissions`. */
export async function seedIntegration(permissions: string[] = ["inspections.view"], inactivityDays = 45) {
  const org = await seedOrg();
  const setId = await seedPermissionSet(org.orgId, permissions, "Sync");
  const token = await seedServiceToken(org.orgId, { name: "Warehouse sync", permissionSetIds: [setId], inactivityDays });
  return { org, setId, token };
}
