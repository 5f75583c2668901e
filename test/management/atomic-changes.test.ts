/**
 * Issue 6 §13: a management change interrupted between statements leaves no half state. Every
 * change is one D1 batch (one transaction), so when that batch fails — refused outright, or
 * failing after some of its statements already ran — D1 holds exactly what it held before,
 * the caller gets 503 with Retry-After, and retrying the same call afterwards works.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { adminSession, freshEmail, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, sessionJwt, type SeededOrg } from "../helpers/seed";
import { api } from "../helpers/worker";
import { batchFailingDb } from "../helpers/bindings";
import { errorOf } from "../helpers/errors";
import { snapshot } from "../helpers/records";

interface Change {
  name: string;
  /** Seeds what the change needs and returns the call to make (credential, method, path, body). */
  prepare(org: SeededOrg): Promise<{ credential: string; method: string; path: string; body?: unknown; ok: number }>;
}

async function revokedServiceToken(org: SeededOrg) {
  const token = await seedServiceToken(org.orgId);
  const res = await api("POST", `/service-tokens/${token.id}/revoke`, await adminSession(org));
  expect(res.status).toBe(200);
  return token;
}

const CHANGES: Change[] = [
  {
    name: "service token create",
    async prepare(org) {
      return { credential: await adminSession(org), method: "POST", path: "/service-tokens", body: { name: "Sync", permission_set_ids: [org.adminSetId] }, ok: 201 };
    },
  },
  {
    name: "service token edit (name, window and permission sets together)",
    async prepare(org) {
      const other = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewer");
      const token = await seedServiceToken(org.orgId, { permissionSetIds: [org.adminSetId] });
      return {
        credential: await adminSession(org),
        method: "PATCH",
        path: `/service-tokens/${token.id}`,
        body: { name: "Renamed", inactivity_days: 180, permission_set_ids: [other] },
        ok: 200,
      };
    },
  },
  {
    name: "service token revoke",
    async prepare(org) {
      const token = await seedServiceToken(org.orgId);
      return { credential: await adminSession(org), method: "POST", path: `/service-tokens/${token.id}/revoke`, ok: 200 };
    },
  },
  {
    name: "service token regenerate",
    async prepare(org) {
      const token = await revokedServiceToken(org);
      return { credential: await adminSession(org), method: "POST", path: `/service-tokens/${token.id}/regenerate`, ok: 200 };
    },
  },
  {
    name: "service token delete",
    async prepare(org) {
      const token = await revokedServiceToken(org);
      return { credential: await adminSession(org), method: "DELETE", path: `/service-tokens/${token.id}`, ok: 204 };
    },
  },
  {
    name: "user token create",
    async prepare(org) {
      const member = await seedUser(org.orgId, { permissionSetIds: [org.adminSetId] });
      return { credential: await sessionJwt({ sub: member.id, org: org.orgId }), method: "POST", path: "/me/api-tokens", body: { name: "CLI" }, ok: 201 };
    },
  },
  {
    name: "user token revoke",
    async prepare(org) {
      const member = await seedUser(org.orgId);
      const token = await seedUserToken(org.orgId, member.id);
      return { credential: await sessionJwt({ sub: member.id, org: org.orgId }), method: "POST", path: `/me/api-tokens/${token.id}/revoke`, ok: 200 };
    },
  },
  {
    name: "user deactivate (PATCH status), ending two tokens",
    async prepare(org) {
      const member = await seedUser(org.orgId, { permissionSetIds: [org.adminSetId], groupNames: ["North"] });
      await seedUserToken(org.orgId, member.id, "one");
      await seedUserToken(org.orgId, member.id, "two");
      return { credential: await adminSession(org), method: "PATCH", path: `/users/${member.id}`, body: { status: "deactivated" }, ok: 200 };
    },
  },
  {
    name: "user deactivate together with a rename and new groups",
    async prepare(org) {
      const member = await seedUser(org.orgId, { groupNames: ["North"], siteNames: ["Depot"] });
      await seedUserToken(org.orgId, member.id);
      return {
        credential: await adminSession(org),
        method: "PATCH",
        path: `/users/${member.id}`,
        body: { name: "Renamed", group_ids: [], site_ids: [], permission_set_ids: [org.adminSetId], status: "deactivated" },
        ok: 200,
      };
    },
  },
  {
    name: "user reactivate",
    async prepare(org) {
      const member = await seedUser(org.orgId);
      const res = await api("PATCH", `/users/${member.id}`, await adminSession(org), { status: "deactivated" });
      expect(res.status).toBe(200);
      return { credential: await adminSession(org), method: "PATCH", path: `/users/${member.id}`, body: { status: "active" }, ok: 200 };
    },
  },
  {
    name: "user remove (DELETE)",
    async prepare(org) {
      const member = await seedUser(org.orgId, { permissionSetIds: [org.adminSetId], groupNames: ["North"], siteNames: ["Depot"] });
      await seedUserToken(org.orgId, member.id);
      return { credential: await adminSession(org), method: "DELETE", path: `/users/${member.id}`, ok: 204 };
    },
  },
  {
    name: "user create with permission sets",
    async prepare(org) {
      return {
        credential: await adminSession(org),
        method: "POST",
        path: "/users",
        body: { name: "New Member", email: freshEmail(), permission_set_ids: [org.adminSetId] },
        ok: 201,
      };
    },
  },
  {
    name: "user edit of the three id lists",
    async prepare(org) {
      const member = await seedUser(org.orgId, { groupNames: ["North"], siteNames: ["Depot"] });
      return {
        credential: await adminSession(org),
        method: "PATCH",
        path: `/users/${member.id}`,
        body: { permission_set_ids: [org.adminSetId], group_ids: [], site_ids: [] },
        ok: 200,
      };
    },
  },
  {
    name: "permission-set edit",
    async prepare(org) {
      const set = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewer");
      return { credential: await adminSession(org), method: "PATCH", path: `/permission-sets/${set}`, body: { name: "Editors", permissions: ["inspections.edit"] }, ok: 200 };
    },
  },
  {
    name: "permission-set create",
    async prepare(org) {
      return { credential: await adminSession(org), method: "POST", path: "/permission-sets", body: { name: "Viewer", permissions: ["inspections.view"] }, ok: 201 };
    },
  },
  {
    name: "permission-set delete (held by a member and a service user)",
    async prepare(org) {
      const set = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewer");
      await seedUser(org.orgId, { permissionSetIds: [set] });
      await seedServiceToken(org.orgId, { permissionSetIds: [set] });
      return { credential: await adminSession(org), method: "DELETE", path: `/permission-sets/${set}`, ok: 204 };
    },
  },
  ...(["groups", "sites"] as const).flatMap((collection): Change[] => {
    const memberOf = async (org: SeededOrg) => {
      const member = await seedUser(org.orgId, collection === "groups" ? { groupNames: ["North"] } : { siteNames: ["North"] });
      return (collection === "groups" ? member.groupIds : member.siteIds)[0]!;
    };
    return [
      {
        name: `${collection} create`,
        async prepare(org) {
          return { credential: await adminSession(org), method: "POST", path: `/${collection}`, body: { name: "South" }, ok: 201 };
        },
      },
      {
        name: `${collection} rename`,
        async prepare(org) {
          return { credential: await adminSession(org), method: "PATCH", path: `/${collection}/${await memberOf(org)}`, body: { name: "South" }, ok: 200 };
        },
      },
      {
        name: `${collection} delete (with a member)`,
        async prepare(org) {
          return { credential: await adminSession(org), method: "DELETE", path: `/${collection}/${await memberOf(org)}`, ok: 204 };
        },
      },
    ];
  }),
];

describe("a management change whose D1 batch fails writes nothing (issue 6 §13)", () => {
  let logged: unknown[][] = [];
  beforeEach(() => {
    logged = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args));
  });
  afterEach(() => vi.restoreAllMocks());

  for (const change of CHANGES) {
    for (const mode of ["reject", "midway"] as const) {
      const how = mode === "reject" ? "the batch is refused (connection lost)" : "the batch fails after its first statement ran";
      it(`${change.name}: ${how} → 503 with Retry-After, D1 unchanged, and a retry succeeds`, async () => {
        const org = await seedOrg();
        const { credential, method, path, body, ok } = await change.prepare(org);
        const before = await snapshot();
        const broken = batchFailingDb(mode);

        const res = await api(method, path, credential, body, { env: { DB: broken.db } });

        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(res.headers.get("cache-control")).toBe("no-store");
        expect((await errorOf(res)).code).toBe("unavailable");
        // The route reached its write, sent it as one batch, and wrote nothing outside it.
        expect(broken.batches).toHaveLength(1);
        expect(broken.strayWrites).toEqual([]);
        expect(await snapshot()).toEqual(before);
        // Operators see why (the D1 message), and nothing of the request.
        expect(logged.map((args) => args.join(" "))).toEqual([expect.stringMatching(/^portcullis: storage unavailable: D1_ERROR: /)]);

        // Nothing half-done blocks the change: the same call on a healthy D1 applies it.
        const retry = await api(method, path, credential, body);
        expect(retry.status).toBe(ok);
        expect(await snapshot()).not.toEqual(before);
      });
    }
  }
});
