/**
 * /groups and /sites (SPEC §4): named collections of members whose ids the proxy forwards
 * (X-Portcullis-Groups / X-Portcullis-Sites), read live. Same contract for both, but for one
 * rule: a group's name is unique in its organization, ignoring letter case, whether the API or
 * SCIM (RFC 7643 §4.2) writes it; site names are not.
 */
import { and, eq, like } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { activityEvents, groups, sites, userGroups, userSites } from "../../src/db/schema";
import { errorCode, errorOf } from "../helpers/errors";
import { orgEvents } from "../helpers/records";
import { describeSecurity } from "../helpers/security";
import { adminSession, db, seedOrg, seedPermissionSet, seedUser, seedUserToken, sessionJwt, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, proxied } from "../helpers/worker";
import { GROUP, patch, provisioner, scim, scimBody } from "../scim/support";

interface Named {
  id: string;
  name: string;
}
const KINDS = [
  {
    kind: "group",
    path: "/groups",
    idPrefix: "grp_",
    permission: "platform_management.groups",
    header: "x-portcullis-groups",
    userField: "group_ids",
    table: groups,
    rowsOf: (userId: string) => db().select().from(userGroups).where(eq(userGroups.userId, userId)),
  },
  {
    kind: "site",
    path: "/sites",
    idPrefix: "site_",
    permission: "platform_management.sites",
    header: "x-portcullis-sites",
    userField: "site_ids",
    table: sites,
    rowsOf: (userId: string) => db().select().from(userSites).where(eq(userSites.userId, userId)),
  },
] as const;

for (const k of KINDS) {
  const create = async (org: SeededOrg, name = "Night shift"): Promise<Named> => {
    const res = await api("POST", k.path, await adminSession(org), { name });
    expect(res.status).toBe(201);
    return (await res.json()) as Named;
  };
  const eventsOf = (orgId: string, type: string) => orgEvents(orgId, `${k.kind}.${type}`);
  const rowOf = async (id: string) => (await db().select().from(k.table).where(eq(k.table.id, id)))[0];

  describe(`${k.path}`, () => {
    it(`POST creates a ${k.kind} (name trimmed) and records who did it`, async () => {
      const org = await seedOrg();
      const res = await api("POST", k.path, await adminSession(org), { name: "  Night shift " });
      expect(res.status).toBe(201);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const item = (await res.json()) as Named;
      expect(item).toEqual({ id: expect.stringMatching(new RegExp(`^${k.idPrefix}`)), name: "Night shift" });
      expect(await rowOf(item.id)).toMatchObject({ orgId: org.orgId, name: "Night shift" });
      const [event] = await eventsOf(org.orgId, "created");
      expect(event).toMatchObject({ actorId: org.adminId, actorName: org.adminName, targetId: item.id, targetName: "Night shift" });
    });

    it.each([
      ["a missing name", {}],
      ["an empty name", { name: "  " }],
      ["a 101-character name", { name: "n".repeat(101) }],
      ["a name that is not a string", { name: 42 }],
      ["an unknown field", { name: "Ok", colour: "red" }],
    ])("POST rejects %s with 400 invalid_request", async (_, body) => {
      const org = await seedOrg();
      const res = await api("POST", k.path, await adminSession(org), body);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
      expect(await db().select().from(k.table).where(eq(k.table.orgId, org.orgId))).toEqual([]);
    });

    it("POST rejects a non-JSON body with 415", async () => {
      const org = await seedOrg();
      const res = await call(`/_portcullis/v1${k.path}`, {
        method: "POST",
        headers: { ...bearer(await adminSession(org)), "content-type": "application/x-www-form-urlencoded" },
        body: "name=x",
      });
      expect(res.status).toBe(415);
    });

    it("GET lists only this organization's, paginated in creation order", async () => {
      const org = await seedOrg();
      const other = await seedOrg("Other");
      const mine = [await create(org, "A"), await create(org, "B"), await create(org, "C")];
      await create(other, "Theirs");
      const admin = await adminSession(org);
      const first = (await (await api("GET", `${k.path}?limit=2`, admin)).json()) as { data: Named[]; next_cursor: string | null };
      expect(first.data).toEqual(mine.slice(0, 2));
      expect(first.next_cursor).toEqual(expect.any(String));
      const second = (await (await api("GET", `${k.path}?limit=2&cursor=${first.next_cursor}`, admin)).json()) as {
        data: Named[];
        next_cursor: string | null;
      };
      expect(second).toEqual({ data: [mine[2]], next_cursor: null });
    });

    it.each(["limit=0", "limit=x", "cursor=bm9wZQ", "name=A"])("GET rejects ?%s with 400", async (query) => {
      const org = await seedOrg();
      const res = await api("GET", `${k.path}?${query}`, await adminSession(org));
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    });

    it("GET /{id} returns one; an unknown id or another org's id is 404", async () => {
      const org = await seedOrg();
      const other = await seedOrg("Other");
      const item = await create(org);
      const theirs = await create(other);
      const admin = await adminSession(org);
      const res = await api("GET", `${k.path}/${item.id}`, admin);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(item);
      for (const id of [theirs.id, `${k.idPrefix}01JABCDEFGHJKMNPQRSTVWXYZ0`]) {
        const missing = await api("GET", `${k.path}/${id}`, admin);
        expect(missing.status).toBe(404);
        expect(await errorCode(missing)).toBe("not_found");
      }
    });

    it("PATCH renames and records the old and new name; an empty body changes nothing", async () => {
      const org = await seedOrg();
      const item = await create(org, "Old");
      const admin = await adminSession(org);
      const res = await api("PATCH", `${k.path}/${item.id}`, admin, { name: "New" });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: item.id, name: "New" });
      expect(await rowOf(item.id)).toMatchObject({ name: "New" });
      const [event] = await eventsOf(org.orgId, "updated");
      expect(JSON.parse(event!.details!)).toEqual({ name: { from: "Old", to: "New" } });
      const same = await api("PATCH", `${k.path}/${item.id}`, admin, {});
      expect(await same.json()).toEqual({ id: item.id, name: "New" });
      expect(await eventsOf(org.orgId, "updated")).toHaveLength(1);
    });

    it("PATCH rejects invalid input with 400 and another org's id with 404, changing nothing", async () => {
      const org = await seedOrg();
      const other = await seedOrg("Other");
      const item = await create(org, "Mine");
      const theirs = await create(other, "Theirs");
      const admin = await adminSession(org);
      for (const body of [{ name: "" }, { name: "x".repeat(101) }, { name: "Ok", id: "x" }]) {
        expect((await api("PATCH", `${k.path}/${item.id}`, admin, body)).status).toBe(400);
      }
      expect((await api("PATCH", `${k.path}/${theirs.id}`, admin, { name: "Hijacked" })).status).toBe(404);
      expect(await rowOf(item.id)).toMatchObject({ name: "Mine" });
      expect(await rowOf(theirs.id)).toMatchObject({ name: "Theirs" });
    });

    it("DELETE removes it and every membership at once; tokens stop carrying it on the next request", async () => {
      const org = await seedOrg();
      const setId = await seedPermissionSet(org.orgId, ["inspections.view"]);
      const user = await seedUser(org.orgId, { permissionSetIds: [setId] });
      const token = await seedUserToken(org.orgId, user.id);
      const item = await create(org);
      const admin = await adminSession(org);
      expect((await api("PATCH", `/users/${user.id}`, admin, { [k.userField]: [item.id] })).status).toBe(200);
      const { seen: before } = await proxied(token.secret, "/inspections");
      expect(before!.headers[k.header]).toBe(item.id);

      const res = await api("DELETE", `${k.path}/${item.id}`, admin);
      expect(res.status).toBe(204);
      expect((await api("GET", `${k.path}/${item.id}`, admin)).status).toBe(404);
      expect((await api("DELETE", `${k.path}/${item.id}`, admin)).status).toBe(404);
      expect(await rowOf(item.id)).toBeUndefined();
      expect(await k.rowsOf(user.id)).toEqual([]);
      const member = (await (await api("GET", `/users/${user.id}`, admin)).json()) as Record<string, string[]>;
      expect(member[k.userField]).toEqual([]);
      const { seen: after } = await proxied(token.secret, "/inspections");
      expect(after!.headers[k.header] ?? "").toBe("");
      const [event] = await eventsOf(org.orgId, "deleted");
      expect(event).toMatchObject({ actorName: org.adminName, targetId: item.id, targetName: "Night shift" });
      expect(JSON.parse(event!.details!)).toEqual({ members: 1 });
    });

    it("DELETE of another org's id is 404 and deletes nothing", async () => {
      const org = await seedOrg();
      const other = await seedOrg("Other");
      const theirs = await create(other);
      expect((await api("DELETE", `${k.path}/${theirs.id}`, await adminSession(org))).status).toBe(404);
      expect(await rowOf(theirs.id)).toMatchObject({ name: "Night shift" });
    });
  });

  const itemPath = async (org: SeededOrg) => `${k.path}/${(await create(org)).id}`;
  describeSecurity(`GET ${k.path}`, { method: "GET", path: k.path, permission: k.permission });
  describeSecurity(`POST ${k.path}`, { method: "POST", path: k.path, body: { name: "X" }, permission: k.permission });
  describeSecurity(`GET ${k.path}/{id}`, { method: "GET", path: itemPath, permission: k.permission });
  describeSecurity(`PATCH ${k.path}/{id}`, { method: "PATCH", path: itemPath, body: { name: "X" }, permission: k.permission });
  describeSecurity(`DELETE ${k.path}/{id}`, { method: "DELETE", path: itemPath, permission: k.permission });
}

describe("each collection needs its own permission", () => {
  it("platform_management.groups does not open /sites, and the reverse", async () => {
    const org = await seedOrg();
    const groupsOnly = await seedPermissionSet(org.orgId, ["platform_management.groups"]);
    const user = await seedUser(org.orgId, { permissionSetIds: [groupsOnly] });
    const session = await sessionJwt({ sub: user.id, org: org.orgId });
    expect((await api("GET", "/groups", session)).status).toBe(200);
    expect((await api("GET", "/sites", session)).status).toBe(403);
    expect((await api("POST", "/sites", session, { name: "X" })).status).toBe(403);
  });
});

describe("group names are unique in the organization, ignoring letter case, for the API and SCIM alike", () => {
  const postGroup = async (org: SeededOrg, name: string) => api("POST", "/groups", await adminSession(org), { name });
  const created = async (org: SeededOrg, name: string): Promise<Named> => {
    const res = await postGroup(org, name);
    expect(res.status).toBe(201);
    return (await res.json()) as Named;
  };
  /** What D1 holds of the org's groups: the rows and their events. */
  const stored = async (orgId: string) => ({
    groups: await db().select().from(groups).where(eq(groups.orgId, orgId)).orderBy(groups.id),
    events: await db()
      .select()
      .from(activityEvents)
      .where(and(eq(activityEvents.orgId, orgId), like(activityEvents.type, "group.%"))),
  });
  const expectConflict = async (res: Response, name: string) => {
    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error.code).toBe("conflict");
    expect(error.message).toContain(JSON.stringify(name));
  };

  it.each(["Night shift", "NIGHT SHIFT", "night Shift"])("POST /groups with a taken name (%s) is 409 conflict and writes nothing", async (name) => {
    const org = await seedOrg();
    await created(org, "Night shift");
    const before = await stored(org.orgId);
    expect(before.groups).toHaveLength(1);

    await expectConflict(await postGroup(org, name), name);

    expect(await stored(org.orgId)).toEqual(before);
  });

  it("concurrent POSTs of one name in two letter cases create one group (the rule is decided in the write)", async () => {
    const org = await seedOrg();
    for (let round = 0; round < 5; round++) {
      const name = `Crew ${round}`;
      const answers = await Promise.all([postGroup(org, name), postGroup(org, name.toUpperCase())]);
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    }
    expect((await stored(org.orgId)).groups).toHaveLength(5);
  });

  it("another organization may use the same name", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    await created(org, "Night shift");
    expect((await postGroup(other, "Night shift")).status).toBe(201);
  });

  it("PATCH renaming onto another group's name, in any letter case, is 409 conflict and changes nothing", async () => {
    const org = await seedOrg();
    await created(org, "Night shift");
    const day = await created(org, "Day shift");
    const before = await stored(org.orgId);

    for (const name of ["Night shift", "NIGHT shift"]) {
      await expectConflict(await api("PATCH", `/groups/${day.id}`, await adminSession(org), { name }), name);
    }

    expect(await stored(org.orgId)).toEqual(before);
  });

  it("PATCH renaming a group to its own name in another letter case is 200 and recorded", async () => {
    const org = await seedOrg();
    const group = await created(org, "Night shift");

    const res = await api("PATCH", `/groups/${group.id}`, await adminSession(org), { name: "Night Shift" });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: group.id, name: "Night Shift" });
    const { groups: rows, events } = await stored(org.orgId);
    expect(rows.map((g) => g.name)).toEqual(["Night Shift"]);
    const renamed = events.find((e) => e.type === "group.updated");
    expect(JSON.parse(renamed!.details!)).toEqual({ name: { from: "Night shift", to: "Night Shift" } });
  });

  it("a group SCIM created takes the name for the API, and one the API created takes it for SCIM", async () => {
    const org = await seedOrg();
    const idp = await provisioner(org.orgId);
    const fromScim = await scim("POST", "/Groups", idp.secret, { schemas: [GROUP], displayName: "Auditors" });
    expect(fromScim.status).toBe(201);
    const scimGroup = await scimBody(fromScim);
    await created(org, "Field team");
    const before = await stored(org.orgId);

    // The API cannot create or rename onto SCIM's name…
    await expectConflict(await postGroup(org, "auditors"), "auditors");
    const fieldTeam = before.groups.find((g) => g.name === "Field team")!;
    await expectConflict(await api("PATCH", `/groups/${fieldTeam.id}`, await adminSession(org), { name: "AUDITORS" }), "AUDITORS");
    // …nor SCIM onto the API's, by POST or by a rename.
    const dup = await scim("POST", "/Groups", idp.secret, { schemas: [GROUP], displayName: "FIELD TEAM" });
    expect(dup.status).toBe(409);
    expect((await scimBody(dup))["scimType"]).toBe("uniqueness");
    const rename = await scim("PATCH", `/Groups/${scimGroup["id"]}`, idp.secret, patch([{ op: "replace", path: "displayName", value: "field team" }]));
    expect(rename.status).toBe(409);
    expect((await scimBody(rename))["scimType"]).toBe("uniqueness");

    expect(await stored(org.orgId)).toEqual(before);
  });

  it("the OpenAPI document gives POST /groups and PATCH /groups/{id} a 409, and the site routes none", async () => {
    const doc = (await (await call("/_portcullis/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown>; description?: string }>>;
    };
    expect(Object.keys(doc.paths["/groups"]!["post"]!.responses)).toContain("409");
    expect(Object.keys(doc.paths["/groups/{id}"]!["patch"]!.responses)).toContain("409");
    expect(doc.paths["/groups"]!["post"]!.description).toMatch(/unique/);
    expect(Object.keys(doc.paths["/sites"]!["post"]!.responses)).not.toContain("409");
    expect(Object.keys(doc.paths["/sites/{id}"]!["patch"]!.responses)).not.toContain("409");
  });

  it("site names need not be unique", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    expect((await api("POST", "/sites", admin, { name: "Depot" })).status).toBe(201);
    expect((await api("POST", "/sites", admin, { name: "DEPOT" })).status).toBe(201);
  });
});
