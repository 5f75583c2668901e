/**
 * SPEC §1: at most 10 active user tokens per user per org and 20 active service tokens per org,
 * also under concurrent creation (exactly the limit succeeds); revoked, expired and deleted
 * tokens do not count.
 */
import { and, eq, gt, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiTokens, serviceUsers } from "../../src/db/schema";
import { orgEvents } from "../helpers/records";
import { db, seedOrg, seedServiceToken, seedUser, seedUserToken, adminSession, sessionJwt } from "../helpers/seed";
import { api } from "../helpers/worker";
import { errorCode } from "../helpers/errors";

async function activeUserTokens(userId: string): Promise<number> {
  const rows = await db()
    .select({ n: sql<number>`count(*)` })
    .from(apiTokens)
    .where(and(eq(apiTokens.userId, userId), eq(apiTokens.status, "active"), gt(apiTokens.expiresAt, Date.now())));
  return rows[0]!.n;
}

async function activeServiceTokens(orgId: string): Promise<number> {
  const rows = await db()
    .select({ n: sql<number>`count(*)` })
    .from(apiTokens)
    .where(and(eq(apiTokens.orgId, orgId), eq(apiTokens.kind, "service_user"), eq(apiTokens.status, "active"), gt(apiTokens.expiresAt, Date.now())));
  return rows[0]!.n;
}

function statuses(responses: Response[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

describe("user API token limit: 10 active per user per org", () => {
  it("15 simultaneous generations yield exactly 10 tokens and 5 × 409 token_limit_reached", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const responses = await Promise.all(Array.from({ length: 15 }, (_, i) => api("POST", "/me/api-tokens", session, { name: `parallel ${i}` })));
    expect(statuses(responses)).toEqual({ 201: 10, 409: 5 });
    for (const r of responses.filter((r) => r.status === 409)) expect(await errorCode(r)).toBe("token_limit_reached");
    expect(await activeUserTokens(org.adminId)).toBe(10);
    const all = await db().select().from(apiTokens).where(eq(apiTokens.userId, org.adminId));
    expect(all).toHaveLength(10);
    const created = await orgEvents(org.orgId, "token.created");
    expect(created).toHaveLength(10);
  });

  it("a revoked token frees its slot, and the limit holds again after one more", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const tokens = [];
    for (let i = 0; i < 10; i++) tokens.push(await seedUserToken(org.orgId, org.adminId, `t${i}`));
    expect((await api("POST", "/me/api-tokens", session, { name: "eleventh" })).status).toBe(409);
    expect((await api("POST", `/me/api-tokens/${tokens[0]!.id}/revoke`, session)).status).toBe(200);
    expect((await api("POST", "/me/api-tokens", session, { name: "replacement" })).status).toBe(201);
    const res = await api("POST", "/me/api-tokens", session, { name: "twelfth" });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("token_limit_reached");
    expect(await activeUserTokens(org.adminId)).toBe(10);
  });

  it("expired tokens do not count, whether swept or only idle past their deadline", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const tokens = [];
    for (let i = 0; i < 10; i++) tokens.push(await seedUserToken(org.orgId, org.adminId, `t${i}`));
    await db().update(apiTokens).set({ expiresAt: Date.now() - 1 }).where(eq(apiTokens.id, tokens[0]!.id));
    await db().update(apiTokens).set({ status: "expired", expiredAt: Date.now() }).where(eq(apiTokens.id, tokens[1]!.id));
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => api("POST", "/me/api-tokens", session, { name: `n${i}` })));
    expect(statuses(results)).toEqual({ 201: 2, 409: 2 });
  });

  it("counts per user: a colleague at zero can still generate when the admin is at the limit", async () => {
    const org = await seedOrg();
    const colleague = await seedUser(org.orgId, { name: "Colleague" });
    for (let i = 0; i < 10; i++) await seedUserToken(org.orgId, org.adminId, `t${i}`);
    const res = await api("POST", "/me/api-tokens", await sessionJwt({ sub: colleague.id, org: org.orgId }), { name: "mine" });
    expect(res.status).toBe(201);
  });
});

describe("service user API token limit: 20 active per org", () => {
  it("25 simultaneous creations yield exactly 20 tokens, 20 service users and 5 × 409", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const responses = await Promise.all(Array.from({ length: 25 }, (_, i) => api("POST", "/service-tokens", session, { name: `parallel ${i}` })));
    expect(statuses(responses)).toEqual({ 201: 20, 409: 5 });
    for (const r of responses.filter((r) => r.status === 409)) expect(await errorCode(r)).toBe("token_limit_reached");
    expect(await activeServiceTokens(org.orgId)).toBe(20);
    // A refused creation leaves no orphan service user behind.
    expect(await db().select().from(serviceUsers).where(eq(serviceUsers.orgId, org.orgId))).toHaveLength(20);
  });

  it("a revoked, expired or deleted token frees its slot", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const tokens = [];
    for (let i = 0; i < 20; i++) tokens.push(await seedServiceToken(org.orgId, { name: `s${i}` }));
    expect((await api("POST", "/service-tokens", session, { name: "21st" })).status).toBe(409);

    expect((await api("POST", `/service-tokens/${tokens[0]!.id}/revoke`, session)).status).toBe(200);
    expect((await api("POST", "/service-tokens", session, { name: "after revoke" })).status).toBe(201);
    expect((await api("POST", "/service-tokens", session, { name: "over again" })).status).toBe(409);

    await db().update(apiTokens).set({ expiresAt: Date.now() - 1 }).where(eq(apiTokens.id, tokens[1]!.id));
    expect((await api("POST", "/service-tokens", session, { name: "after expiry" })).status).toBe(201);
    expect(await activeServiceTokens(org.orgId)).toBe(20);
  });

  it("regenerating at the limit is refused with 409 token_limit_reached and the token stays revoked", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const paused = await seedServiceToken(org.orgId, { name: "paused" });
    await api("POST", `/service-tokens/${paused.id}/revoke`, session);
    for (let i = 0; i < 20; i++) await seedServiceToken(org.orgId, { name: `s${i}` });
    const res = await api("POST", `/service-tokens/${paused.id}/regenerate`, session);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("token_limit_reached");
    const row = await db().query.apiTokens.findFirst({ where: eq(apiTokens.id, paused.id) });
    expect(row!.status).toBe("revoked");
    expect(await activeServiceTokens(org.orgId)).toBe(20);
  });

  it("regenerations racing creations for the last free slots never exceed the limit", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const paused = [];
    for (let i = 0; i < 3; i++) {
      const t = await seedServiceToken(org.orgId, { name: `paused ${i}` });
      await api("POST", `/service-tokens/${t.id}/revoke`, session);
      paused.push(t);
    }
    for (let i = 0; i < 18; i++) await seedServiceToken(org.orgId, { name: `s${i}` });
    const responses = await Promise.all([
      ...paused.map((t) => api("POST", `/service-tokens/${t.id}/regenerate`, session)),
      ...Array.from({ length: 3 }, (_, i) => api("POST", "/service-tokens", session, { name: `new ${i}` })),
    ]);
    const ok = responses.filter((r) => r.status === 200 || r.status === 201);
    expect(ok).toHaveLength(2);
    for (const r of responses.filter((r) => r.status === 409)) expect(await errorCode(r)).toBe("token_limit_reached");
    expect(await activeServiceTokens(org.orgId)).toBe(20);
  });

  it("counts per org: another org at the limit does not block this one", async () => {
    const full = await seedOrg("Full");
    for (let i = 0; i < 20; i++) await seedServiceToken(full.orgId, { name: `s${i}` });
    const org = await seedOrg("Empty");
    expect((await api("POST", "/service-tokens", await adminSession(org), { name: "first" })).status).toBe(201);
  });
});
