/**
 * Replays the requests Okta's SCIM 2.0 client sends (Okta developer docs, "Okta and SCIM
 * Version 2.0"): find by userName, create, read, profile update by PUT, deactivate and
 * reactivate by PATCH without a path, import paging, and Group Push.
 */
import { describe, expect, it } from "vitest";
import { memberRow, tokenRow } from "../helpers/records";
import { seedOrg, seedUserToken } from "../helpers/seed";
import { proxiedStatus } from "../helpers/worker";
import { GROUP, groupMemberIds, LIST, PATCH_OP, provisioner, scim, scimBody, uniqueEmail, USER } from "./support";

describe("Okta provisioning replay", () => {
  it("provisions, updates, deactivates and reactivates a user; the user's token dies on deactivation", async () => {
    const org = await seedOrg();
    const okta = await provisioner(org.orgId);
    const email = uniqueEmail("test.user");

    // 1. Does the user exist?
    const lookup = await scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`, okta.secret);
    expect(lookup.status).toBe(200);
    expect(await scimBody(lookup)).toEqual({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    // 2. Create it, with everything Okta sends (password, locale and externalId are not stored).
    const created = await scim("POST", "/Users", okta.secret, {
      schemas: [USER],
      userName: email,
      name: { givenName: "Test", familyName: "User" },
      emails: [{ primary: true, value: email, type: "work" }],
      displayName: "Test User",
      locale: "en-US",
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      password: "1mz050nq",
      active: true,
    });
    expect(created.status).toBe(201);
    const user = await scimBody(created);
    expect(user).toMatchObject({ userName: email, displayName: "Test User", active: true });
    expect(JSON.stringify(user)).not.toContain("1mz050nq");

    // 3. Okta reads it back by id.
    expect((await scimBody(await scim("GET", `/Users/${user["id"]}`, okta.secret)))["userName"]).toBe(email);

    // The member uses Portcullis meanwhile.
    const memberToken = await seedUserToken(org.orgId, user["id"]);
    expect(await proxiedStatus(memberToken.secret)).toBe(200);

    // 4. Profile update: Okta PUTs the whole user.
    const put = await scim("PUT", `/Users/${user["id"]}`, okta.secret, {
      schemas: [USER],
      id: user["id"],
      userName: email,
      name: { givenName: "Test", familyName: "Userton" },
      emails: [{ primary: true, value: email, type: "work" }],
      displayName: "Test Userton",
      active: true,
      meta: user["meta"],
    });
    expect(put.status).toBe(200);
    expect((await memberRow(user["id"]))!.name).toBe("Test Userton");
    expect(await proxiedStatus(memberToken.secret)).toBe(200);

    // 5. Deactivate: PATCH without a path.
    const deactivate = await scim("PATCH", `/Users/${user["id"]}`, okta.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    expect(deactivate.status).toBe(200);
    expect((await scimBody(deactivate))["active"]).toBe(false);
    expect((await tokenRow(memberToken.id))?.status).toBe("expired");
    expect(await proxiedStatus(memberToken.secret)).toBe(401);

    // 6. Okta's import lists everyone, paged; the deactivated user shows active: false.
    const imported = await scimBody(await scim("GET", "/Users?startIndex=1&count=100", okta.secret));
    expect(imported["Resources"].find((r: { id: string }) => r.id === user["id"])).toMatchObject({ active: false });

    // 7. Reactivate: the member is back, the old token stays dead (SPEC §1).
    const reactivate = await scim("PATCH", `/Users/${user["id"]}`, okta.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { active: true } }],
    });
    expect((await scimBody(reactivate))["active"]).toBe(true);
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
    const fresh = await seedUserToken(org.orgId, user["id"], "new laptop");
    expect(await proxiedStatus(fresh.secret)).toBe(200);

    // 8. Creating the same user again (a retried assignment) is a conflict, not a duplicate.
    const again = await scim("POST", "/Users", okta.secret, { schemas: [USER], userName: email, active: true });
    expect(again.status).toBe(409);
  });

  it("pushes a group: create, link by displayName, rename, add and remove members, delete", async () => {
    const org = await seedOrg();
    const okta = await provisioner(org.orgId);
    const users = [];
    for (const name of ["ada", "grace"]) {
      users.push(await scimBody(await scim("POST", "/Users", okta.secret, { schemas: [USER], userName: uniqueEmail(name), displayName: name, active: true })));
    }
    const [ada, grace] = users as [Record<string, string>, Record<string, string>];

    const created = await scim("POST", "/Groups", okta.secret, { schemas: [GROUP], displayName: "Test SCIMv2", members: [] });
    expect(created.status).toBe(201);
    const group = await scimBody(created);

    const linked = await scimBody(await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`, okta.secret));
    expect(linked["Resources"].map((g: { id: string }) => g.id)).toEqual([group["id"]]);

    const renamed = await scim("PATCH", `/Groups/${group["id"]}`, okta.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { id: group["id"], displayName: "Test SCIMv2 renamed" } }],
    });
    expect((await scimBody(renamed))["displayName"]).toBe("Test SCIMv2 renamed");

    await scim("PATCH", `/Groups/${group["id"]}`, okta.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: [{ value: ada["id"], display: ada["userName"] }, { value: grace["id"], display: grace["userName"] }] }],
    });
    expect(await groupMemberIds(group["id"])).toEqual([ada["id"], grace["id"]].sort());

    await scim("PATCH", `/Groups/${group["id"]}`, okta.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "remove", path: `members[value eq "${ada["id"]}"]` }],
    });
    expect(await groupMemberIds(group["id"])).toEqual([grace["id"]]);

    expect((await scim("DELETE", `/Groups/${group["id"]}`, okta.secret)).status).toBe(204);
    expect(await groupMemberIds(group["id"])).toEqual([]);
    expect((await scim("GET", `/Groups/${group["id"]}`, okta.secret)).status).toBe(404);
  });
});
