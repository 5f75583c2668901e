import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiTokens } from "../../src/db/schema";
import { parseToken } from "../../src/token/format";
import { eventsFor, tokenRow } from "../helpers/records";
import { describeSecurity } from "../helpers/security";
import { db, seedOrg, seedServiceToken, seedUser, seedUserToken, adminSession, sessionJwt } from "../helpers/seed";
import { api, proxied } from "../helpers/worker";
import { errorCode } from "../helpers/errors";

interface UserToken {
  id: string;
  name: string;
  hint: string;
  status: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  token?: string;
}

describeSecurity("GET /me/api-tokens", { method: "GET", path: "/me/api-tokens" });
describeSecurity("POST /me/api-tokens", { method: "POST", path: "/me/api-tokens", body: { name: "CLI" } });
describeSecurity("POST /me/api-tokens/{id}/revoke", {
  method: "POST",
  path: async (org) => `/me/api-tokens/${(await seedUserToken(org.orgId, org.adminId)).id}/revoke`,
});

describe("POST /me/api-tokens (generate)", () => {
  it("generates a token from a fresh session and shows the secret once, uncached", async () => {
    const org = await seedOrg();
    const before = Date.now();
    const res = await api("POST", "/me/api-tokens", await adminSession(org), { name: "  Reporting script  " });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as UserToken;
    expect(Object.keys(body).sort()).toEqual(["created_at", "expires_at", "hint", "id", "last_used_at", "name", "status", "token"]);
    expect(body.name).toBe("Reporting script");
    expect(body.status).toBe("active");
    expect(body.last_used_at).toBeNull();
    const parsed = parseToken(body.token!);
    expect(parsed.ok && parsed.kind).toBe("user");
    expect(body.hint).toBe(`pcu_…${body.token!.slice(-4)}`);
    const deadline = Date.parse(body.expires_at!) - Date.parse(body.created_at);
    expect(deadline).toBe(30 * 86_400_000);
    expect(Date.parse(body.created_at)).toBeGreaterThanOrEqual(before);

    const row = await tokenRow(body.id);
    expect(row).toMatchObject({ orgId: org.orgId, kind: "user", userId: org.adminId, status: "active", inactivityDays: 30 });
    expect(JSON.stringify(row)).not.toContain(body.token!.slice(4));

    const { res: used } = await proxied(body.token!);
    expect(used.status).toBe(200);
  });

  it("records token.created with the user's name as actor", async () => {
    const org = await seedOrg("Globex");
    const res = await api("POST", "/me/api-tokens", await adminSession(org), { name: "CLI" });
    const { id } = (await res.json()) as UserToken;
    const [event] = await eventsFor(id, "token.created");
    expect(event).toMatchObject({ orgId: org.orgId, actorId: org.adminId, actorType: "user", actorName: "Globex Admin", targetName: "CLI" });
  });

  it("refuses an API token with 403 session_required, even the user's own", async () => {
    const org = await seedOrg();
    const own = await seedUserToken(org.orgId, org.adminId);
    const res = await api("POST", "/me/api-tokens", own.secret, { name: "from a token" });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("session_required");
    const service = await seedServiceToken(org.orgId, { permissionSetIds: [org.adminSetId] });
    const bySvc = await api("POST", "/me/api-tokens", service.secret, { name: "from a service token" });
    expect(bySvc.status).toBe(403);
    expect(await errorCode(bySvc)).toBe("session_required");
    const rows = await db().select().from(apiTokens).where(eq(apiTokens.userId, org.adminId));
    expect(rows).toHaveLength(1);
  });

  it("asks for fresh authentication when the session's auth_time is older than 5 minutes", async () => {
    const org = await seedOrg();
    const stale = await sessionJwt({ sub: org.adminId, org: org.orgId, authTime: Math.floor(Date.now() / 1000) - 301 });
    const res = await api("POST", "/me/api-tokens", stale, { name: "CLI" });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("reauthentication_required");
    const fresh = await sessionJwt({ sub: org.adminId, org: org.orgId, authTime: Math.floor(Date.now() / 1000) - 240 });
    expect((await api("POST", "/me/api-tokens", fresh, { name: "CLI" })).status).toBe(201);
  });

  it.each([
    ["a missing name", {}],
    ["an empty name", { name: "   " }],
    ["a name over 100 characters", { name: "x".repeat(101) }],
    ["an unknown field", { name: "CLI", scopes: ["all"] }],
    ["a name that is not a string", { name: 42 }],
  ])("rejects %s with 400 invalid_request", async (_label, body) => {
    const org = await seedOrg();
    const res = await api("POST", "/me/api-tokens", await adminSession(org), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
    expect(await db().select().from(apiTokens).where(eq(apiTokens.userId, org.adminId))).toHaveLength(0);
  });

  it("refuses the 11th active token with 409 token_limit_reached", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    for (let i = 0; i < 10; i++) expect((await api("POST", "/me/api-tokens", session, { name: `t${i}` })).status).toBe(201);
    const res = await api("POST", "/me/api-tokens", session, { name: "one too many" });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("token_limit_reached");
  });
});

describe("GET /me/api-tokens (list)", () => {
  it("lists only the caller's tokens in this org, without secrets", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const colleague = await seedUser(org.orgId, { name: "Colleague" });
    const mine = [await seedUserToken(org.orgId, org.adminId, "A"), await seedUserToken(org.orgId, org.adminId, "B")];
    await seedUserToken(org.orgId, colleague.id, "Theirs");
    await seedUserToken(other.orgId, other.adminId, "Other org");
    await seedServiceToken(org.orgId);

    const res = await api("GET", "/me/api-tokens", await adminSession(org));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    for (const t of mine) expect(text).not.toContain(t.secret);
    const body = JSON.parse(text) as { data: UserToken[]; next_cursor: string | null };
    expect(body.next_cursor).toBeNull();
    expect(body.data.map((t) => t.id)).toEqual(mine.map((t) => t.id));
    expect(body.data.map((t) => t.name)).toEqual(["A", "B"]);
    expect(Object.keys(body.data[0]!).sort()).toEqual(["created_at", "expires_at", "hint", "id", "last_used_at", "name", "status"]);
  });

  it("works with the user's own API token and shows last use", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    expect((await proxied(token.secret)).res.status).toBe(200);
    const res = await api("GET", "/me/api-tokens", token.secret);
    expect(res.status).toBe(200);
    const [listed] = ((await res.json()) as { data: UserToken[] }).data;
    expect(listed!.id).toBe(token.id);
    expect(listed!.last_used_at).not.toBeNull();
  });

  it("refuses a service user token with 403 forbidden", async () => {
    const org = await seedOrg();
    const service = await seedServiceToken(org.orgId, { permissionSetIds: [org.adminSetId] });
    const res = await api("GET", "/me/api-tokens", service.secret);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("forbidden");
  });

  it("paginates with limit and cursor", async () => {
    const org = await seedOrg();
    const ids: string[] = [];
    for (const name of ["1", "2", "3"]) ids.push((await seedUserToken(org.orgId, org.adminId, name)).id);
    const session = await adminSession(org);
    const first = (await (await api("GET", "/me/api-tokens?limit=2", session)).json()) as { data: UserToken[]; next_cursor: string };
    expect(first.data.map((t) => t.id)).toEqual(ids.slice(0, 2));
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (await (await api("GET", `/me/api-tokens?limit=2&cursor=${first.next_cursor}`, session)).json()) as {
      data: UserToken[];
      next_cursor: string | null;
    };
    expect(second.data.map((t) => t.id)).toEqual(ids.slice(2));
    expect(second.next_cursor).toBeNull();
  });

  it.each([["limit=0"], ["limit=201"], ["cursor=not-a-cursor"], ["status=active"]])("rejects ?%s with 400", async (query) => {
    const org = await seedOrg();
    const res = await api("GET", `/me/api-tokens?${query}`, await adminSession(org));
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_request");
  });

  it("shows a token idle past its deadline as expired, with the moment it expired", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    const deadline = Date.now() - 1000;
    await db().update(apiTokens).set({ lastActiveAt: deadline - 30 * 86_400_000, expiresAt: deadline }).where(eq(apiTokens.id, token.id));
    const res = await api("GET", "/me/api-tokens", await adminSession(org));
    const [listed] = ((await res.json()) as { data: UserToken[] }).data;
    expect(listed).toMatchObject({ status: "expired", expires_at: new Date(deadline).toISOString() });
  });
});

describe("POST /me/api-tokens/{id}/revoke", () => {
  it("revokes the owner's token; it stops on the very next proxied request", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    expect((await proxied(token.secret)).res.status).toBe(200);

    const res = await api("POST", `/me/api-tokens/${token.id}/revoke`, await adminSession(org));
    expect(res.status).toBe(200);
    const body = (await res.json()) as UserToken;
    expect(body).toMatchObject({ id: token.id, status: "revoked", expires_at: null });
    expect(body.token).toBeUndefined();

    const { res: after } = await proxied(token.secret);
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error_description="token revoked"');
    expect((await tokenRow(token.id))!.status).toBe("revoked");
  });

  it("is idempotent and records one token.revoked event with the user's name", async () => {
    const org = await seedOrg("Initech");
    const token = await seedUserToken(org.orgId, org.adminId);
    const session = await adminSession(org);
    expect((await api("POST", `/me/api-tokens/${token.id}/revoke`, session)).status).toBe(200);
    const again = await api("POST", `/me/api-tokens/${token.id}/revoke`, session);
    expect(again.status).toBe(200);
    expect(((await again.json()) as UserToken).status).toBe("revoked");
    const events = await eventsFor(token.id, "token.revoked");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorId: org.adminId, actorType: "user", actorName: "Initech Admin", targetName: "CLI" });
  });

  it("lets the owner revoke with a user API token, including the token itself", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    const res = await api("POST", `/me/api-tokens/${token.id}/revoke`, token.secret);
    expect(res.status).toBe(200);
    expect((await api("GET", "/me/api-tokens", token.secret)).status).toBe(401);
  });

  it("answers 404 for another member's token and leaves it working", async () => {
    const org = await seedOrg();
    const colleague = await seedUser(org.orgId, { name: "Colleague" });
    const theirs = await seedUserToken(org.orgId, colleague.id);
    const res = await api("POST", `/me/api-tokens/${theirs.id}/revoke`, await adminSession(org));
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe("not_found");
    expect((await tokenRow(theirs.id))!.status).toBe("active");
    expect((await proxied(theirs.secret)).res.status).toBe(200);
  });

  it("answers 404 for another organization's token id and changes nothing", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    const foreign = await seedUserToken(other.orgId, other.adminId);
    const res = await api("POST", `/me/api-tokens/${foreign.id}/revoke`, await adminSession(org));
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text).not.toContain(foreign.id.slice(4));
    expect((await tokenRow(foreign.id))!.status).toBe("active");
    expect(await eventsFor(foreign.id, "token.revoked")).toHaveLength(0);
  });

  it("answers 404 for a service token id and for an unknown id", async () => {
    const org = await seedOrg();
    const service = await seedServiceToken(org.orgId);
    const session = await adminSession(org);
    expect((await api("POST", `/me/api-tokens/${service.id}/revoke`, session)).status).toBe(404);
    expect((await tokenRow(service.id))!.status).toBe("active");
    expect((await api("POST", "/me/api-tokens/tok_01ARZ3NDEKTSV4RRFFQ69G5FAV/revoke", session)).status).toBe(404);
  });

  it("answers 404 for a deleted token", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    await db().update(apiTokens).set({ status: "deleted", deletedAt: Date.now() }).where(eq(apiTokens.id, token.id));
    expect((await api("POST", `/me/api-tokens/${token.id}/revoke`, await adminSession(org))).status).toBe(404);
    expect((await tokenRow(token.id))!.status).toBe("deleted");
  });

  it("refuses a service user with 403 forbidden", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    const service = await seedServiceToken(org.orgId, { permissionSetIds: [org.adminSetId] });
    const res = await api("POST", `/me/api-tokens/${token.id}/revoke`, service.secret);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("forbidden");
    expect((await tokenRow(token.id))!.status).toBe("active");
  });

  it("revoking a token that expired by inactivity marks it revoked", async () => {
    const org = await seedOrg();
    const token = await seedUserToken(org.orgId, org.adminId);
    await db().update(apiTokens).set({ expiresAt: Date.now() - 1 }).where(eq(apiTokens.id, token.id));
    const res = await api("POST", `/me/api-tokens/${token.id}/revoke`, await adminSession(org));
    expect(res.status).toBe(200);
    expect(((await res.json()) as UserToken).status).toBe("revoked");
    const [event] = await eventsFor(token.id, "token.revoked");
    expect(JSON.parse(event!.details!)).toMatchObject({ kind: "user", previous_status: "expired" });
  });
});
