import { describe, expect, it } from "vitest";
import { eventsFor, memberRow, tokenRow } from "../helpers/records";
import { seedOrg, seedServiceToken, seedUser, seedUserToken } from "../helpers/seed";
import { bearer, call, PREFIX, proxied, proxiedStatus } from "../helpers/worker";
import { ERROR, LIST, patch, provisioner, recordingDb, scim, scimBody, uniqueEmail, USER } from "./support";

async function setup() {
  const org = await seedOrg();
  const token = await provisioner(org.orgId);
  return { org, token };
}

async function createUser(secret: string, userName = uniqueEmail(), extra: Record<string, unknown> = {}) {
  const res = await scim("POST", "/Users", secret, { schemas: [USER], userName, displayName: "Dana Inspector", ...extra });
  expect(res.status).toBe(201);
  return scimBody(res);
}


describe("SCIM Users: create and read", () => {
  it("creates a member: 201, Location, SCIM representation, D1 row and activity event", async () => {
    const { org, token } = await setup();
    const email = uniqueEmail();

    const res = await scim("POST", "/Users", token.secret, {
      schemas: [USER],
      userName: email,
      name: { givenName: "Dana", familyName: "Inspector", formatted: "Dana Inspector" },
      emails: [{ value: email, type: "work", primary: true }],
      active: true,
    });

    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    const body = await scimBody(res);
    expect(res.headers.get("location")).toBe(body["meta"]["location"]);
    expect(body).toMatchObject({
      schemas: [USER],
      id: expect.stringMatching(/^usr_/),
      userName: email,
      displayName: "Dana Inspector",
      name: { formatted: "Dana Inspector" },
      emails: [{ value: email, type: "work", primary: true }],
      active: true,
      groups: [],
      meta: { resourceType: "User", location: expect.stringMatching(new RegExp(`/_portcullis/v1/scim/v2/Users/${body["id"]}$`)) },
    });
    expect(await memberRow(body["id"])).toMatchObject({ orgId: org.orgId, name: "Dana Inspector", email, status: "active" });
    const [created] = await eventsFor(body["id"]);
    expect(created).toMatchObject({ type: "user.created", actorId: token.serviceUserId, actorType: "service_user", actorName: "Okta provisioning" });
  });

  it("names the member from givenName + familyName, else from the email", async () => {
    const { token } = await setup();
    const named = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: uniqueEmail(), name: { givenName: "Ada", familyName: "Lovelace" } });
    expect((await scimBody(named))["displayName"]).toBe("Ada Lovelace");
    const bare = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: "grace.hopper@example.com" });
    expect((await scimBody(bare))["displayName"]).toBe("grace.hopper");
  });

  it("creates a member deactivated when active is false", async () => {
    const { token } = await setup();
    const body = await createUser(token.secret, uniqueEmail(), { active: false });
    expect(body["active"]).toBe(false);
    expect((await memberRow(body["id"]))!.status).toBe("deactivated");
  });

  it("refuses a second member with the same userName, in any letter case (409 uniqueness)", async () => {
    const { token } = await setup();
    const email = uniqueEmail();
    await createUser(token.secret, email);

    const res = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: email.toUpperCase() });

    expect(res.status).toBe(409);
    expect(await scimBody(res)).toMatchObject({ schemas: [ERROR], status: "409", scimType: "uniqueness" });
  });

  it("rejects a userName that is not an email, and a body that is not JSON (400)", async () => {
    const { token } = await setup();
    const notEmail = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: "dana" });
    expect(notEmail.status).toBe(400);
    expect((await scimBody(notEmail))["scimType"]).toBe("invalidValue");
    const broken = await scim("POST", "/Users", token.secret, "{oops");
    expect(broken.status).toBe(400);
    expect((await scimBody(broken))["scimType"]).toBe("invalidSyntax");
    const longName = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: uniqueEmail(), displayName: "x".repeat(101) });
    expect(longName.status).toBe(400);
  });

  it("gets a member by id with their groups; another org's member, a service user and a removed member are 404", async () => {
    const { org, token } = await setup();
    const member = await seedUser(org.orgId, { name: "Riley", groupNames: ["Night shift"] });
    const other = await seedOrg("Other");
    const foreign = await seedUser(other.orgId);
    const removed = await createUser(token.secret);
    await scim("DELETE", `/Users/${removed["id"]}`, token.secret);

    const res = await scim("GET", `/Users/${member.id}`, token.secret);
    expect(res.status).toBe(200);
    expect((await scimBody(res))["groups"]).toEqual([expect.objectContaining({ value: member.groupIds[0], display: "Night shift" })]);
    for (const id of [foreign.id, token.serviceUserId, removed["id"], "usr_nope"]) {
      const missing = await scim("GET", `/Users/${id}`, token.secret);
      expect(missing.status, id).toBe(404);
      expect((await scimBody(missing))["schemas"]).toEqual([ERROR]);
    }
  });
});

describe("SCIM Users: list, filter and paging", () => {
  it("finds a member by userName, case-insensitively, and never another org's", async () => {
    const { token } = await setup();
    const email = uniqueEmail("Casey");
    const created = await createUser(token.secret, email);
    const other = await seedOrg("Other");
    const otherToken = await provisioner(other.orgId);

    const found = await scimBody(await scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${email.toLowerCase()}"`)}`, token.secret));
    expect(found).toMatchObject({ schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(found["Resources"][0]["id"]).toBe(created["id"]);

    const elsewhere = await scimBody(await scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, otherToken.secret));
    expect(elsewhere).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it("pages with startIndex and count over members only (no service users)", async () => {
    const { org, token } = await setup();
    await seedServiceToken(org.orgId, { name: "Not a member" });
    for (let i = 0; i < 4; i++) await createUser(token.secret);
    const all = await scimBody(await scim("GET", "/Users", token.secret));
    expect(all["totalResults"]).toBe(5); // the admin and four members
    expect(all["Resources"].map((r: { userName: string }) => r.userName)).not.toContain("Not a member");

    const page = await scimBody(await scim("GET", "/Users?startIndex=2&count=2", token.secret));
    expect(page).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    expect(page["Resources"].map((r: { id: string }) => r.id)).toEqual(all["Resources"].slice(1, 3).map((r: { id: string }) => r.id));

    const countOnly = await scimBody(await scim("GET", "/Users?count=0", token.secret));
    expect(countOnly).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
    const past = await scimBody(await scim("GET", "/Users?startIndex=50", token.secret));
    expect(past).toMatchObject({ totalResults: 5, startIndex: 50, Resources: [] });
  });

  it("answers unsupported or malformed filters with 400 invalidFilter", async () => {
    const { token } = await setup();
    for (const filter of ['externalId eq "abc"', 'userName co "dana"', "userName eq", 'title eq "x"', "userName eq 5"]) {
      const res = await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`, token.secret);
      expect(res.status, filter).toBe(400);
      expect((await scimBody(res))["scimType"], filter).toBe("invalidFilter");
    }
  });

  it("leaves groups out on excludedAttributes=groups", async () => {
    const { token } = await setup();
    const created = await createUser(token.secret);
    const body = await scimBody(await scim("GET", `/Users/${created["id"]}?excludedAttributes=groups`, token.secret));
    expect(body["groups"]).toBeUndefined();
    expect(body["userName"]).toBe(created["userName"]);
  });
});

describe("SCIM Users: replace and patch", () => {
  it("PUT renames and changes the email; the member's token carries the new name", async () => {
    const { org, token } = await setup();
    const created = await createUser(token.secret);
    const memberToken = await seedUserToken(org.orgId, created["id"]);
    const email = uniqueEmail("dana.new");

    const res = await scim("PUT", `/Users/${created["id"]}`, token.secret, { schemas: [USER], id: created["id"], userName: email, displayName: "Dana Lead", active: true });

    expect(res.status).toBe(200);
    expect(await scimBody(res)).toMatchObject({ userName: email, displayName: "Dana Lead", active: true });
    expect(await memberRow(created["id"])).toMatchObject({ name: "Dana Lead", email });
    const { res: used, seen } = await proxied(memberToken.secret);
    expect(used.status).toBe(200);
    expect(seen!.headers["x-portcullis-subject-name"]).toBe("Dana Lead");
    const updated = (await eventsFor(created["id"])).find((e) => e.type === "user.updated");
    expect(JSON.parse(updated!.details!)).toMatchObject({ name: { from: "Dana Inspector", to: "Dana Lead" } });
  });

  it("PATCH replaces displayName and userName; other attributes are accepted and ignored", async () => {
    const { token } = await setup();
    const created = await createUser(token.secret);
    const email = uniqueEmail("renamed");

    const res = await scim(
      "PATCH",
      `/Users/${created["id"]}`,
      token.secret,
      patch([
        { op: "replace", path: "displayName", value: "Dana Q. Inspector" },
        { op: "Replace", path: "userName", value: email },
        { op: "add", path: "title", value: "Inspector" },
        { op: "Replace", path: 'emails[type eq "work"].value', value: "ignored@example.com" },
      ]),
    );

    expect(res.status).toBe(200);
    expect(await scimBody(res)).toMatchObject({ displayName: "Dana Q. Inspector", userName: email, emails: [{ value: email }] });
    expect(await memberRow(created["id"])).toMatchObject({ name: "Dana Q. Inspector", email });
  });

  it("PATCH to another member's userName is 409 and changes nothing, status included", async () => {
    const { token } = await setup();
    const taken = await createUser(token.secret);
    const created = await createUser(token.secret);

    const res = await scim(
      "PATCH",
      `/Users/${created["id"]}`,
      token.secret,
      patch([{ op: "replace", value: { userName: taken["userName"], active: false } }]),
    );

    expect(res.status).toBe(409);
    expect((await scimBody(res))["scimType"]).toBe("uniqueness");
    expect(await memberRow(created["id"])).toMatchObject({ email: created["userName"], status: "active" });
  });

  it("rejects a PATCH that changes id, lacks the PatchOp schema or has an unknown op (400)", async () => {
    const { token } = await setup();
    const created = await createUser(token.secret);
    const cases: [unknown, string][] = [
      [patch([{ op: "replace", path: "id", value: "usr_other" }]), "mutability"],
      [{ schemas: [USER], Operations: [{ op: "replace", path: "active", value: false }] }, "invalidSyntax"],
      [patch([{ op: "move", path: "active", value: false }]), "invalidSyntax"],
      [patch([]), "invalidSyntax"],
      [patch([{ op: "remove" }]), "noTarget"],
      [patch([{ op: "replace", path: "active", value: "maybe" }]), "invalidValue"],
    ];
    for (const [body, scimType] of cases) {
      const res = await scim("PATCH", `/Users/${created["id"]}`, token.secret, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await scimBody(res))["scimType"], JSON.stringify(body)).toBe(scimType);
    }
    expect((await memberRow(created["id"]))!.status).toBe("active");
  });
});

describe("SCIM Users: deprovisioning ends the member's tokens at once", () => {
  const deactivations: [string, (id: string) => unknown][] = [
    ["PATCH path active false (Okta, Entra)", () => patch([{ op: "replace", path: "active", value: false }])],
    ['PATCH path active "False" (Entra)', () => patch([{ op: "Replace", path: "active", value: "False" }])],
    ["PATCH without path (Okta)", () => patch([{ op: "replace", value: { active: false } }])],
  ];
  for (const [label, body] of deactivations) {
    it(`${label} deactivates the member and their token stops on the next request`, async () => {
      const { org, token } = await setup();
      const created = await createUser(token.secret);
      const memberToken = await seedUserToken(org.orgId, created["id"]);
      expect(await proxiedStatus(memberToken.secret)).toBe(200);

      const res = await scim("PATCH", `/Users/${created["id"]}`, token.secret, body(created["id"]));

      expect(res.status).toBe(200);
      expect((await scimBody(res))["active"]).toBe(false);
      expect((await memberRow(created["id"]))!.status).toBe("deactivated");
      expect((await tokenRow(memberToken.id))?.status).toBe("expired");
      expect(await proxiedStatus(memberToken.secret)).toBe(401);
      const deactivated = (await eventsFor(created["id"])).find((e) => e.type === "user.deactivated");
      expect(deactivated).toMatchObject({ actorType: "service_user", actorName: "Okta provisioning" });
      expect(JSON.parse(deactivated!.details!)).toEqual({ tokens_ended: 1 });
    });
  }

  it("PUT with active false deactivates too", async () => {
    const { org, token } = await setup();
    const created = await createUser(token.secret);
    const memberToken = await seedUserToken(org.orgId, created["id"]);

    const res = await scim("PUT", `/Users/${created["id"]}`, token.secret, { schemas: [USER], userName: created["userName"], active: false });

    expect(res.status).toBe(200);
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
  });

  it("PUT changing the name and active false is one D1 batch: renamed, deactivated, tokens ended, both events", async () => {
    const { org, token } = await setup();
    const created = await createUser(token.secret);
    const memberToken = await seedUserToken(org.orgId, created["id"]);
    const recorded = recordingDb();

    const res = await call(`${PREFIX}/scim/v2/Users/${created["id"]}`, {
      method: "PUT",
      headers: { ...bearer(token.secret), "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: [USER], userName: created["userName"], displayName: "Dana Departed", active: false }),
      env: { DB: recorded.db },
    });

    expect(res.status).toBe(200);
    expect(await scimBody(res)).toMatchObject({ displayName: "Dana Departed", active: false });
    // Every write to the member (profile, status, its tokens, the events) went in one batch.
    const memberWrites = recorded.batches.filter((batch) => batch.some((sql) => /^\s*update\s+"?users"?\s/i.test(sql)));
    expect(memberWrites).toHaveLength(1);
    expect(memberWrites[0]!.some((sql) => /^\s*update\s+"?api_tokens"?\s/i.test(sql))).toBe(true);
    expect(await memberRow(created["id"])).toMatchObject({ name: "Dana Departed", status: "deactivated" });
    expect((await tokenRow(memberToken.id))?.status).toBe("expired");
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
    const events = (await eventsFor(created["id"])).filter((e) => e.type !== "user.created");
    expect(events.map((e) => e.type)).toEqual(["user.updated", "user.deactivated"]);
    expect(JSON.parse(events[0]!.details!)).toEqual({ source: "scim", name: { from: "Dana Inspector", to: "Dana Departed" } });
    expect(JSON.parse(events[1]!.details!)).toEqual({ tokens_ended: 1 });
  });

  it("reactivation restores the member but not the ended tokens", async () => {
    const { org, token } = await setup();
    const created = await createUser(token.secret);
    const memberToken = await seedUserToken(org.orgId, created["id"]);
    await scim("PATCH", `/Users/${created["id"]}`, token.secret, patch([{ op: "replace", path: "active", value: false }]));

    const res = await scim("PATCH", `/Users/${created["id"]}`, token.secret, patch([{ op: "replace", path: "active", value: true }]));

    expect((await scimBody(res))["active"]).toBe(true);
    expect((await memberRow(created["id"]))!.status).toBe("active");
    expect((await tokenRow(memberToken.id))?.status).toBe("expired");
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
    expect((await eventsFor(created["id"])).map((e) => e.type)).toContain("user.reactivated");
  });

  it("DELETE removes the member (204), ends their tokens, and the userName can be provisioned again", async () => {
    const { org, token } = await setup();
    const created = await createUser(token.secret);
    const memberToken = await seedUserToken(org.orgId, created["id"]);

    const res = await scim("DELETE", `/Users/${created["id"]}`, token.secret);

    expect(res.status).toBe(204);
    expect((await memberRow(created["id"]))!.status).toBe("removed");
    expect(await proxiedStatus(memberToken.secret)).toBe(401);
    expect((await scim("GET", `/Users/${created["id"]}`, token.secret)).status).toBe(404);
    expect((await scim("DELETE", `/Users/${created["id"]}`, token.secret)).status).toBe(404);
    const again = await createUser(token.secret, created["userName"]);
    expect(again["id"]).not.toBe(created["id"]);
  });
});
