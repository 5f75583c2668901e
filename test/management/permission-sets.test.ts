/**
 * /permission-sets (SPEC §4): the proxy reads permission sets live (SPEC §1), so editing or
 * deleting one changes what every holder's existing tokens may do on their next request.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { permissionSets, serviceUserPermissionSets, userPermissionSets } from "../../src/db/schema";
import { describeSecurity } from "../helpers/security";
import { adminSession, db, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, type SeededOrg } from "../helpers/seed";
import { api, proxiedStatus } from "../helpers/worker";
import { orgEvents } from "../helpers/records";
import { errorCode } from "../helpers/errors";

interface PermissionSet {
  id: string;
  name: string;
  permissions: string[];
}

async function createSet(org: SeededOrg, name = "Inspectors", permissions = ["inspections.view"]): Promise<PermissionSet> {
  const res = await api("POST", "/permission-sets", await adminSession(org), { name, permissions });
  expect(res.status).toBe(201);
  return (await res.json()) as PermissionSet;
}

const setRow = async (id: string) => db().query.permissionSets.findFirst({ where: eq(permissionSets.id, id) });

describe("POST /permission-sets", () => {
  it("creates a set with its permissions de-duplicated and sorted, and records it", async () => {
    const org = await seedOrg();
    const res = await api("POST", "/permission-sets", await adminSession(org), {
      name: " Inspectors ",
      permissions: ["inspections.view", "inspections.edit", "inspections.view"],
    });
    expect(res.status).toBe(201);
    const set = (await res.json()) as PermissionSet;
    expect(set).toEqual({ id: expect.stringMatching(/^ps_/), name: "Inspectors", permissions: ["inspections.edit", "inspections.view"] });
    expect(JSON.parse((await setRow(set.id))!.permissions)).toEqual(["inspections.edit", "inspections.view"]);
    const [event] = await orgEvents(org.orgId, "permission_set.created");
    expect(event).toMatchObject({ actorName: org.adminName, targetId: set.id, targetName: "Inspectors" });
    expect(JSON.parse(event!.details!)).toEqual({ permissions: ["inspections.edit", "inspections.view"] });
  });

  it("accepts an empty permission list", async () => {
    const org = await seedOrg();
    expect((await createSet(org, "Nothing yet", [])).permissions).toEqual([]);
  });

  it.each([
    ["a missing permissions list", { name: "X" }],
    ["a missing name", { permissions: [] }],
    ["an upper-case permission", { name: "X", permissions: ["Inspections.View"] }],
    ["a permission without a dot", { name: "X", permissions: ["inspections"] }],
    ["an empty segment", { name: "X", permissions: ["inspections..view"] }],
    ["a permission that is not a string", { name: "X", permissions: [7] }],
    ["more than 200 permissions", { name: "X", permissions: Array.from({ length: 201 }, (_, i) => `p.n${i}`) }],
    ["an unknown field", { name: "X", permissions: [], org_id: "org_x" }],
    ["a 101-character name", { name: "x".repeat(101), permissions: [] }],
  ])("rejects %s with 400 invalid_request and creates nothing", async (_, body) => {
    const org = await seedOrg();
    const res = await api("POST", "/permission-sets", await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
    // Only the bootstrap Administrator set exists.
    expect(await db().select().from(permissionSets).where(eq(permissionSets.orgId, org.orgId))).toHaveLength(1);
  });
});

describe("GET /permission-sets", () => {
  it("lists this organization's sets, the Administrator set first, paginated", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const a = await createSet(org, "A");
    const b = await createSet(org, "B", ["inspections.edit"]);
    await createSet(other, "Theirs");
    const admin = await adminSession(org);
    const res = await api("GET", "/permission-sets?limit=2", admin);
    expect(res.status).toBe(200);
    const first = (await res.json()) as { data: PermissionSet[]; next_cursor: string };
    expect(first.data.map((s) => s.name)).toEqual(["Administrator", "A"]);
    expect(first.data[0]!.permissions).toContain("platform_management.permissions");
    const second = (await (await api("GET", `/permission-sets?limit=2&cursor=${first.next_cursor}`, admin)).json()) as {
      data: PermissionSet[];
      next_cursor: string | null;
    };
    expect(second).toEqual({ data: [b], next_cursor: null });
    expect(first.data[1]).toEqual(a);
  });

  it("rejects bad query parameters with 400", async () => {
    const org = await seedOrg();
    for (const query of ["limit=500", "cursor=!!", "q=x"]) {
      expect((await api("GET", `/permission-sets?${query}`, await adminSession(org))).status).toBe(400);
    }
  });

  it("GET /{id} returns one; another org's id is 404", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const set = await createSet(org);
    const admin = await adminSession(org);
    expect(await (await api("GET", `/permission-sets/${set.id}`, admin)).json()).toEqual(set);
    const res = await api("GET", `/permission-sets/${other.adminSetId}`, admin);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe("not_found");
  });
});

describe("PATCH /permission-sets/{id}", () => {
  it("renames and replaces permissions, recording what changed", async () => {
    const org = await seedOrg();
    const set = await createSet(org, "Inspectors", ["inspections.view"]);
    const res = await api("PATCH", `/permission-sets/${set.id}`, await adminSession(org), {
      name: "Lead inspectors",
      permissions: ["inspections.edit", "inspections.view", "inspections.edit"],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: set.id, name: "Lead inspectors", permissions: ["inspections.edit", "inspections.view"] });
    const [event] = await orgEvents(org.orgId, "permission_set.updated");
    expect(event).toMatchObject({ actorName: org.adminName, targetName: "Lead inspectors" });
    expect(JSON.parse(event!.details!)).toEqual({
      name: { from: "Inspectors", to: "Lead inspectors" },
      permissions: { added: ["inspections.edit"], removed: [] },
    });
  });

  it("an empty body or an identical list changes nothing and records nothing", async () => {
    const org = await seedOrg();
    const set = await createSet(org);
    const admin = await adminSession(org);
    expect(await (await api("PATCH", `/permission-sets/${set.id}`, admin, {})).json()).toEqual(set);
    expect(await (await api("PATCH", `/permission-sets/${set.id}`, admin, { permissions: set.permissions })).json()).toEqual(set);
    expect(await orgEvents(org.orgId, "permission_set.updated")).toHaveLength(0);
  });

  it("rejects invalid input with 400 and another org's set with 404, changing nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const set = await createSet(org);
    const admin = await adminSession(org);
    for (const body of [{ permissions: ["NOPE"] }, { name: "" }, { permissions: "inspections.view" }, { extra: 1 }]) {
      expect((await api("PATCH", `/permission-sets/${set.id}`, admin, body)).status).toBe(400);
    }
    const res = await api("PATCH", `/permission-sets/${other.adminSetId}`, admin, { permissions: [] });
    expect(res.status).toBe(404);
    expect(JSON.parse((await setRow(other.adminSetId))!.permissions)).toContain("platform_management.users");
    expect(JSON.parse((await setRow(set.id))!.permissions)).toEqual(["inspections.view"]);
  });
});

describe("live permission changes reach existing tokens on the next request", () => {
  it("editing a member's set flips the proxy between 200 and 403", async () => {
    const org = await seedOrg();
    const set = await createSet(org, "Viewers", ["inspections.view"]);
    const user = await seedUser(org.orgId, { permissionSetIds: [set.id] });
    const token = await seedUserToken(org.orgId, user.id);
    const admin = await adminSession(org);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);
    expect((await api("PATCH", `/permission-sets/${set.id}`, admin, { permissions: ["inspections.edit"] })).status).toBe(200);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(403);
    expect((await api("PATCH", `/permission-sets/${set.id}`, admin, { permissions: ["inspections.view"] })).status).toBe(200);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);
  });

  it("editing a service user's set applies to its token too", async () => {
    const org = await seedOrg();
    const set = await createSet(org, "Integration", ["inspections.view"]);
    const service = await seedServiceToken(org.orgId, { permissionSetIds: [set.id] });
    const admin = await adminSession(org);
    expect(await proxiedStatus(service.secret, "/inspections")).toBe(200);
    await api("PATCH", `/permission-sets/${set.id}`, admin, { permissions: [] });
    expect(await proxiedStatus(service.secret, "/inspections")).toBe(403);
  });
});

describe("DELETE /permission-sets/{id}", () => {
  it("deletes the set and every assignment at once; holders lose it on the next request", async () => {
    const org = await seedOrg();
    const set = await createSet(org, "Viewers", ["inspections.view"]);
    const user = await seedUser(org.orgId, { permissionSetIds: [set.id] });
    const token = await seedUserToken(org.orgId, user.id);
    const service = await seedServiceToken(org.orgId, { permissionSetIds: [set.id] });
    const admin = await adminSession(org);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);

    const res = await api("DELETE", `/permission-sets/${set.id}`, admin);
    expect(res.status).toBe(204);
    expect((await api("GET", `/permission-sets/${set.id}`, admin)).status).toBe(404);
    expect((await api("DELETE", `/permission-sets/${set.id}`, admin)).status).toBe(404);
    expect(await setRow(set.id)).toBeUndefined();
    expect(await db().select().from(userPermissionSets).where(eq(userPermissionSets.permissionSetId, set.id))).toEqual([]);
    expect(
      await db().select().from(serviceUserPermissionSets).where(eq(serviceUserPermissionSets.permissionSetId, set.id)),
    ).toEqual([]);
    expect(((await (await api("GET", `/users/${user.id}`, admin)).json()) as { permission_set_ids: string[] }).permission_set_ids).toEqual([]);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(403);
    expect(await proxiedStatus(service.secret, "/inspections")).toBe(403);
    const [event] = await orgEvents(org.orgId, "permission_set.deleted");
    expect(event).toMatchObject({ actorName: org.adminName, targetId: set.id, targetName: "Viewers" });
  });

  it("another org's set is 404 and stays, with its holders", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    expect((await api("DELETE", `/permission-sets/${other.adminSetId}`, await adminSession(org))).status).toBe(404);
    expect(await setRow(other.adminSetId)).toBeDefined();
    expect(await db().select().from(userPermissionSets).where(eq(userPermissionSets.permissionSetId, other.adminSetId))).toHaveLength(1);
  });
});

const PERMISSION = "platform_management.permissions";
const setPath = async (org: SeededOrg) => `/permission-sets/${await seedPermissionSet(org.orgId, ["inspections.view"])}`;
describeSecurity("GET /permission-sets", { method: "GET", path: "/permission-sets", permission: PERMISSION });
describeSecurity("POST /permission-sets", { method: "POST", path: "/permission-sets", body: { name: "X", permissions: [] }, permission: PERMISSION });
describeSecurity("GET /permission-sets/{id}", { method: "GET", path: setPath, permission: PERMISSION });
describeSecurity("PATCH /permission-sets/{id}", { method: "PATCH", path: setPath, body: { name: "X" }, permission: PERMISSION });
describeSecurity("DELETE /permission-sets/{id}", { method: "DELETE", path: setPath, permission: PERMISSION });
