/**
 * SPEC §11: one tenant's request can never change how another tenant's request is handled.
 * Every tenant shares one isolate (and so one Object.prototype); these tests run org A's
 * polluting requests and org B's ordinary ones through the same Worker in the same isolate.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ScimPatchOperation } from "scim-patch";
import { applyPatch } from "../../src/scim/patch";
import { seedOrg } from "../helpers/seed";
import { api } from "../helpers/worker";
import { ERROR, GROUP, PATCH_OP, patch, provisioner, scim, scimBody, uniqueEmail, USER } from "./support";

const RESERVED = ["__proto__", "constructor", "prototype"];

/** Names a polluting request would add to the shared prototypes. */
function pollutedNames(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype].flatMap((proto) =>
    Object.getOwnPropertyNames(proto).filter((name) => !PRISTINE.has(name)),
  );
}
const PRISTINE = new Set([Object.prototype, Array.prototype, Function.prototype].flatMap((p) => Object.getOwnPropertyNames(p)));

// Contain a regression to the test that caused it.
afterEach(() => {
  for (const proto of [Object.prototype, Array.prototype, Function.prototype]) {
    for (const name of Object.getOwnPropertyNames(proto)) if (!PRISTINE.has(name)) delete (proto as Record<string, unknown>)[name];
  }
});

/** The PATCH operations an attacker would try: paths through the prototype, and keys in values. */
const POLLUTING_OPERATIONS: unknown[] = [
  { op: "add", path: "__proto__.givenName", value: "Mallory" },
  { op: "add", path: "name.__proto__.familyName", value: "Mallory" },
  { op: "replace", path: "constructor.prototype.displayName", value: "Mallory" },
  { op: "add", path: "name.constructor.prototype.formatted", value: "Mallory" },
  { op: "add", path: "urn:ietf:params:scim:schemas:core:2.0:User:__proto__.givenName", value: "Mallory" },
  { op: "add", path: "emails[type eq \"work\"].__proto__.polluted", value: "Mallory" },
  { op: "add", path: "__PROTO__.givenName", value: "Mallory" },
  { op: "add", path: "members.__proto__.display", value: "Mallory" },
];
/** Bodies whose keys (not paths) name the prototype, as JSON.parse creates them. */
const POLLUTING_BODIES = [
  `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","value":{"__proto__":{"givenName":"Mallory"}}}]}`,
  `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","value":{"name":{"__proto__":{"familyName":"Mallory"}}}}]}`,
  `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","value":{"constructor":{"prototype":{"displayName":"Mallory"}}}}]}`,
  `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"name","value":{"\\u005f_proto__":{"givenName":"Mallory"}}}]}`,
];

/** What org B sees for an ordinary provisioning run, minus ids and times. */
async function orgBRun(): Promise<unknown[]> {
  const org = await seedOrg("Org B");
  const token = await provisioner(org.orgId);
  const email = uniqueEmail("bea");
  const created = await scim("POST", "/Users", token.secret, { schemas: [USER], userName: email, name: { givenName: "Bea", familyName: "Baker" } });
  const user = await scimBody(created);
  const patched = await scim("PATCH", `/Users/${user["id"]}`, token.secret, patch([{ op: "replace", value: { name: { givenName: "Bea", familyName: "Brown" } } }]));
  const group = await scimBody(await scim("POST", "/Groups", token.secret, { schemas: [GROUP], displayName: "Night shift", members: [{ value: user["id"] }] }));
  const listed = await scim("GET", `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, token.secret);
  const shape = (body: Record<string, any>) => ({
    displayName: body["displayName"],
    name: body["name"],
    userName: body["userName"] === email,
    active: body["active"],
    keys: Object.keys(body).sort(),
  });
  return [
    created.status,
    shape(user),
    patched.status,
    shape(await scimBody(patched)),
    group["members"].map((m: Record<string, unknown>) => m["display"]),
    listed.status,
    (await scimBody(listed))["totalResults"],
  ];
}

describe("SCIM: one organization cannot change another's handling (SPEC §11)", () => {
  it("refuses polluting PATCH paths and body keys from org A, and org B behaves exactly as before", async () => {
    const before = await orgBRun();
    expect(before[3]).toMatchObject({ displayName: "Bea Brown" });

    const orgA = await seedOrg("Org A");
    const tokenA = await provisioner(orgA.orgId);
    const victim = await scimBody(await scim("POST", "/Users", tokenA.secret, { schemas: [USER], userName: uniqueEmail("eve"), displayName: "Eve" }));
    const group = await scimBody(await scim("POST", "/Groups", tokenA.secret, { schemas: [GROUP], displayName: "Eves" }));
    for (const operation of POLLUTING_OPERATIONS) {
      for (const target of [`/Users/${victim["id"]}`, `/Groups/${group["id"]}`]) {
        const res = await scim("PATCH", target, tokenA.secret, patch([operation]));
        expect(res.status, JSON.stringify(operation)).toBe(400);
        expect(await scimBody(res)).toMatchObject({ schemas: [ERROR], status: "400" });
      }
    }
    for (const body of POLLUTING_BODIES) {
      const res = await scim("PATCH", `/Users/${victim["id"]}`, tokenA.secret, body);
      expect(res.status, body).toBe(400);
    }
    for (const key of RESERVED) {
      const post = await scim("POST", "/Users", tokenA.secret, `{"schemas":["${USER}"],"userName":"${uniqueEmail()}","${key}":{"displayName":"Mallory"}}`);
      expect(post.status, key).toBe(400);
      const filter = await scim("GET", `/Users?filter=${encodeURIComponent(`${key} eq "x"`)}`, tokenA.secret);
      expect(filter.status, key).toBe(400);
      expect(await scimBody(filter)).toMatchObject({ scimType: "invalidFilter" });
    }

    expect(pollutedNames()).toEqual([]);
    expect(await orgBRun()).toEqual(before);
  });

  it("refuses reserved keys in management API bodies too", async () => {
    for (const key of RESERVED) {
      const res = await api("POST", "/orgs", "test-admin-secret", JSON.parse(`{"name":"X","admin":{"name":"A","email":"${uniqueEmail()}","${key}":{"x":1}}}`));
      expect(res.status, key).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/reserved key/);
    }
    expect(pollutedNames()).toEqual([]);
  });

  it("applyPatch itself never writes through a prototype, whatever operations it is given", () => {
    const resource = { schemas: [USER], id: "usr_1", userName: "a@example.com", name: { formatted: "A" }, emails: [{ value: "a@example.com", type: "work" }], meta: {} };
    for (const operation of POLLUTING_OPERATIONS) {
      try {
        applyPatch(resource, [operation as ScimPatchOperation], ["emails"]);
      } catch {
        // A refusal is fine too; only a write through the prototype is not.
      }
      expect(pollutedNames(), JSON.stringify(operation)).toEqual([]);
    }
    expect(resource.name).toEqual({ formatted: "A" });
  });
});
