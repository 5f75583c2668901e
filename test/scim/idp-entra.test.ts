/**
 * Replays the requests the Microsoft Entra provisioning service sends (Microsoft Learn,
 * "Develop and plan provisioning for a SCIM endpoint"): capitalised operations, the enterprise
 * extension, "False" as a string, member removal by value, and a hard DELETE 30 days after a
 * soft delete.
 */
import { describe, expect, it } from "vitest";
import { eventsFor, memberRow, tokenRow } from "../helpers/records";
import { seedOrg, seedUserToken } from "../helpers/seed";
import { proxiedStatus } from "../helpers/worker";
import { ENTERPRISE, GROUP, groupMemberIds, PATCH_OP, provisioner, scim, scimBody, uniqueEmail, USER } from "./support";

describe("Microsoft Entra provisioning replay", () => {
  it("provisions, updates, disables and deletes a user; the user's token dies when disabled", async () => {
    const org = await seedOrg();
    const entra = await provisioner(org.orgId);
    const upn = uniqueEmail("Test_User");

    // 1. Entra encodes spaces as "+" in the filter.
    const lookup = await scim("GET", `/Users?filter=userName+eq+%22${encodeURIComponent(upn)}%22`, entra.secret);
    expect((await scimBody(lookup))["totalResults"]).toBe(0);

    // 2. Create, with the enterprise extension and attributes we do not store.
    const created = await scim("POST", "/Users", entra.secret, {
      schemas: [USER, ENTERPRISE],
      externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      userName: upn,
      active: true,
      emails: [{ primary: true, type: "work", value: upn }],
      meta: { resourceType: "User" },
      name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
      roles: [],
      [ENTERPRISE]: { department: "Inspections", manager: { value: "someone" } },
    });
    expect(created.status).toBe(201);
    const user = await scimBody(created);
    expect(user).toMatchObject({ userName: upn, displayName: "givenName familyName", active: true });

    // 3. Entra reads it back by filter (the validator does this after each change).
    const found = await scimBody(await scim("GET", `/Users?filter=userName+eq+%22${encodeURIComponent(upn)}%22`, entra.secret));
    expect(found["Resources"].map((r: { id: string }) => r.id)).toEqual([user["id"]]);

    const memberToken = await seedUserToken(org.orgId, user["id"]);
    expect(await proxiedStatus(memberToken.secret)).toBe(200);

    // 4. Multi-valued and single-valued updates, capitalised ops.
    const newUpn = uniqueEmail("renamed");
    let res = await scim("PATCH", `/Users/${user["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@example.com" },
        { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
        { op: "Add", path: `${ENTERPRISE}:department`, value: "Audit" },
      ],
    });
    expect(res.status).toBe(200);
    res = await scim("PATCH", `/Users/${user["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: "userName", value: newUpn },
        { op: "Replace", path: "displayName", value: "Updated Name" },
      ],
    });
    expect(await scimBody(res)).toMatchObject({ userName: newUpn, displayName: "Updated Name" });
    expect(await memberRow(user["id"])).toMatchObject({ email: newUpn, name: "Updated Name", status: "active" });

    // 5. Disable (soft delete): Entra may send the boolean as the string "False".
    res = await scim("PATCH", `/Users/${user["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    });
    expect(res.status).toBe(200);
    expect((await scimBody(res))["active"]).toBe(false);
    expect((await tokenRow(memberToken.id))?.status).toBe("expired");
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
    const disabled = await scimBody(await scim("GET", `/Users?filter=userName+eq+%22${encodeURIComponent(newUpn)}%22`, entra.secret));
    expect(disabled["Resources"][0]["active"]).toBe(false);

    // 6. Hard delete after 30 days.
    expect((await scim("DELETE", `/Users/${user["id"]}`, entra.secret)).status).toBe(204);
    expect((await memberRow(user["id"]))!.status).toBe("removed");
    expect((await scim("GET", `/Users/${user["id"]}`, entra.secret)).status).toBe(404);
    expect((await eventsFor(user["id"])).map((e) => e.type)).toEqual(["user.created", "user.updated", "user.deactivated", "user.removed"]);
  });

  it("provisions a group: create, look up without members, rename, add and remove members by value, delete", async () => {
    const org = await seedOrg();
    const entra = await provisioner(org.orgId);
    const member = await scimBody(await scim("POST", "/Users", entra.secret, { schemas: [USER], userName: uniqueEmail("member"), active: true }));

    const created = await scim("POST", "/Groups", entra.secret, {
      schemas: [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
      externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
      displayName: "displayName",
      meta: { resourceType: "Group" },
    });
    expect(created.status).toBe(201);
    const group = await scimBody(created);

    const byId = await scimBody(await scim("GET", `/Groups/${group["id"]}?excludedAttributes=members`, entra.secret));
    expect(byId).toMatchObject({ id: group["id"], displayName: "displayName" });
    expect(byId["members"]).toBeUndefined();
    const byName = await scimBody(await scim("GET", "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22", entra.secret));
    expect(byName["totalResults"]).toBe(1);

    let res = await scim("PATCH", `/Groups/${group["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Replace", path: "displayName", value: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }],
    });
    expect(res.status).toBe(200);

    res = await scim("PATCH", `/Groups/${group["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Add", path: "members", value: [{ $ref: null, value: member["id"] }] }],
    });
    expect(res.status).toBe(200);
    expect(await groupMemberIds(group["id"])).toEqual([member["id"]]);

    res = await scim("PATCH", `/Groups/${group["id"]}`, entra.secret, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Remove", path: "members", value: [{ $ref: null, value: member["id"] }] }],
    });
    expect(res.status).toBe(200);
    expect(await groupMemberIds(group["id"])).toEqual([]);

    expect((await scim("DELETE", `/Groups/${group["id"]}`, entra.secret)).status).toBe(204);
    expect((await scim("GET", `/Groups/${group["id"]}`, entra.secret)).status).toBe(404);
  });
});
