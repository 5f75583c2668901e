/**
 * Issue 6 §16, OWASP API1 (broken object-level authorization): an admin of organization A,
 * with every platform permission, names organization B's objects. Every route with an id in
 * its path answers 404 exactly as for an id that never existed; an id of B inside a body is
 * 400 exactly as for an unknown id. Nothing of B is returned, and D1 does not change.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/db/ids";
import { users } from "../../src/db/schema";
import { adminSession, db, freshEmail, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, type SeededOrg } from "../helpers/seed";
import { api, proxiedStatus } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { snapshot } from "../helpers/records";

interface World {
  a: SeededOrg;
  b: SeededOrg;
  /** A's objects, for routes whose body names B's. */
  aServiceTokenId: string;
  aMemberId: string;
  /** A's credentials: the admin's session, the admin's own user token, a service token holding Administrator. */
  credentials: Record<"session" | "user token" | "service token", string>;
  usedTokens: string[];
  /** B's objects. */
  bActiveToken: { id: string; secret: string; serviceUserId: string };
  bRevokedToken: { id: string; secret: string };
  bMember: { id: string; groupIds: string[]; siteIds: string[] };
  bUserToken: { id: string; secret: string };
  bSetId: string;
  /** Strings that must never appear in a response to A: B's names, emails and hints. */
  bSecrets: string[];
}

let w: World;

beforeAll(async () => {
  const a = await seedOrg("Alpha");
  const b = await seedOrg("Bravo");
  const aServiceToken = await seedServiceToken(a.orgId, { name: "Alpha sync", permissionSetIds: [a.adminSetId] });
  const aAdminToken = await seedUserToken(a.orgId, a.adminId, "Alpha admin CLI");
  const aMember = await seedUser(a.orgId, { name: "Alpha Member" });

  const bSetId = await seedPermissionSet(b.orgId, ["inspections.view"], "Bravo Viewers");
  const bActiveToken = await seedServiceToken(b.orgId, { name: "Bravo sync", permissionSetIds: [bSetId] });
  const bRevokedToken = await seedServiceToken(b.orgId, { name: "Bravo old sync" });
  const bAdmin = await adminSession(b);
  expect((await api("POST", `/service-tokens/${bRevokedToken.id}/revoke`, bAdmin)).status).toBe(200);
  const bMember = await seedUser(b.orgId, { name: "Bravo Inspector", permissionSetIds: [bSetId], groupNames: ["Bravo North"], siteNames: ["Bravo Depot"] });
  const bUserToken = await seedUserToken(b.orgId, bMember.id, "Bravo CLI");
  const bEmail = (await db().query.users.findFirst({ where: eq(users.id, bMember.id) }))!.email;

  w = {
    a,
    b,
    aServiceTokenId: aServiceToken.id,
    aMemberId: aMember.id,
    credentials: {
      session: await adminSession(a),
      "user token": aAdminToken.secret,
      "service token": aServiceToken.secret,
    },
    usedTokens: [aServiceToken.id, aAdminToken.id],
    bActiveToken,
    bRevokedToken,
    bMember,
    bUserToken,
    bSetId,
    bSecrets: ["Bravo", bEmail, bActiveToken.secret, bRevokedToken.secret, bUserToken.secret, b.adminName],
  };
});

/** A route with an id in its path, called with B's id and with an id that never existed. */
interface PathCase {
  route: string;
  method: string;
  path: (id: string) => string;
  bId: () => string;
  unknownId: () => string;
  body?: unknown;
  /** Credential kinds that may call the route at all (service users have no /me/api-tokens). */
  callers?: (keyof World["credentials"])[];
}

const svc = (suffix = "") => (id: string) => `/service-tokens/${id}${suffix}`;
const PATH_CASES: PathCase[] = [
  { route: "GET /service-tokens/{id}", method: "GET", path: svc(), bId: () => w.bActiveToken.id, unknownId: () => newId("tok") },
  { route: "PATCH /service-tokens/{id}", method: "PATCH", path: svc(), bId: () => w.bActiveToken.id, unknownId: () => newId("tok"), body: { name: "Pwned", inactivity_days: 180, permission_set_ids: [] } },
  { route: "POST /service-tokens/{id}/revoke", method: "POST", path: svc("/revoke"), bId: () => w.bActiveToken.id, unknownId: () => newId("tok") },
  { route: "POST /service-tokens/{id}/regenerate", method: "POST", path: svc("/regenerate"), bId: () => w.bRevokedToken.id, unknownId: () => newId("tok") },
  { route: "DELETE /service-tokens/{id}", method: "DELETE", path: svc(), bId: () => w.bRevokedToken.id, unknownId: () => newId("tok") },
  { route: "GET /service-tokens/{B's user token id}", method: "GET", path: svc(), bId: () => w.bUserToken.id, unknownId: () => newId("tok") },
  {
    route: "POST /me/api-tokens/{id}/revoke",
    method: "POST",
    path: (id) => `/me/api-tokens/${id}/revoke`,
    bId: () => w.bUserToken.id,
    unknownId: () => newId("tok"),
    callers: ["session", "user token"],
  },
  { route: "GET /users/{id}", method: "GET", path: (id) => `/users/${id}`, bId: () => w.bMember.id, unknownId: () => newId("usr") },
  { route: "GET /users/{B's admin id}", method: "GET", path: (id) => `/users/${id}`, bId: () => w.b.adminId, unknownId: () => newId("usr") },
  { route: "GET /users/{B's service user id}", method: "GET", path: (id) => `/users/${id}`, bId: () => w.bActiveToken.serviceUserId, unknownId: () => newId("svc") },
  { route: "PATCH /users/{id} (fields)", method: "PATCH", path: (id) => `/users/${id}`, bId: () => w.bMember.id, unknownId: () => newId("usr"), body: { name: "Pwned", email: "pwned@example.com" } },
  { route: "PATCH /users/{id} (deactivate)", method: "PATCH", path: (id) => `/users/${id}`, bId: () => w.bMember.id, unknownId: () => newId("usr"), body: { status: "deactivated" } },
  { route: "PATCH /users/{id} (empty)", method: "PATCH", path: (id) => `/users/${id}`, bId: () => w.bMember.id, unknownId: () => newId("usr"), body: {} },
  { route: "DELETE /users/{id}", method: "DELETE", path: (id) => `/users/${id}`, bId: () => w.bMember.id, unknownId: () => newId("usr") },
  ...(["groups", "sites"] as const).flatMap((collection): PathCase[] => {
    const bId = () => (collection === "groups" ? w.bMember.groupIds : w.bMember.siteIds)[0]!;
    const unknownId = () => newId(collection === "groups" ? "grp" : "site");
    const path = (id: string) => `/${collection}/${id}`;
    return [
      { route: `GET /${collection}/{id}`, method: "GET", path, bId, unknownId },
      { route: `PATCH /${collection}/{id}`, method: "PATCH", path, bId, unknownId, body: { name: "Pwned" } },
      { route: `PATCH /${collection}/{id} (empty)`, method: "PATCH", path, bId, unknownId, body: {} },
      { route: `DELETE /${collection}/{id}`, method: "DELETE", path, bId, unknownId },
    ];
  }),
  { route: "GET /permission-sets/{id}", method: "GET", path: (id) => `/permission-sets/${id}`, bId: () => w.bSetId, unknownId: () => newId("ps") },
  { route: "PATCH /permission-sets/{id}", method: "PATCH", path: (id) => `/permission-sets/${id}`, bId: () => w.bSetId, unknownId: () => newId("ps"), body: { name: "Pwned", permissions: ["platform_management.users"] } },
  { route: "PATCH /permission-sets/{id} (empty)", method: "PATCH", path: (id) => `/permission-sets/${id}`, bId: () => w.bSetId, unknownId: () => newId("ps"), body: {} },
  { route: "DELETE /permission-sets/{id}", method: "DELETE", path: (id) => `/permission-sets/${id}`, bId: () => w.bSetId, unknownId: () => newId("ps") },
];

/** A route whose body names B's id (and, for comparison, an unknown id). */
interface BodyCase {
  route: string;
  method: string;
  path: () => string;
  body: (id: string) => unknown;
  bId: () => string;
  unknownId: () => string;
}

const BODY_CASES: BodyCase[] = [
  { route: "POST /service-tokens permission_set_ids", method: "POST", path: () => "/service-tokens", body: (id) => ({ name: "Sync", permission_set_ids: [id] }), bId: () => w.bSetId, unknownId: () => newId("ps") },
  {
    route: "PATCH /service-tokens/{id} permission_set_ids",
    method: "PATCH",
    path: () => `/service-tokens/${w.aServiceTokenId}`,
    body: (id) => ({ permission_set_ids: [w.a.adminSetId, id] }),
    bId: () => w.bSetId,
    unknownId: () => newId("ps"),
  },
  ...(
    [
      ["permission_set_ids", () => w.bSetId, "ps"],
      ["group_ids", () => w.bMember.groupIds[0]!, "grp"],
      ["site_ids", () => w.bMember.siteIds[0]!, "site"],
    ] as const
  ).flatMap(([field, bId, prefix]): BodyCase[] => [
    { route: `POST /users ${field}`, method: "POST", path: () => "/users", body: (id) => ({ name: "New", email: freshEmail(), [field]: [id] }), bId, unknownId: () => newId(prefix) },
    { route: `PATCH /users/{id} ${field}`, method: "PATCH", path: () => `/users/${w.aMemberId}`, body: (id) => ({ [field]: [id] }), bId, unknownId: () => newId(prefix) },
  ]),
];

/** The response text with `id` blanked, to compare B's answer with an unknown id's. */
async function answer(res: Response, id: string) {
  const text = await res.text();
  return { status: res.status, text: text.split(id).join("<id>"), raw: text };
}

describe("cross-organization ids in paths → 404, no data, no change (issue 6 §16)", () => {
  for (const c of PATH_CASES) {
    for (const caller of c.callers ?? (["session", "user token", "service token"] as const)) {
      it(`${c.route} with B's id, as A's ${caller} → 404 like an unknown id; D1 unchanged`, async () => {
        const credential = w.credentials[caller];
        const before = await snapshot({ usedTokens: w.usedTokens });
        const theirs = await api(c.method, c.path(c.bId()), credential, c.body);
        expect(theirs.status).toBe(404);
        expect(theirs.headers.get("cache-control")).toBe("no-store");
        expect((await errorOf(theirs.clone())).code).toBe("not_found");
        const unknownId = c.unknownId();
        const unknown = await api(c.method, c.path(unknownId), credential, c.body);
        const [t, u] = [await answer(theirs, c.bId()), await answer(unknown, unknownId)];
        // Indistinguishable from an id that never existed: same status, same body.
        expect(t.text).toBe(u.text);
        for (const secret of [...w.bSecrets, c.bId()]) expect(t.raw).not.toContain(secret);
        expect(await snapshot({ usedTokens: w.usedTokens })).toEqual(before);
      });
    }
  }
});

describe("cross-organization ids in bodies → 400, no data, no change (issue 6 §16)", () => {
  for (const c of BODY_CASES) {
    it(`${c.route} naming B's id → 400 invalid_request like an unknown id; D1 unchanged`, async () => {
      const credential = w.credentials.session;
      const before = await snapshot({ usedTokens: w.usedTokens });
      const theirs = await api(c.method, c.path(), credential, c.body(c.bId()));
      expect(theirs.status).toBe(400);
      expect((await errorOf(theirs.clone())).code).toBe("invalid_request");
      const unknownId = c.unknownId();
      const unknown = await api(c.method, c.path(), credential, c.body(unknownId));
      const [t, u] = [await answer(theirs, c.bId()), await answer(unknown, unknownId)];
      expect(t.status).toBe(u.status);
      // The body's own email differs per call in POST /users; compare the error code and the id report.
      expect((JSON.parse(t.text) as { error: { code: string } }).error.code).toBe((JSON.parse(u.text) as { error: { code: string } }).error.code);
      expect(t.text.replace(/[0-9a-f-]{36}@example\.com/g, "")).toBe(u.text.replace(/[0-9a-f-]{36}@example\.com/g, ""));
      for (const secret of w.bSecrets) expect(t.raw).not.toContain(secret);
      expect(await snapshot({ usedTokens: w.usedTokens })).toEqual(before);
    });
  }
});

describe("cross-organization reads through lists and filters (issue 6 §16)", () => {
  it("A's lists and activity log never show B's objects, even filtered by B's actor id", async () => {
    const credential = w.credentials.session;
    const bIds = [w.bActiveToken.id, w.bRevokedToken.id, w.bMember.id, w.b.adminId, w.bSetId, w.bUserToken.id, ...w.bMember.groupIds, ...w.bMember.siteIds];
    for (const path of ["/service-tokens", "/users", "/groups", "/sites", "/permission-sets", "/me/api-tokens", "/activity-log", `/activity-log?actor_id=${w.b.adminId}`]) {
      const res = await api("GET", path, credential);
      expect(res.status, path).toBe(200);
      const text = await res.text();
      for (const secret of [...w.bSecrets, ...bIds]) expect(text, `${path} leaks ${secret}`).not.toContain(secret);
    }
    expect(((await (await api("GET", `/activity-log?actor_id=${w.b.adminId}`, credential)).json()) as { data: unknown[] }).data).toEqual([]);
  });

  it("after every attempt above, B's tokens still work and B's objects are intact", async () => {
    expect(await proxiedStatus(w.bActiveToken.secret)).toBe(200);
    expect(await proxiedStatus(w.bUserToken.secret)).toBe(200);
    const bAdmin = await adminSession(w.b);
    const member = (await (await api("GET", `/users/${w.bMember.id}`, bAdmin)).json()) as { name: string; status: string; permission_set_ids: string[] };
    expect(member).toMatchObject({ name: "Bravo Inspector", status: "active", permission_set_ids: [w.bSetId] });
    const set = (await (await api("GET", `/permission-sets/${w.bSetId}`, bAdmin)).json()) as { name: string; permissions: string[] };
    expect(set).toEqual({ id: w.bSetId, name: "Bravo Viewers", permissions: ["inspections.view"] });
  });
});

describe("another member's user token in the same organization (issue 6 §16)", () => {
  it("POST /me/api-tokens/{id}/revoke with a colleague's token id → 404, token still works", async () => {
    const org = await seedOrg();
    const colleague = await seedUser(org.orgId, { name: "Colleague" });
    const theirToken = await seedUserToken(org.orgId, colleague.id);
    const res = await api("POST", `/me/api-tokens/${theirToken.id}/revoke`, await adminSession(org));
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
    expect(await proxiedStatus(theirToken.secret)).toBe(200);
  });
});
