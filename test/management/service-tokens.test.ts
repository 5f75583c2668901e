import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { activityEvents, apiTokens, serviceUserPermissionSets, serviceUsers } from "../../src/db/schema";
import { parseToken } from "../../src/token/format";
import { eventsFor, tokenRow } from "../helpers/records";
import { describeSecurity } from "../helpers/security";
import { db, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, adminSession, sessionJwt, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, marker, proxied, upstreamRequests } from "../helpers/worker";
import { errorCode } from "../helpers/errors";

const DAY = 86_400_000;

interface ServiceToken {
  id: string;
  name: string;
  hint: string;
  status: "active" | "revoked" | "expired";
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  inactivity_days: number;
  permission_set_ids: string[];
  service_user: { id: string; name: string };
  allowed_cidrs: string[];
  token?: string;
}

async function create(org: SeededOrg, body: Record<string, unknown> = { name: "Warehouse sync" }): Promise<ServiceToken> {
  const res = await api("POST", "/service-tokens", await adminSession(org), body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ServiceToken;
}

async function revoke(org: SeededOrg, id: string): Promise<Response> {
  return api("POST", `/service-tokens/${id}/revoke`, await adminSession(org));
}

/** An org holding a "Viewer" (inspections.view) and an "Editor" (inspections.edit) set beside Administrator. */
async function orgWithSets() {
  const org = await seedOrg();
  const viewer = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewer");
  const editor = await seedPermissionSet(org.orgId, ["inspections.edit"], "Editor");
  return { org, viewer, editor };
}

const someToken = async (org: SeededOrg) => (await seedServiceToken(org.orgId)).id;
describeSecurity("GET /service-tokens", { method: "GET", path: "/service-tokens", permission: "integrations.manage" });
describeSecurity("POST /service-tokens", { method: "POST", path: "/service-tokens", body: { name: "x" }, permission: "integrations.manage" });
describeSecurity("GET /service-tokens/{id}", {
  method: "GET",
  path: async (org) => `/service-tokens/${await someToken(org)}`,
  permission: "integrations.manage",
});
describeSecurity("PATCH /service-tokens/{id}", {
  method: "PATCH",
  path: async (org) => `/service-tokens/${await someToken(org)}`,
  body: { name: "renamed" },
  permission: "integrations.manage",
});
describeSecurity("POST /service-tokens/{id}/revoke", {
  method: "POST",
  path: async (org) => `/service-tokens/${await someToken(org)}/revoke`,
  permission: "integrations.manage",
});
describeSecurity("POST /service-tokens/{id}/regenerate", {
  method: "POST",
  path: async (org) => `/service-tokens/${await someToken(org)}/regenerate`,
  permission: "integrations.manage",
});
describeSecurity("DELETE /service-tokens/{id}", {
  method: "DELETE",
  path: async (org) => `/service-tokens/${await someToken(org)}`,
  permission: "integrations.manage",
});

describe("integrations.manage", () => {
  it("a member's session without it gets 403, even with an invalid body", async () => {
    const org = await seedOrg();
    const viewer = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const member = await seedUser(org.orgId, { permissionSetIds: [viewer] });
    const session = await sessionJwt({ sub: member.id, org: org.orgId });
    const res = await api("POST", "/service-tokens", session, { bogus: true });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("insufficient_permissions");
    expect((await api("GET", "/service-tokens", session)).status).toBe(403);
  });

  it("an admin's service token with it may manage service tokens; events name the service user", async () => {
    const org = await seedOrg();
    const manager = await seedServiceToken(org.orgId, { name: "Provisioning bot", permissionSetIds: [org.adminSetId] });
    const res = await api("POST", "/service-tokens", manager.secret, { name: "Made by a bot" });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as ServiceToken;
    const [event] = await eventsFor(id, "token.created");
    expect(event).toMatchObject({ actorId: manager.serviceUserId, actorType: "service_user", actorName: "Provisioning bot" });
  });
});

describe("POST /service-tokens (create)", () => {
  it("creates a service user and token with the defaults: 45 days, all of the org's permission sets", async () => {
    const { org, viewer, editor } = await orgWithSets();
    const before = Date.now();
    const res = await api("POST", "/service-tokens", await adminSession(org), { name: "Warehouse sync" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as ServiceToken;
    expect(Object.keys(body).sort()).toEqual(
      ["allowed_cidrs", "created_at", "expires_at", "hint", "id", "inactivity_days", "last_used_at", "name", "permission_set_ids", "service_user", "status", "token"].sort(),
    );
    expect(body.allowed_cidrs).toEqual([]);
    expect(body).toMatchObject({ name: "Warehouse sync", status: "active", inactivity_days: 45, last_used_at: null });
    expect(body.permission_set_ids).toEqual([org.adminSetId, viewer, editor].sort());
    expect(body.service_user.name).toBe("Warehouse sync");
    expect(Date.parse(body.expires_at!) - Date.parse(body.created_at)).toBe(45 * DAY);
    expect(Date.parse(body.created_at)).toBeGreaterThanOrEqual(before);
    const parsed = parseToken(body.token!);
    expect(parsed.ok && parsed.kind).toBe("service_user");
    expect(body.hint).toBe(`pcs_…${body.token!.slice(-4)}`);

    const su = await db().query.serviceUsers.findFirst({ where: eq(serviceUsers.id, body.service_user.id) });
    expect(su).toMatchObject({ orgId: org.orgId, name: "Warehouse sync" });
    const row = await tokenRow(body.id);
    expect(row).toMatchObject({ kind: "service_user", serviceUserId: body.service_user.id, userId: null, inactivityDays: 45 });
    expect(JSON.stringify(row)).not.toContain(body.token!.slice(4));

    const { res: used, marker: m } = await proxied(body.token!, "/inspections");
    expect(used.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-subject-type"]).toBe("service_user");
    expect(seen!.headers["x-portcullis-subject-name"]).toBe("Warehouse sync");
    expect(seen!.headers["x-portcullis-permissions"]).toContain("inspections.edit");
  });

  it("takes a chosen window and chosen permission sets", async () => {
    const { org, viewer } = await orgWithSets();
    const body = await create(org, { name: "Nightly export", inactivity_days: 180, permission_set_ids: [viewer, viewer] });
    expect(body.inactivity_days).toBe(180);
    expect(body.permission_set_ids).toEqual([viewer]);
    expect(Date.parse(body.expires_at!) - Date.parse(body.created_at)).toBe(180 * DAY);
    const links = await db().select().from(serviceUserPermissionSets).where(eq(serviceUserPermissionSets.serviceUserId, body.service_user.id));
    expect(links.map((l) => l.permissionSetId)).toEqual([viewer]);
  });

  it("accepts an explicit empty permission set list", async () => {
    const { org } = await orgWithSets();
    const body = await create(org, { name: "No permissions", permission_set_ids: [] });
    expect(body.permission_set_ids).toEqual([]);
    expect((await proxied(body.token!, "/inspections")).res.status).toBe(403);
  });

  it.each([
    ["a missing name", {}],
    ["an empty name", { name: "" }],
    ["a name over 100 characters", { name: "n".repeat(101) }],
    ["a window that is not offered", { name: "x", inactivity_days: 30 }],
    ["a window that is not a number", { name: "x", inactivity_days: "45" }],
    ["an unknown field", { name: "x", kind: "user" }],
    ["permission_set_ids that is not a list", { name: "x", permission_set_ids: "all" }],
  ])("rejects %s with 400 invalid_request and creates nothing", async (_label, body) => {
    const org = await seedOrg();
    const res = await api("POST", "/service-tokens", await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
    expect(await db().select().from(serviceUsers).where(eq(serviceUsers.orgId, org.orgId))).toHaveLength(0);
  });

  it("rejects an unknown or another org's permission set with 400 and creates nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    for (const setId of [other.adminSetId, "ps_01ARZ3NDEKTSV4RRFFQ69G5FAV"]) {
      const res = await api("POST", "/service-tokens", await adminSession(org), { name: "x", permission_set_ids: [org.adminSetId, setId] });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
    expect(await db().select().from(serviceUsers).where(eq(serviceUsers.orgId, org.orgId))).toHaveLength(0);
  });

  it("refuses the 21st active token with 409 token_limit_reached", async () => {
    const org = await seedOrg();
    for (let i = 0; i < 20; i++) await seedServiceToken(org.orgId, { name: `s${i}` });
    const res = await api("POST", "/service-tokens", await adminSession(org), { name: "one too many" });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("token_limit_reached");
  });
});

describe("GET /service-tokens (list)", () => {
  it("lists the org's service tokens with their service users, never secrets or other orgs' tokens", async () => {
    const { org, viewer } = await orgWithSets();
    const other = await seedOrg("Other");
    const a = await create(org, { name: "A", permission_set_ids: [viewer] });
    const b = await create(org, { name: "B", inactivity_days: 60 });
    await seedServiceToken(other.orgId, { name: "Foreign" });
    await seedUserToken(org.orgId, org.adminId);

    const res = await api("GET", "/service-tokens", await adminSession(org));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(text).not.toContain(a.token!);
    expect(text).not.toContain(b.token!);
    const body = JSON.parse(text) as { data: ServiceToken[]; next_cursor: string | null };
    expect(body.next_cursor).toBeNull();
    expect(body.data).toHaveLength(2);
    const { token: _a, ...aListed } = a;
    const { token: _b, ...bListed } = b;
    expect(body.data).toEqual([aListed, bListed]);
  });

  it("paginates with limit and cursor", async () => {
    const org = await seedOrg();
    const ids: string[] = [];
    for (const name of ["1", "2", "3"]) ids.push((await seedServiceToken(org.orgId, { name })).id);
    const session = await adminSession(org);
    const first = (await (await api("GET", "/service-tokens?limit=2", session)).json()) as { data: ServiceToken[]; next_cursor: string };
    expect(first.data.map((t) => t.id)).toEqual(ids.slice(0, 2));
    const second = (await (await api("GET", `/service-tokens?limit=2&cursor=${first.next_cursor}`, session)).json()) as {
      data: ServiceToken[];
      next_cursor: string | null;
    };
    expect(second.data.map((t) => t.id)).toEqual(ids.slice(2));
    expect(second.next_cursor).toBeNull();
    expect((await api("GET", "/service-tokens?cursor=%%%", session)).status).toBe(400);
    expect((await api("GET", "/service-tokens?limit=abc", session)).status).toBe(400);
  });
});

describe("GET /service-tokens/{id}", () => {
  it("shows one token with its service user and permission sets", async () => {
    const { org, editor } = await orgWithSets();
    const created = await create(org, { name: "Sync", permission_set_ids: [editor] });
    const res = await api("GET", `/service-tokens/${created.id}`, await adminSession(org));
    expect(res.status).toBe(200);
    const { token: _secret, ...expected } = created;
    expect(await res.json()).toEqual(expected);
  });

  it("answers 404 for another org's token, a user token and an unknown id, with no data", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId, { name: "Foreign secret name" });
    const userToken = await seedUserToken(org.orgId, org.adminId);
    for (const id of [foreign.id, userToken.id, "tok_01ARZ3NDEKTSV4RRFFQ69G5FAV"]) {
      const res = await api("GET", `/service-tokens/${id}`, await adminSession(org));
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).not.toContain("Foreign secret name");
      expect(JSON.parse(text).error.code).toBe("not_found");
    }
  });
});

describe("PATCH /service-tokens/{id} (edit)", () => {
  it("renames the token and its service user; the proxy and the activity log show the new name", async () => {
    const org = await seedOrg("Umbrella");
    const created = await create(org, { name: "Old name" });
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { name: "New name" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ServiceToken;
    expect(body).toMatchObject({ name: "New name", service_user: { id: created.service_user.id, name: "New name" } });
    expect(body.token).toBeUndefined();

    const { res: used, marker: m } = await proxied(created.token!);
    expect(used.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-subject-name"]).toBe("New name");
    const [firstUse] = await eventsFor(created.id, "token.first_used");
    expect(firstUse!.actorName).toBe("New name");

    const [edited] = await eventsFor(created.id, "token.edited");
    expect(edited).toMatchObject({ actorId: org.adminId, actorName: "Umbrella Admin", targetName: "New name" });
    expect(JSON.parse(edited!.details!)).toEqual({ kind: "service_user", changes: { name: { from: "Old name", to: "New name" } } });
  });

  it("changing the window recomputes the idle deadline from the last activity", async () => {
    const org = await seedOrg();
    const created = await create(org, { name: "Sync", inactivity_days: 31 });
    const lastActive = Date.now() - 10 * DAY;
    await db().update(apiTokens).set({ lastActiveAt: lastActive, expiresAt: lastActive + 31 * DAY }).where(eq(apiTokens.id, created.id));
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { inactivity_days: 180 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ServiceToken;
    expect(body.inactivity_days).toBe(180);
    expect(body.expires_at).toBe(new Date(lastActive + 180 * DAY).toISOString());
    expect((await tokenRow(created.id))).toMatchObject({ inactivityDays: 180, expiresAt: lastActive + 180 * DAY });
    const [edited] = await eventsFor(created.id, "token.edited");
    expect(JSON.parse(edited!.details!).changes).toEqual({ inactivity_days: { from: 31, to: 180 } });
  });

  it("shortening the window below the idle time expires the token on its next request", async () => {
    const org = await seedOrg();
    const created = await create(org, { name: "Sync", inactivity_days: 180 });
    const lastActive = Date.now() - 40 * DAY;
    await db().update(apiTokens).set({ lastActiveAt: lastActive, expiresAt: lastActive + 180 * DAY }).where(eq(apiTokens.id, created.id));
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { inactivity_days: 31 });
    expect(((await res.json()) as ServiceToken).status).toBe("expired");
    const { res: used } = await proxied(created.token!);
    expect(used.status).toBe(401);
    expect(used.headers.get("www-authenticate")).toContain("token expired after 31 days of inactivity");
  });

  it("a longer window never revives a token that already expired", async () => {
    const org = await seedOrg();
    const created = await create(org, { name: "Sync", inactivity_days: 31 });
    const lastActive = Date.now() - 40 * DAY;
    await db().update(apiTokens).set({ lastActiveAt: lastActive, expiresAt: lastActive + 31 * DAY }).where(eq(apiTokens.id, created.id));
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { inactivity_days: 180 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ServiceToken).status).toBe("expired");
    expect((await proxied(created.token!)).res.status).toBe(401);
  });

  it("permission set changes apply on the token's very next proxied request", async () => {
    const { org, viewer, editor } = await orgWithSets();
    const created = await create(org, { name: "Sync" });
    expect((await proxied(created.token!, "/inspections")).res.status).toBe(200);

    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { permission_set_ids: [editor] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ServiceToken).permission_set_ids).toEqual([editor]);
    const { res: denied } = await proxied(created.token!, "/inspections");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("www-authenticate")).toContain('scope="inspections.view"');

    const [edited] = await eventsFor(created.id, "token.edited");
    expect(JSON.parse(edited!.details!).changes.permission_set_ids).toEqual({ added: [], removed: [org.adminSetId, viewer].sort() });

    await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { permission_set_ids: [viewer] });
    const { res: allowed, marker: m } = await proxied(created.token!, "/inspections");
    expect(allowed.status).toBe(200);
    expect((await upstreamRequests(m))[0]!.headers["x-portcullis-permissions"]).toBe("inspections.view");
  });

  it("an edit that changes nothing writes no event", async () => {
    const org = await seedOrg();
    const created = await create(org, { name: "Same", inactivity_days: 60 });
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { name: "Same", inactivity_days: 60 });
    expect(res.status).toBe(200);
    expect(await eventsFor(created.id, "token.edited")).toHaveLength(0);
  });

  it("a revoked token can be edited, and regeneration keeps the edited settings", async () => {
    const { org, viewer } = await orgWithSets();
    const created = await create(org, { name: "Paused" });
    await revoke(org, created.id);
    const edit = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { inactivity_days: 60, permission_set_ids: [viewer] });
    expect(edit.status).toBe(200);
    expect(((await edit.json()) as ServiceToken).status).toBe("revoked");
    const regen = (await (await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org))).json()) as ServiceToken;
    expect(regen).toMatchObject({ inactivity_days: 60, permission_set_ids: [viewer], status: "active" });
  });

  it.each([
    ["an empty body", {}],
    ["an unknown field", { status: "active" }],
    ["a window that is not offered", { inactivity_days: 90 }],
    ["an empty name", { name: " " }],
  ])("rejects %s with 400 invalid_request", async (_label, body) => {
    const org = await seedOrg();
    const created = await create(org);
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
  });

  it("rejects another org's permission set with 400 and changes nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const created = await create(org, { name: "Sync" });
    const res = await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { name: "Changed", permission_set_ids: [other.adminSetId] });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
    const after = (await (await api("GET", `/service-tokens/${created.id}`, await adminSession(org))).json()) as ServiceToken;
    expect(after.name).toBe("Sync");
    expect(after.permission_set_ids).toEqual([org.adminSetId]);
  });

  it("answers 404 for another org's token and changes nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId, { name: "Foreign" });
    const res = await api("PATCH", `/service-tokens/${foreign.id}`, await adminSession(org), { name: "Hijacked" });
    expect(res.status).toBe(404);
    expect((await tokenRow(foreign.id))!.name).toBe("Foreign");
    expect(await eventsFor(foreign.id, "token.edited")).toHaveLength(0);
  });
});

describe("POST /service-tokens/{id}/revoke", () => {
  it("revokes: the token stops on the very next proxied request", async () => {
    const org = await seedOrg("Hooli");
    const created = await create(org);
    expect((await proxied(created.token!)).res.status).toBe(200);
    const res = await revoke(org, created.id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ServiceToken;
    expect(body).toMatchObject({ id: created.id, status: "revoked", expires_at: null });
    expect(body.token).toBeUndefined();
    const { res: after } = await proxied(created.token!);
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error_description="token revoked"');
    const [event] = await eventsFor(created.id, "token.revoked");
    expect(event).toMatchObject({ actorId: org.adminId, actorType: "user", actorName: "Hooli Admin", targetName: "Warehouse sync" });
  });

  it("is idempotent: a second revoke answers 200 and writes no second event", async () => {
    const org = await seedOrg();
    const created = await create(org);
    await revoke(org, created.id);
    const again = await revoke(org, created.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as ServiceToken).status).toBe("revoked");
    expect(await eventsFor(created.id, "token.revoked")).toHaveLength(1);
  });

  it("an expired token may be revoked, which makes it regenerable", async () => {
    const org = await seedOrg();
    const created = await create(org);
    await db().update(apiTokens).set({ status: "expired", expiredAt: Date.now() - DAY, expiresAt: Date.now() - DAY }).where(eq(apiTokens.id, created.id));
    expect((await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org))).status).toBe(409);
    const res = await revoke(org, created.id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ServiceToken).status).toBe("revoked");
    const regen = await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org));
    expect(regen.status).toBe(200);
    const { token } = (await regen.json()) as ServiceToken;
    expect((await proxied(token!)).res.status).toBe(200);
  });

  it("answers 404 for another org's token and a user token, changing nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId);
    const userToken = await seedUserToken(org.orgId, org.adminId);
    expect((await revoke(org, foreign.id)).status).toBe(404);
    expect((await revoke(org, userToken.id)).status).toBe(404);
    expect((await proxied(foreign.secret)).res.status).toBe(200);
    expect((await proxied(userToken.secret)).res.status).toBe(200);
  });
});

describe("POST /service-tokens/{id}/regenerate", () => {
  it("only a revoked token can be regenerated: an active one is 409 invalid_state and keeps working", async () => {
    const org = await seedOrg();
    const created = await create(org);
    const res = await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org));
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("invalid_state");
    expect((await tokenRow(created.id))!.hint).toBe(created.hint);
    expect((await proxied(created.token!)).res.status).toBe(200);
  });

  it("gives a new secret for the same id and settings; the old secret stays dead", async () => {
    const { org, viewer } = await orgWithSets();
    const created = await create(org, { name: "Sync", inactivity_days: 60, permission_set_ids: [viewer] });
    await proxied(created.token!);
    await revoke(org, created.id);
    const lastActive = Date.now() - 20 * DAY;
    await db().update(apiTokens).set({ lastActiveAt: lastActive, expiresAt: lastActive + 60 * DAY }).where(eq(apiTokens.id, created.id));

    const before = Date.now();
    const res = await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as ServiceToken;
    expect(body).toMatchObject({
      id: created.id,
      name: "Sync",
      status: "active",
      inactivity_days: 60,
      permission_set_ids: [viewer],
      service_user: created.service_user,
      created_at: created.created_at,
      last_used_at: null,
    });
    expect(body.token).not.toBe(created.token);
    expect(parseToken(body.token!).ok).toBe(true);
    expect(body.hint).toBe(`pcs_…${body.token!.slice(-4)}`);
    expect(Date.parse(body.expires_at!)).toBeGreaterThanOrEqual(before + 60 * DAY);

    const { res: fresh, marker: m } = await proxied(body.token!, "/inspections");
    expect(fresh.status).toBe(200);
    expect((await upstreamRequests(m))[0]!.headers["x-portcullis-token-id"]).toBe(created.id);
    const { res: old } = await proxied(created.token!);
    expect(old.status).toBe(401);

    // Revoke and regenerate again: neither earlier secret ever comes back.
    await revoke(org, created.id);
    const third = (await (await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org))).json()) as ServiceToken;
    expect((await proxied(created.token!)).res.status).toBe(401);
    expect((await proxied(body.token!)).res.status).toBe(401);
    expect((await proxied(third.token!)).res.status).toBe(200);

    const events = await eventsFor(created.id, "token.regenerated");
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[0]!.details!)).toEqual({ kind: "service_user", hint: body.hint, previous_hint: created.hint });
    expect(events[0]!.actorId).toBe(org.adminId);
  });

  it("answers 404 for another org's revoked token and leaves it revoked", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId);
    await revoke(other, foreign.id);
    expect((await api("POST", `/service-tokens/${foreign.id}/regenerate`, await adminSession(org))).status).toBe(404);
    expect((await tokenRow(foreign.id))!.status).toBe("revoked");
  });

  it("concurrent regenerations of one revoked token leave exactly one live secret", async () => {
    const org = await seedOrg();
    const created = await create(org);
    await revoke(org, created.id);
    const session = await adminSession(org);
    const results = await Promise.all(Array.from({ length: 6 }, () => api("POST", `/service-tokens/${created.id}/regenerate`, session)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409]);
    const winner = (await results.find((r) => r.status === 200)!.json()) as ServiceToken;
    expect((await proxied(winner.token!)).res.status).toBe(200);
    expect((await tokenRow(created.id))!.hint).toBe(winner.hint);
    expect(await eventsFor(created.id, "token.regenerated")).toHaveLength(1);
  });
});

describe("DELETE /service-tokens/{id}", () => {
  it("an active token cannot be deleted: 409 invalid_state, and it keeps working", async () => {
    const org = await seedOrg();
    const created = await create(org);
    const res = await api("DELETE", `/service-tokens/${created.id}`, await adminSession(org));
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("invalid_state");
    expect((await proxied(created.token!)).res.status).toBe(200);
  });

  it("deletes a revoked token for good: 404 on every route, absent from the list, secret dead", async () => {
    const org = await seedOrg("Stark");
    const created = await create(org);
    await revoke(org, created.id);
    const session = await adminSession(org);
    const res = await api("DELETE", `/service-tokens/${created.id}`, session);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    for (const [method, path, body] of [
      ["GET", `/service-tokens/${created.id}`, undefined],
      ["PATCH", `/service-tokens/${created.id}`, { name: "back" }],
      ["POST", `/service-tokens/${created.id}/revoke`, undefined],
      ["POST", `/service-tokens/${created.id}/regenerate`, undefined],
      ["DELETE", `/service-tokens/${created.id}`, undefined],
    ] as const) {
      const after = await api(method, path, session, body);
      expect(after.status, `${method} ${path}`).toBe(404);
    }
    const list = (await (await api("GET", "/service-tokens", session)).json()) as { data: ServiceToken[] };
    expect(list.data.map((t) => t.id)).not.toContain(created.id);
    const { res: used } = await proxied(created.token!);
    expect(used.status).toBe(401);
    expect(used.headers.get("www-authenticate")).toContain('error_description="token deleted"');

    expect((await tokenRow(created.id))).toMatchObject({ status: "deleted" });
    const events = await eventsFor(created.id, "token.deleted");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorName: "Stark Admin", actorType: "user", targetName: "Warehouse sync" });
  });

  it("deletes an expired token, including one idle past its deadline before the sweep marks it", async () => {
    const org = await seedOrg();
    const idle = await create(org, { name: "Idle" });
    await db().update(apiTokens).set({ expiresAt: Date.now() - 1 }).where(eq(apiTokens.id, idle.id));
    expect((await api("DELETE", `/service-tokens/${idle.id}`, await adminSession(org))).status).toBe(204);
    const swept = await create(org, { name: "Swept" });
    await db().update(apiTokens).set({ status: "expired", expiredAt: Date.now() }).where(eq(apiTokens.id, swept.id));
    expect((await api("DELETE", `/service-tokens/${swept.id}`, await adminSession(org))).status).toBe(204);
  });

  it("answers 404 for another org's revoked token and leaves it", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId);
    await revoke(other, foreign.id);
    expect((await api("DELETE", `/service-tokens/${foreign.id}`, await adminSession(org))).status).toBe(404);
    expect((await tokenRow(foreign.id))!.status).toBe("revoked");
  });

  it("racing delete and regenerate never leaves a deleted token alive", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    for (let round = 0; round < 4; round++) {
      const created = await create(org, { name: `race ${round}` });
      await revoke(org, created.id);
      const [regen, del] = await Promise.all([
        api("POST", `/service-tokens/${created.id}/regenerate`, session),
        api("DELETE", `/service-tokens/${created.id}`, session),
      ]);
      const row = (await tokenRow(created.id))!;
      if (del.status === 204) {
        expect(row.status).toBe("deleted");
        expect(regen.status).toBe(404);
      } else {
        expect(del.status).toBe(409);
        expect(regen.status).toBe(200);
        expect(row.status).toBe("active");
        const { token } = (await regen.json()) as ServiceToken;
        expect((await proxied(token!)).res.status).toBe(200);
      }
    }
  });
});

describe("with the optional auth cache on (AUTH_CACHE_TTL_MS)", () => {
  const cached = { AUTH_CACHE_TTL_MS: "60000" };
  const viaCache = (secret: string, path: string) => call(`${path}/${marker()}`, { headers: bearer(secret), env: cached });

  it("a revoke through this isolate still stops the token on the next request", async () => {
    const org = await seedOrg();
    const created = await create(org);
    expect((await viaCache(created.token!, "/widgets")).status).toBe(200);
    expect((await revoke(org, created.id)).status).toBe(200);
    expect((await viaCache(created.token!, "/widgets")).status).toBe(401);
  });

  it("a permission edit through this isolate applies on the next request", async () => {
    const { org, editor } = await orgWithSets();
    const created = await create(org);
    expect((await viaCache(created.token!, "/inspections")).status).toBe(200);
    await api("PATCH", `/service-tokens/${created.id}`, await adminSession(org), { permission_set_ids: [editor] });
    expect((await viaCache(created.token!, "/inspections")).status).toBe(403);
  });

  it("after regenerate the old secret is refused and the new one accepted at once", async () => {
    const org = await seedOrg();
    const created = await create(org);
    expect((await viaCache(created.token!, "/widgets")).status).toBe(200);
    await revoke(org, created.id);
    const regen = (await (await api("POST", `/service-tokens/${created.id}/regenerate`, await adminSession(org))).json()) as ServiceToken;
    expect((await viaCache(created.token!, "/widgets")).status).toBe(401);
    expect((await viaCache(regen.token!, "/widgets")).status).toBe(200);
  });
});

describe("service token secrets", () => {
  it("appear only in the create and regenerate responses", async () => {
    const org = await seedOrg();
    const created = await create(org);
    const session = await adminSession(org);
    const views = [
      await api("GET", "/service-tokens", session),
      await api("GET", `/service-tokens/${created.id}`, session),
      await api("PATCH", `/service-tokens/${created.id}`, session, { name: "Renamed" }),
      await revoke(org, created.id),
    ];
    for (const view of views) {
      const text = await view.text();
      expect(text).not.toContain(created.token!);
      expect(text).not.toContain('"token"');
    }
    const events = await db().select().from(activityEvents).where(eq(activityEvents.orgId, org.orgId));
    expect(JSON.stringify(events)).not.toContain(created.token!);
  });
});
