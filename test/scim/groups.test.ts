import { describe, expect, it } from "vitest";
import { eventsFor } from "../helpers/records";
import { seedOrg, seedUser, seedUserToken } from "../helpers/seed";
import { proxied } from "../helpers/worker";
import { ERROR, GROUP, groupMemberIds, LIST, patch, provisioner, scim, scimBody } from "./support";

async function setup() {
  const org = await seedOrg();
  const token = await provisioner(org.orgId);
  const dana = await seedUser(org.orgId, { name: "Dana" });
  const riley = await seedUser(org.orgId, { name: "Riley" });
  return { org, token, dana, riley };
}

async function createGroup(secret: string, displayName: string, memberIds: string[] = []) {
  const res = await scim("POST", "/Groups", secret, { schemas: [GROUP], displayName, members: memberIds.map((value) => ({ value })) });
  expect(res.status).toBe(201);
  return scimBody(res);
}

const sorted = (ids: string[]) => [...ids].sort();
/** The groups the proxy forwards for a member's token (SPEC §3.4). */
async function forwardedGroups(secret: string): Promise<string> {
  const { res, seen } = await proxied(secret);
  expect(res.status).toBe(200);
  return seen!.headers["x-portcullis-groups"] ?? "";
}

describe("SCIM Groups", () => {
  it("creates a group with members: 201, Location, D1 rows and a group.created event", async () => {
    const { token, dana, riley } = await setup();

    const res = await scim("POST", "/Groups", token.secret, {
      schemas: [GROUP],
      displayName: "Night shift",
      members: [{ value: dana.id, display: "Dana" }, { value: riley.id }],
    });

    expect(res.status).toBe(201);
    const body = await scimBody(res);
    expect(res.headers.get("location")).toBe(body["meta"]["location"]);
    expect(body).toMatchObject({ schemas: [GROUP], id: expect.stringMatching(/^grp_/), displayName: "Night shift", meta: { resourceType: "Group" } });
    expect(body["members"].map((m: { value: string }) => m.value)).toEqual(sorted([dana.id, riley.id]));
    expect(body["members"][0]).toMatchObject({ type: "User", $ref: expect.stringContaining("/scim/v2/Users/") });
    expect(await groupMemberIds(body["id"])).toEqual(sorted([dana.id, riley.id]));
    expect(await eventsFor(body["id"])).toEqual([expect.objectContaining({ type: "group.created", actorType: "service_user" })]);
  });

  it("refuses a duplicate displayName (409 uniqueness) and unknown or foreign members (400), creating nothing", async () => {
    const { token, dana } = await setup();
    await createGroup(token.secret, "Auditors");
    const dup = await scim("POST", "/Groups", token.secret, { schemas: [GROUP], displayName: "AUDITORS" });
    expect(dup.status).toBe(409);
    expect((await scimBody(dup))["scimType"]).toBe("uniqueness");

    const other = await seedOrg("Other");
    const foreign = await seedUser(other.orgId);
    const bad = await scim("POST", "/Groups", token.secret, { schemas: [GROUP], displayName: "Mixed", members: [{ value: dana.id }, { value: foreign.id }] });
    expect(bad.status).toBe(400);
    expect(await scimBody(bad)).toMatchObject({ schemas: [ERROR], scimType: "invalidValue" });
    const list = await scimBody(await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Mixed"')}`, token.secret));
    expect(list["totalResults"]).toBe(0);

    const unnamed = await scim("POST", "/Groups", token.secret, { schemas: [GROUP], displayName: " " });
    expect(unnamed.status).toBe(400);
  });

  it("lists with a displayName filter and paging, and leaves members out on request", async () => {
    const { token, dana } = await setup();
    const group = await createGroup(token.secret, "Site leads", [dana.id]);
    await createGroup(token.secret, "Other team");

    const found = await scimBody(await scim("GET", `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "site leads"')}`, token.secret));
    expect(found).toMatchObject({ schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(found["Resources"][0]).toMatchObject({ id: group["id"], displayName: "Site leads" });
    expect(found["Resources"][0]["members"]).toBeUndefined();

    const page = await scimBody(await scim("GET", "/Groups?startIndex=2&count=1", token.secret));
    expect(page).toMatchObject({ totalResults: 2, startIndex: 2, itemsPerPage: 1 });

    const one = await scimBody(await scim("GET", `/Groups/${group["id"]}`, token.secret));
    expect(one["members"]).toEqual([expect.objectContaining({ value: dana.id, display: "Dana" })]);
    const bare = await scimBody(await scim("GET", `/Groups/${group["id"]}?excludedAttributes=members`, token.secret));
    expect(bare["members"]).toBeUndefined();
  });

  it("PATCH adds and removes members in the forms Okta and Entra send; the proxy sees the change at once", async () => {
    const { org, token, dana, riley } = await setup();
    const group = await createGroup(token.secret, "Inspectors");
    const danaToken = await seedUserToken(org.orgId, dana.id);

    // Okta and Entra: add with path "members".
    let res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "Add", path: "members", value: [{ value: dana.id }, { value: riley.id }] }]));
    expect(res.status).toBe(200);
    expect(await groupMemberIds(group["id"])).toEqual(sorted([dana.id, riley.id]));
    expect(await forwardedGroups(danaToken.secret)).toBe(group["id"]);

    // Okta: remove by value filter.
    res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "remove", path: `members[value eq "${dana.id}"]` }]));
    expect(res.status).toBe(200);
    expect(await groupMemberIds(group["id"])).toEqual([riley.id]);
    expect(await forwardedGroups(danaToken.secret)).toBe("");

    // Entra: remove with a value list.
    res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "Remove", path: "members", value: [{ value: riley.id }] }]));
    expect((await scimBody(res))["members"]).toEqual([]);

    // Removing someone who is not a member, or adding someone twice, is harmless.
    res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([
      { op: "remove", path: `members[value eq "${dana.id}"]` },
      { op: "add", path: "members", value: [{ value: riley.id }] },
      { op: "add", path: "members", value: [{ value: riley.id }] },
    ]));
    expect(res.status).toBe(200);
    expect(await groupMemberIds(group["id"])).toEqual([riley.id]);

    const updates = (await eventsFor(group["id"])).filter((e) => e.type === "group.updated").map((e) => JSON.parse(e.details!));
    expect(updates[0]).toMatchObject({ members_added: expect.arrayContaining([dana.id, riley.id]), members_added_count: 2 });
    expect(updates[1]).toMatchObject({ members_removed: [dana.id], members_removed_count: 1 });
  });

  it("PATCH renames, with a path (Entra) or without one (Okta)", async () => {
    const { token } = await setup();
    const group = await createGroup(token.secret, "Old name");

    let res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "Replace", path: "displayName", value: "New name" }]));
    expect((await scimBody(res))["displayName"]).toBe("New name");
    res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "replace", value: { id: group["id"], displayName: "Newer name" } }]));
    expect((await scimBody(res))["displayName"]).toBe("Newer name");

    const renamed = (await eventsFor(group["id"])).filter((e) => e.type === "group.updated").map((e) => JSON.parse(e.details!)["name"]);
    expect(renamed).toEqual([{ from: "Old name", to: "New name" }, { from: "New name", to: "Newer name" }]);
    const changedId = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "replace", value: { id: "grp_other" } }]));
    expect((await scimBody(changedId))["scimType"]).toBe("mutability");
    const emptied = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([{ op: "remove", path: "displayName" }]));
    expect(emptied.status).toBe(400);
  });

  it("PATCH adding an unknown member is 400 and changes nothing", async () => {
    const { token, dana } = await setup();
    const group = await createGroup(token.secret, "Crew", [dana.id]);
    const res = await scim("PATCH", `/Groups/${group["id"]}`, token.secret, patch([
      { op: "replace", path: "displayName", value: "Renamed" },
      { op: "add", path: "members", value: [{ value: "usr_missing" }] },
    ]));
    expect(res.status).toBe(400);
    expect(await scimBody(await scim("GET", `/Groups/${group["id"]}`, token.secret))).toMatchObject({ displayName: "Crew" });
  });

  it("PUT replaces name and members", async () => {
    const { token, dana, riley } = await setup();
    const group = await createGroup(token.secret, "Rota", [dana.id]);

    const res = await scim("PUT", `/Groups/${group["id"]}`, token.secret, { schemas: [GROUP], displayName: "Rota B", members: [{ value: riley.id }] });

    expect(res.status).toBe(200);
    expect(await scimBody(res)).toMatchObject({ displayName: "Rota B", members: [expect.objectContaining({ value: riley.id })] });
    expect(await groupMemberIds(group["id"])).toEqual([riley.id]);
  });

  it("DELETE removes the group and its memberships (204); another org's group is 404", async () => {
    const { org, token, dana } = await setup();
    const group = await createGroup(token.secret, "Temporary", [dana.id]);
    const danaToken = await seedUserToken(org.orgId, dana.id);
    expect(await forwardedGroups(danaToken.secret)).toBe(group["id"]);

    expect((await scim("DELETE", `/Groups/${group["id"]}`, token.secret)).status).toBe(204);

    expect(await groupMemberIds(group["id"])).toEqual([]);
    expect((await scim("GET", `/Groups/${group["id"]}`, token.secret)).status).toBe(404);
    expect(await forwardedGroups(danaToken.secret)).toBe("");
    expect((await eventsFor(group["id"])).map((e) => e.type)).toEqual(["group.created", "group.deleted"]);

    const other = await seedOrg("Other");
    const otherToken = await provisioner(other.orgId);
    const theirs = await createGroup(otherToken.secret, "Theirs");
    for (const method of ["GET", "DELETE"]) expect((await scim(method, `/Groups/${theirs["id"]}`, token.secret)).status).toBe(404);
    expect((await scim("PATCH", `/Groups/${theirs["id"]}`, token.secret, patch([{ op: "replace", path: "displayName", value: "Mine" }]))).status).toBe(404);
  });
});
