import { describe, expect, it } from "vitest";
import { generateToken } from "../../src/token/format";
import { seedOrg, seedPermissionSet, seedUser, seedUserToken, sessionJwt } from "../helpers/seed";
import { failingDb } from "../helpers/bindings";
import { call, PREFIX } from "../helpers/worker";
import { ERROR, GROUP, LIST, provisioner, scim, scimBody, USER } from "./support";

async function expectScimError(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/scim\+json/);
  const body = await scimBody(res);
  expect(body).toMatchObject({ schemas: [ERROR], status: String(status), detail: expect.any(String) });
  return body;
}

describe("SCIM access: only a service user token with users and groups permissions", () => {
  it("answers a request without a credential with a SCIM 401 and the Bearer challenge", async () => {
    const res = await scim("GET", "/Users", null);
    await expectScimError(res, 401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="portcullis"/);
  });

  it("answers an unknown token with a SCIM 401 invalid_token challenge", async () => {
    const res = await scim("GET", "/Users", generateToken("service_user"));
    await expectScimError(res, 401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses a user token and a session even when the user holds both permissions (403)", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["platform_management.users", "platform_management.groups"]);
    const user = await seedUser(org.orgId, { permissionSetIds: [setId] });
    const userToken = await seedUserToken(org.orgId, user.id);
    const adminSession = await sessionJwt({ sub: org.adminId, org: org.orgId });

    for (const credential of [userToken.secret, adminSession]) {
      const body = await expectScimError(await scim("GET", "/Users", credential), 403);
      expect(body["detail"]).toContain("service user");
    }
  });

  it("refuses a service token lacking either permission (403)", async () => {
    const org = await seedOrg();
    for (const permissions of [["platform_management.users"], ["platform_management.groups"], ["integrations.manage"], []]) {
      const token = await provisioner(org.orgId, permissions);
      const body = await expectScimError(await scim("GET", "/Groups", token.secret), 403);
      expect(body["detail"]).toContain("platform_management.users and platform_management.groups");
    }
  });

  it("refuses writes from a service token lacking a permission, and creates nothing", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId, ["platform_management.users"]);
    await expectScimError(await scim("POST", "/Users", token.secret, { schemas: [USER], userName: "x@example.com" }), 403);
    const allowed = await provisioner(org.orgId);
    const list = await scimBody(await scim("GET", '/Users?filter=userName eq "x@example.com"', allowed.secret));
    expect(list["totalResults"]).toBe(0);
  });

  it("answers 503 as a SCIM error with Retry-After when D1 is down", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    const { db } = failingDb();
    const res = await call(`${PREFIX}/scim/v2/Users`, {
      headers: { authorization: `Bearer ${token.secret}` },
      env: { DB: db },
    });
    await expectScimError(res, 503);
    expect(res.headers.get("retry-after")).not.toBeNull();
  });

  it("answers an unknown SCIM path with a SCIM 404", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    await expectScimError(await scim("GET", "/Bulk", token.secret), 404);
  });
});

describe("SCIM discovery (RFC 7644 §4)", () => {
  it("ServiceProviderConfig says what is supported", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    const res = await scim("GET", "/ServiceProviderConfig", token.secret);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await scimBody(res)).toMatchObject({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [expect.objectContaining({ type: "oauthbearertoken" })],
    });
  });

  it("ResourceTypes lists User and Group", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    const list = await scimBody(await scim("GET", "/ResourceTypes", token.secret));
    expect(list["schemas"]).toEqual([LIST]);
    expect(list["Resources"].map((r: { id: string; endpoint: string; schema: string }) => [r.id, r.endpoint, r.schema])).toEqual([
      ["User", "/Users", USER],
      ["Group", "/Groups", GROUP],
    ]);
    const user = await scimBody(await scim("GET", "/ResourceTypes/User", token.secret));
    expect(user["meta"]["location"]).toMatch(/\/_portcullis\/v1\/scim\/v2\/ResourceTypes\/User$/);
  });

  it("Schemas describes the attributes we store", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    const list = await scimBody(await scim("GET", "/Schemas", token.secret));
    expect(list["Resources"].map((s: { id: string }) => s.id)).toEqual([USER, GROUP]);
    const user = await scimBody(await scim("GET", `/Schemas/${USER}`, token.secret));
    expect(user["attributes"].map((a: { name: string }) => a.name)).toEqual(["userName", "name", "displayName", "emails", "active", "groups"]);
    expect(user["attributes"][0]).toMatchObject({ name: "userName", required: true, uniqueness: "server" });
    const missing = await scim("GET", "/Schemas/urn:example:nope", token.secret);
    expect(missing.status).toBe(404);
  });
});
