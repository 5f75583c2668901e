/**
 * /users and /seats (SPEC §4): the members the proxy resolves from. Deactivating or removing a
 * member ends their tokens in the same batch; reactivation revives none; permission changes
 * reach existing tokens on the next proxied request; service users never appear or count.
 */
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { activityEvents, userPermissionSets, users } from "../../src/db/schema";
import { batchFailingDb } from "../helpers/bindings";
import { errorCode, errorOf } from "../helpers/errors";
import { memberRow, memberTokens, orgEvents } from "../helpers/records";
import { describeSecurity } from "../helpers/security";
import { adminSession, db, freshEmail, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, sessionJwt, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, proxied, proxiedStatus } from "../helpers/worker";

interface User {
  id: string;
  name: string;
  email: string;
  status: "active" | "deactivated";
  permission_set_ids: string[];
  group_ids: string[];
  site_ids: string[];
}

async function createUser(org: SeededOrg, body: Record<string, unknown>): Promise<User> {
  const res = await api("POST", "/users", await adminSession(org), { name: "Dana Inspector", email: freshEmail(), ...body });
  expect(res.status).toBe(201);
  return (await res.json()) as User;
}

/** A member with `inspections.view` and one user token, ready to call the proxy. */
async function viewerWithToken(org: SeededOrg) {
  const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewers");
  const user = await seedUser(org.orgId, { name: "Vic Viewer", permissionSetIds: [setId] });
  const token = await seedUserToken(org.orgId, user.id);
  return { setId, user, token };
}

describe("POST /users", () => {
  it("adds a member with permission sets, groups and sites and records who did it", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const holder = await seedUser(org.orgId, { groupNames: ["Night shift"], siteNames: ["Depot"] });
    const address = freshEmail();
    const res = await api("POST", "/users", await adminSession(org), {
      name: "  Dana Inspector  ",
      email: address,
      permission_set_ids: [setId, setId],
      group_ids: holder.groupIds,
      site_ids: holder.siteIds,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const user = (await res.json()) as User;
    expect(user).toEqual({
      id: expect.stringMatching(/^usr_/),
      name: "Dana Inspector",
      email: address,
      status: "active",
      permission_set_ids: [setId],
      group_ids: holder.groupIds,
      site_ids: holder.siteIds,
    });
    expect((await memberRow(user.id))).toMatchObject({ orgId: org.orgId, status: "active", email: address });
    const [created] = await orgEvents(org.orgId, "user.created");
    expect(created).toMatchObject({ actorId: org.adminId, actorType: "user", actorName: org.adminName, targetId: user.id, targetName: "Dana Inspector" });
    const fetched = await api("GET", `/users/${user.id}`, await adminSession(org));
    expect(await fetched.json()).toEqual(user);
  });

  it("starts with empty lists when none are given", async () => {
    const org = await seedOrg();
    const user = await createUser(org, {});
    expect(user).toMatchObject({ permission_set_ids: [], group_ids: [], site_ids: [] });
  });

  it("refuses a second live member with the same email (any case) with 409 conflict", async () => {
    const org = await seedOrg();
    const address = freshEmail();
    await createUser(org, { email: address });
    for (const again of [address, address.toUpperCase()]) {
      const res = await api("POST", "/users", await adminSession(org), { name: "Twin", email: again });
      expect(res.status).toBe(409);
      expect(await errorCode(res)).toBe("conflict");
    }
    const rows = await db().select().from(users).where(eq(users.orgId, org.orgId));
    expect(rows.filter((r) => r.email.toLowerCase() === address.toLowerCase())).toHaveLength(1);
  });

  it("concurrent POSTs of one email in two letter cases create one member (the rule is decided in the write)", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    for (let round = 0; round < 5; round++) {
      const address = freshEmail();
      const answers = await Promise.all([
        api("POST", "/users", admin, { name: "Lower", email: address }),
        api("POST", "/users", admin, { name: "Upper", email: address.toUpperCase() }),
      ]);
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
      const live = await db().select().from(users).where(and(eq(users.orgId, org.orgId), sql`lower(${users.email}) = ${address}`));
      expect(live).toHaveLength(1);
    }
  });

  it("lets a removed member's email be used again, and the same email in another org", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const address = freshEmail();
    const first = await createUser(org, { email: address });
    expect((await api("DELETE", `/users/${first.id}`, await adminSession(org))).status).toBe(204);
    const again = await createUser(org, { email: address });
    expect(again.id).not.toBe(first.id);
    expect((await createUser(other, { email: address })).email).toBe(address);
  });

  it("rejects ids that are not this organization's with 400 and writes nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreignSet = await seedPermissionSet(other.orgId, ["inspections.view"]);
    const foreign = await seedUser(other.orgId, { groupNames: ["Theirs"], siteNames: ["Their site"] });
    const before = await db().select().from(users).where(eq(users.orgId, org.orgId));
    for (const body of [
      { permission_set_ids: [foreignSet] },
      { group_ids: foreign.groupIds },
      { site_ids: foreign.siteIds },
      { permission_set_ids: ["ps_01JABCDEFGHJKMNPQRSTVWXYZ0"] },
    ]) {
      const res = await api("POST", "/users", await adminSession(org), { name: "Nope", email: freshEmail(), ...body });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("invalid_request");
      expect(Object.values((error["unknown_ids"] as Record<string, string[]> | undefined) ?? {}).flat()).toEqual(Object.values(body).flat());
    }
    expect(await db().select().from(users).where(eq(users.orgId, org.orgId))).toHaveLength(before.length);
  });

  it.each([
    ["an unknown field", { name: "X", email: "x@example.com", role: "admin" }],
    ["a missing email", { name: "X" }],
    ["an invalid email", { name: "X", email: "not-an-email" }],
    ["an empty name", { name: "   ", email: "x@example.com" }],
    ["a 101-character name", { name: "n".repeat(101), email: "x@example.com" }],
    ["a status (not settable on creation)", { name: "X", email: "x@example.com", status: "deactivated" }],
    ["ids that are not strings", { name: "X", email: "x@example.com", group_ids: [1] }],
  ])("rejects %s with 400 invalid_request", async (_, body) => {
    const org = await seedOrg();
    const res = await api("POST", "/users", await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
  });

  it("accepts a 100-character name", async () => {
    const org = await seedOrg();
    expect((await createUser(org, { name: "n".repeat(100) })).name).toHaveLength(100);
  });

  it("rejects malformed JSON with 400, a non-JSON body with 415 and a body over 64 KiB with 413", async () => {
    const org = await seedOrg();
    const auth = bearer(await adminSession(org));
    const malformed = await call("/_portcullis/v1/users", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{" });
    expect(malformed.status).toBe(400);
    const form = await call("/_portcullis/v1/users", { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "name=x" });
    expect(form.status).toBe(415);
    const huge = await api("POST", "/users", await adminSession(org), { name: "X", email: freshEmail(), group_ids: ["g".repeat(70_000)] });
    expect(huge.status).toBe(413);
  });
});

describe("GET /users", () => {
  it("lists active and deactivated members, never service users or removed members", async () => {
    const org = await seedOrg();
    const service = await seedServiceToken(org.orgId, { name: "Warehouse sync" });
    const kept = await createUser(org, { name: "Kept" });
    const paused = await createUser(org, { name: "Paused" });
    const gone = await createUser(org, { name: "Gone" });
    const admin = await adminSession(org);
    await api("PATCH", `/users/${paused.id}`, admin, { status: "deactivated" });
    await api("DELETE", `/users/${gone.id}`, admin);
    const res = await api("GET", "/users", admin);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: User[]; next_cursor: string | null };
    expect(body.next_cursor).toBeNull();
    expect(body.data.map((u) => [u.name, u.status])).toEqual([
      [org.adminName, "active"],
      ["Kept", "active"],
      ["Paused", "deactivated"],
    ]);
    expect(body.data.map((u) => u.id)).not.toContain(service.serviceUserId);
    expect(body.data.map((u) => u.id)).toEqual([org.adminId, kept.id, paused.id]);
  });

  it("pages with limit and next_cursor, in creation order, without repeats", async () => {
    const org = await seedOrg();
    const created = [];
    for (let i = 0; i < 4; i++) created.push((await createUser(org, { name: `Member ${i}` })).id);
    const admin = await adminSession(org);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api("GET", `/users?limit=2${cursor ? `&cursor=${cursor}` : ""}`, admin);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: User[]; next_cursor: string | null };
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((u) => u.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([org.adminId, ...created]);
    expect(pages).toBe(3);
  });

  it.each(["limit=0", "limit=201", "limit=abc", "cursor=%%%", "cursor=bm90LWFuLWlk", "sort=name"])(
    "rejects ?%s with 400 invalid_request",
    async (query) => {
      const org = await seedOrg();
      const res = await api("GET", `/users?${query}`, await adminSession(org));
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    },
  );
});

describe("GET /users/{id}", () => {
  it("is 404 for an unknown id, another org's member, a service user and a removed member", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const service = await seedServiceToken(org.orgId);
    const removed = await createUser(org, {});
    const admin = await adminSession(org);
    await api("DELETE", `/users/${removed.id}`, admin);
    for (const id of ["usr_01JABCDEFGHJKMNPQRSTVWXYZ0", other.adminId, service.serviceUserId, removed.id]) {
      const res = await api("GET", `/users/${id}`, admin);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });
});

describe("PATCH /users/{id}", () => {
  it("edits name and email and replaces each list given, leaving the others", async () => {
    const org = await seedOrg();
    const a = await seedPermissionSet(org.orgId, ["inspections.view"], "A");
    const b = await seedPermissionSet(org.orgId, ["inspections.edit"], "B");
    const holder = await seedUser(org.orgId, { groupNames: ["G1", "G2"], siteNames: ["S1"] });
    const user = await createUser(org, { permission_set_ids: [a], group_ids: [holder.groupIds[0]], site_ids: holder.siteIds });
    const address = freshEmail();
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), {
      name: "Dana Lead",
      email: address,
      permission_set_ids: [b, a],
      group_ids: [holder.groupIds[1]],
    });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as User;
    expect(updated).toEqual({
      ...user,
      name: "Dana Lead",
      email: address,
      permission_set_ids: [a, b].sort(),
      group_ids: [holder.groupIds[1]],
      site_ids: holder.siteIds,
    });
    expect(await (await api("GET", `/users/${user.id}`, await adminSession(org))).json()).toEqual(updated);
    const [event] = await orgEvents(org.orgId, "user.updated");
    expect(event!.actorName).toBe(org.adminName);
    expect(JSON.parse(event!.details!)).toEqual({
      name: { from: "Dana Inspector", to: "Dana Lead" },
      email: { from: user.email, to: address },
      permission_set_ids: { added: [b], removed: [] },
      group_ids: { added: [holder.groupIds[1]], removed: [holder.groupIds[0]] },
    });
  });

  it("an empty body changes nothing and records nothing", async () => {
    const org = await seedOrg();
    const user = await createUser(org, {});
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(user);
    expect(await orgEvents(org.orgId, "user.updated")).toHaveLength(0);
  });

  it("refuses another live member's email with 409 and changes nothing", async () => {
    const org = await seedOrg();
    const taken = await createUser(org, {});
    const user = await createUser(org, { name: "Second" });
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { name: "Renamed", email: taken.email.toUpperCase() });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("conflict");
    expect(await memberRow(user.id)).toMatchObject({ name: "Second", email: user.email });
  });

  it("a taken email refuses the whole PATCH: status, lists and tokens stay as they were", async () => {
    const org = await seedOrg();
    const taken = await createUser(org, {});
    const { user, token } = await viewerWithToken(org);
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), {
      email: taken.email.toUpperCase(),
      status: "deactivated",
      permission_set_ids: [],
    });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("conflict");
    expect(await memberRow(user.id)).toMatchObject({ status: "active", email: `${user.id}@example.com` });
    expect(await db().select().from(userPermissionSets).where(eq(userPermissionSets.userId, user.id))).toHaveLength(1);
    expect((await memberTokens(user.id))[0]!.status).toBe("active");
    expect(await orgEvents(org.orgId, "user.deactivated")).toHaveLength(0);
  });

  it("may change the case of the member's own email", async () => {
    const org = await seedOrg();
    const user = await createUser(org, {});
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { email: user.email.toUpperCase() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as User).email).toBe(user.email.toUpperCase());
  });

  it("rejects another org's ids in the lists with 400 and changes nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const mine = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const theirs = await seedPermissionSet(other.orgId, ["inspections.view"]);
    const user = await createUser(org, { permission_set_ids: [mine] });
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { name: "Changed", permission_set_ids: [mine, theirs] });
    expect(res.status).toBe(400);
    expect((await errorOf(res))["unknown_ids"]).toEqual({ permission_set_ids: [theirs] });
    expect(await memberRow(user.id)).toMatchObject({ name: "Dana Inspector" });
    expect(await db().select().from(userPermissionSets).where(eq(userPermissionSets.userId, user.id))).toEqual([
      { userId: user.id, permissionSetId: mine },
    ]);
  });

  it("is 404 for another org's member, whose row stays untouched", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const victim = await viewerWithToken(other);
    for (const body of [{ name: "Hijacked" }, { status: "deactivated" }]) {
      const res = await api("PATCH", `/users/${victim.user.id}`, await adminSession(org), body);
      expect(res.status).toBe(404);
    }
    expect(await memberRow(victim.user.id)).toMatchObject({ name: "Vic Viewer", status: "active" });
    expect((await memberTokens(victim.user.id))[0]!.status).toBe("active");
    expect(await proxiedStatus(victim.token.secret, "/inspections")).toBe(200);
  });

  it.each([
    ["an unknown field", { role: "admin" }],
    ["status removed (use DELETE)", { status: "removed" }],
    ["an invalid email", { email: "nope" }],
    ["a null name", { name: null }],
    ["a list that is not an array", { site_ids: "site_x" }],
  ])("rejects %s with 400 invalid_request", async (_, body) => {
    const org = await seedOrg();
    const user = await createUser(org, {});
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
  });

  it("refuses to let callers deactivate themselves (409 invalid_state)", async () => {
    const org = await seedOrg();
    const res = await api("PATCH", `/users/${org.adminId}`, await adminSession(org), { status: "deactivated" });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("invalid_state");
    expect(await memberRow(org.adminId)).toMatchObject({ status: "active" });
  });
});

describe("deactivation and removal end the member's tokens", () => {
  it("deactivating stops every token on the next request, marks them expired, and reactivation revives none", async () => {
    const org = await seedOrg();
    const { user, token } = await viewerWithToken(org);
    const second = await seedUserToken(org.orgId, user.id, "Second");
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);

    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { status: "deactivated" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as User).status).toBe("deactivated");

    for (const secret of [token.secret, second.secret]) {
      const { res: denied } = await proxied(secret, "/inspections");
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    const rows = await memberTokens(user.id);
    expect(rows.map((t) => t.status)).toEqual(["expired", "expired"]);
    expect(rows.every((t) => t.expiredAt !== null)).toBe(true);
    const [event] = await orgEvents(org.orgId, "user.deactivated");
    expect(event).toMatchObject({ actorName: org.adminName, targetId: user.id, targetName: "Vic Viewer" });
    expect(JSON.parse(event!.details!)).toEqual({ tokens_ended: 2 });
    // A deactivated member cannot get a new token either.
    await expect(seedUserToken(org.orgId, user.id)).rejects.toThrow();

    const back = await api("PATCH", `/users/${user.id}`, await adminSession(org), { status: "active" });
    expect(back.status).toBe(200);
    expect(((await back.json()) as User).status).toBe("active");
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(401);
    expect((await memberTokens(user.id)).map((t) => t.status)).toEqual(["expired", "expired"]);
    expect(await orgEvents(org.orgId, "user.reactivated")).toHaveLength(1);
    const fresh = await seedUserToken(org.orgId, user.id, "After reactivation");
    expect(await proxiedStatus(fresh.secret, "/inspections")).toBe(200);
  });

  it("a status change and field edits in one PATCH land together", async () => {
    const org = await seedOrg();
    const { user, token } = await viewerWithToken(org);
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { status: "deactivated", name: "Vic (left)", permission_set_ids: [] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "deactivated", name: "Vic (left)", permission_set_ids: [] });
    expect(await memberRow(user.id)).toMatchObject({ status: "deactivated", name: "Vic (left)" });
    expect((await memberTokens(user.id))[0]!.status).toBe("expired");
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(401);
    const types = (await db().select().from(activityEvents).where(eq(activityEvents.targetId, user.id))).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["user.updated", "user.deactivated"]));
  });

  it("DELETE removes the member: 204, then 404 everywhere, tokens expired and refused", async () => {
    const org = await seedOrg();
    const { user, token } = await viewerWithToken(org);
    const admin = await adminSession(org);
    const res = await api("DELETE", `/users/${user.id}`, admin);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await api("GET", `/users/${user.id}`, admin)).status).toBe(404);
    expect((await api("PATCH", `/users/${user.id}`, admin, { status: "active" })).status).toBe(404);
    expect((await api("DELETE", `/users/${user.id}`, admin)).status).toBe(404);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(401);
    expect(await memberTokens(user.id)).toEqual([expect.objectContaining({ status: "expired" })]);
    expect(await memberRow(user.id)).toMatchObject({ status: "removed" });
    expect(await db().select().from(userPermissionSets).where(eq(userPermissionSets.userId, user.id))).toEqual([]);
    const [event] = await orgEvents(org.orgId, "user.removed");
    expect(event).toMatchObject({ actorName: org.adminName, targetName: "Vic Viewer" });
  });

  it("DELETE of another org's member is 404 and leaves them and their tokens alone", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const victim = await viewerWithToken(other);
    expect((await api("DELETE", `/users/${victim.user.id}`, await adminSession(org))).status).toBe(404);
    expect(await memberRow(victim.user.id)).toMatchObject({ status: "active" });
    expect(await proxiedStatus(victim.token.secret, "/inspections")).toBe(200);
  });

  it("refuses to let callers remove themselves (409 invalid_state)", async () => {
    const org = await seedOrg();
    const res = await api("DELETE", `/users/${org.adminId}`, await adminSession(org));
    expect(res.status).toBe(409);
    expect(await memberRow(org.adminId)).toMatchObject({ status: "active" });
  });
});

describe("permission changes reach existing tokens on the next request", () => {
  it("replacing a member's permission sets flips the proxy between 200 and 403", async () => {
    const org = await seedOrg();
    const { user, token, setId } = await viewerWithToken(org);
    const admin = await adminSession(org);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);

    expect((await api("PATCH", `/users/${user.id}`, admin, { permission_set_ids: [] })).status).toBe(200);
    const { res: denied } = await proxied(token.secret, "/inspections");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("www-authenticate")).toContain('scope="inspections.view"');

    expect((await api("PATCH", `/users/${user.id}`, admin, { permission_set_ids: [setId] })).status).toBe(200);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);
  });

  it("group and site changes reach the upstream's identity headers", async () => {
    const org = await seedOrg();
    const { user, token } = await viewerWithToken(org);
    const admin = await adminSession(org);
    const group = (await (await api("POST", "/groups", admin, { name: "Night shift" })).json()) as { id: string };
    const site = (await (await api("POST", "/sites", admin, { name: "Depot" })).json()) as { id: string };
    expect((await api("PATCH", `/users/${user.id}`, admin, { group_ids: [group.id], site_ids: [site.id] })).status).toBe(200);
    const { res, seen } = await proxied(token.secret, "/inspections");
    expect(res.status).toBe(200);
    expect(seen!.headers["x-portcullis-groups"]).toBe(group.id);
    expect(seen!.headers["x-portcullis-sites"]).toBe(site.id);
  });
});

describe("directory writes by a service user", () => {
  it("a service token holding platform_management.users manages members, logged under its name", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["platform_management.users"], "Directory sync");
    const service = await seedServiceToken(org.orgId, { name: "HR sync", permissionSetIds: [setId] });
    const res = await api("POST", "/users", service.secret, { name: "From HR", email: freshEmail() });
    expect(res.status).toBe(201);
    const [event] = await orgEvents(org.orgId, "user.created");
    expect(event).toMatchObject({ actorId: service.serviceUserId, actorType: "service_user", actorName: "HR sync" });
  });
});

describe("storage failures", () => {

  it("a failed write answers 503 with Retry-After and leaves no member and no event", async () => {
    const org = await seedOrg();
    // The real D1 for reads, but every batch (every write here) fails as production D1 can.
    const failing = batchFailingDb("reject");
    const res = await api("POST", "/users", await adminSession(org), { name: "Lost", email: freshEmail() }, { env: { DB: failing.db } });
    expect(res.status).toBe(503);
    expect(failing.strayWrites).toEqual([]);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(await errorCode(res)).toBe("unavailable");
    expect(await db().select().from(users).where(eq(users.orgId, org.orgId))).toHaveLength(1);
    expect(await orgEvents(org.orgId, "user.created")).toHaveLength(0);
  });

  it("a failed deactivation changes nothing: the member and their tokens stay active", async () => {
    const org = await seedOrg();
    const { user, token } = await viewerWithToken(org);
    const failing = batchFailingDb("reject");
    const res = await api("PATCH", `/users/${user.id}`, await adminSession(org), { status: "deactivated", name: "X" }, { env: { DB: failing.db } });
    expect(res.status).toBe(503);
    expect(failing.strayWrites).toEqual([]);
    expect(await memberRow(user.id)).toMatchObject({ status: "active", name: "Vic Viewer" });
    expect((await memberTokens(user.id))[0]!.status).toBe("active");
    expect(await orgEvents(org.orgId, "user.deactivated")).toHaveLength(0);
    expect(await proxiedStatus(token.secret, "/inspections")).toBe(200);
  });
});

describe("GET /seats", () => {
  it("counts active human members only: not service users, deactivated or removed members", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    const seats = async () => ((await (await api("GET", "/seats", admin)).json()) as { seats: number }).seats;
    expect(await seats()).toBe(1);
    await seedServiceToken(org.orgId);
    await seedServiceToken(org.orgId, { name: "Second integration" });
    const a = await createUser(org, {});
    const b = await createUser(org, {});
    await createUser(org, {});
    expect(await seats()).toBe(4);
    await api("PATCH", `/users/${a.id}`, admin, { status: "deactivated" });
    await api("DELETE", `/users/${b.id}`, admin);
    expect(await seats()).toBe(2);
    const res = await api("GET", "/seats", admin);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ seats: 2 });
  });

  it("counts only the caller's organization and rejects unknown query parameters", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    await seedUser(other.orgId);
    expect(await (await api("GET", "/seats", await adminSession(org))).json()).toEqual({ seats: 1 });
    expect((await api("GET", "/seats?org=x", await adminSession(org))).status).toBe(400);
  });
});

describeSecurity("GET /users", { method: "GET", path: "/users", permission: "platform_management.users" });
describeSecurity("POST /users", {
  method: "POST",
  path: "/users",
  body: { name: "X", email: "x@example.com" },
  permission: "platform_management.users",
});
describeSecurity("GET /users/{id}", { method: "GET", path: (org) => `/users/${org.adminId}`, permission: "platform_management.users" });
describeSecurity("PATCH /users/{id}", {
  method: "PATCH",
  path: (org) => `/users/${org.adminId}`,
  body: { name: "X" },
  permission: "platform_management.users",
});
describeSecurity("DELETE /users/{id}", { method: "DELETE", path: (org) => `/users/${org.adminId}`, permission: "platform_management.users" });
describeSecurity("GET /seats", { method: "GET", path: "/seats", permission: "platform_management.users" });

describe("missing permission is checked before input validation", () => {
  it("a caller without platform_management.users gets 403 even for an invalid body", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const { id: userId } = await seedUser(org.orgId, { permissionSetIds: [setId] });
    const session = await sessionJwt({ sub: userId, org: org.orgId });
    const res = await api("POST", "/users", session, { bogus: true });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("insufficient_permissions");
    expect((await api("GET", "/users", session)).status).toBe(403);
  });
});
