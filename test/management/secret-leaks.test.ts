/**
 * Issue 6 §18, management side: a secret appears in exactly one place, the response that
 * creates or regenerates it. Not in the activity log (the table or GET /activity-log), not in
 * any other D1 row, not in any error the management API answers (even to a request that
 * carries the secret), and not in the logs. Besides the known secrets, every text is searched
 * for anything token-shaped, which also catches a secret whose creation failed half-way.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { newId } from "../../src/db/ids";
import { adminSession, seedOrg, seedServiceToken, seedUser, sessionJwt } from "../helpers/seed";
import { api } from "../helpers/worker";
import { batchFailingDb } from "../helpers/bindings";
import { everythingStored } from "../helpers/records";
import { captureConsole, expectNoSecret } from "../helpers/leaks";

/** Any string shaped like one of our secrets (SPEC §2): prefix, 43 + 6 base62 characters. */
const TOKEN_SHAPED = /pc[su]_[0-9A-Za-z]{20,}/;

function expectClean(text: string, secrets: string[], where: string): void {
  expect(TOKEN_SHAPED.test(text), `${where} holds something token-shaped: ${text.match(TOKEN_SHAPED)?.[0]?.slice(0, 8)}…`).toBe(false);
  expectNoSecret(text, secrets, where, 20);
}

let logged: string[];
beforeEach(() => {
  logged = captureConsole();
});
afterEach(() => vi.restoreAllMocks());

/** Every response but the secret-bearing ones, as text with headers. */
class Responses {
  readonly texts: string[] = [];
  async record(res: Response): Promise<{ status: number; body: Record<string, unknown> }> {
    const text = await res.text();
    this.texts.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
}

describe("no secret in the activity log, D1, error bodies or logs (issue 6 §18, management API)", () => {
  it("after creating, regenerating, editing, revoking and deleting tokens of both kinds through the API", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    const member = await seedUser(org.orgId, { name: "Casey", permissionSetIds: [org.adminSetId] });
    const memberSession = await sessionJwt({ sub: member.id, org: org.orgId });
    const secrets: string[] = [];
    const others = new Responses();

    const serviceIds: string[] = [];
    for (const name of ["Sync one", "Sync two", "Sync three"]) {
      const res = await api("POST", "/service-tokens", admin, { name, inactivity_days: 31 });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { id: string; token: string };
      secrets.push(body.token);
      serviceIds.push(body.id);
    }
    for (const id of serviceIds) {
      for (let i = 0; i < 2; i++) {
        expect((await others.record(await api("POST", `/service-tokens/${id}/revoke`, admin))).status).toBe(200);
        const res = await api("POST", `/service-tokens/${id}/regenerate`, admin);
        expect(res.status).toBe(200);
        secrets.push(((await res.json()) as { token: string }).token);
      }
      expect((await others.record(await api("PATCH", `/service-tokens/${id}`, admin, { name: "Renamed", inactivity_days: 180 }))).status).toBe(200);
    }
    expect((await others.record(await api("POST", `/service-tokens/${serviceIds[0]}/revoke`, admin))).status).toBe(200);
    expect((await others.record(await api("DELETE", `/service-tokens/${serviceIds[0]}`, admin))).status).toBe(204);

    const userTokenIds: string[] = [];
    for (const name of ["CLI", "Laptop", "CI"]) {
      const res = await api("POST", "/me/api-tokens", memberSession, { name });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { id: string; token: string };
      secrets.push(body.token);
      userTokenIds.push(body.id);
    }
    // A token used as the caller's credential: its first use is an activity event too.
    expect((await others.record(await api("GET", "/me/api-tokens", secrets[secrets.length - 1]!))).status).toBe(200);
    expect((await others.record(await api("POST", `/me/api-tokens/${userTokenIds[0]}/revoke`, memberSession))).status).toBe(200);
    expect((await others.record(await api("PATCH", `/users/${member.id}`, admin, { status: "deactivated" }))).status).toBe(200);

    // Reads never carry a secret either.
    for (const path of ["/service-tokens", `/service-tokens/${serviceIds[1]}`, "/users", "/activity-log?limit=200"]) {
      expect((await others.record(await api("GET", path, admin))).status).toBe(200);
    }

    const { results: events } = await env.DB.prepare("SELECT * FROM activity_events WHERE org_id = ?1").bind(org.orgId).all<{ type: string }>();
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(["org.created", "token.created", "token.revoked", "token.regenerated", "token.edited", "token.deleted", "token.first_used", "user.deactivated"]),
    );
    expectClean(JSON.stringify(events), secrets, "the activity_events table");
    expectClean(others.texts.join("\n"), secrets, "a management response");
    expectClean(await everythingStored(), secrets, "D1");
    expectClean(logged.join("\n"), secrets, "the log");
  });

  it("in every error the management API answers, including requests that carry a secret", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    const member = await seedUser(org.orgId, { name: "Casey", permissionSetIds: [org.adminSetId] });
    const memberSession = await sessionJwt({ sub: member.id, org: org.orgId });
    const errors = new Responses();
    const secrets: string[] = [];

    const created = await api("POST", "/service-tokens", admin, { name: "Sync" });
    const service = (await created.json()) as { id: string; token: string };
    secrets.push(service.token);
    const mine = (await (await api("POST", "/me/api-tokens", memberSession, { name: "CLI" })).json()) as { id: string; token: string };
    secrets.push(mine.token);
    const nearMiss = service.token.slice(0, -1) + (service.token.endsWith("0") ? "1" : "0");
    const expectError = async (res: Response, status: number) => expect((await errors.record(res)).status).toBe(status);

    // Wrong state, unknown ids, limits.
    await expectError(await api("POST", `/service-tokens/${service.id}/regenerate`, admin), 409);
    await expectError(await api("DELETE", `/service-tokens/${service.id}`, admin), 409);
    await expectError(await api("POST", `/service-tokens/${newId("tok")}/revoke`, admin), 404);
    for (let i = 0; i < 9; i++) secrets.push(((await (await api("POST", "/me/api-tokens", memberSession, { name: `T${i}` })).json()) as { token: string }).token);
    await expectError(await api("POST", "/me/api-tokens", memberSession, { name: "Eleventh" }), 409);

    // The secret itself (or a near copy) in every place a request can carry it.
    await expectError(await api("GET", "/service-tokens", nearMiss), 401);
    await expectError(await api("GET", `/service-tokens/${service.token}`, admin), 404);
    await expectError(await api("GET", `/service-tokens?cursor=${service.token}`, admin), 400);
    await expectError(await api("GET", `/activity-log?type=${service.token}`, admin), 400);
    await expectError(await api("POST", "/service-tokens", admin, { name: "Sync", token: service.token }), 400);
    await expectError(await api("POST", "/service-tokens", admin, { name: service.token + service.token }), 400);
    await expectError(await api("POST", "/service-tokens", admin, { name: "Sync", permission_set_ids: [service.token] }), 400);
    await expectError(await api("PATCH", `/service-tokens/${service.id}`, admin, { permission_set_ids: [nearMiss] }), 400);
    await expectError(await api("POST", "/service-tokens", admin, { name: "Sync", inactivity_days: service.token }), 400);
    await expectError(await api("POST", "/me/api-tokens", memberSession, { name: mine.token + mine.token }), 400);
    await expectError(await api("POST", "/me/api-tokens", mine.token, { name: "From a token" }), 403);
    await expectError(await api("POST", "/permission-sets", admin, { name: "P", permissions: [service.token] }), 400);
    await expectError(await api("POST", "/groups", admin, { name: service.token.repeat(2) }), 400);

    // A revoked secret as the credential: 401, and the challenge does not repeat it.
    expect((await errors.record(await api("POST", `/service-tokens/${service.id}/revoke`, admin))).status).toBe(200);
    await expectError(await api("GET", "/me", service.token), 401);

    // Creation and regeneration whose batch fails: the secret was generated, never stored, never shown.
    await expectError(await api("POST", "/service-tokens", admin, { name: "Lost" }, { env: { DB: batchFailingDb("reject").db } }), 503);
    await expectError(await api("POST", `/service-tokens/${service.id}/regenerate`, admin, undefined, { env: { DB: batchFailingDb("midway").db } }), 503);
    await expectError(await api("POST", "/me/api-tokens", await adminSession(org), { name: "Lost" }, { env: { DB: batchFailingDb("midway").db } }), 503);

    expect(new Set(errors.texts.map((t) => Number(t.slice(0, 3))))).toEqual(new Set([200, 400, 401, 403, 404, 409, 503]));
    expectClean(errors.texts.join("\n"), secrets, "an error response");
    expectClean(logged.join("\n"), secrets, "the log");
    expect(logged.some((line) => line.includes("storage unavailable"))).toBe(true);
    expectClean(await everythingStored(), secrets, "D1");
  });
});

describe("a secret pasted into an id field is never echoed back", () => {
  it("names it by its hint in directory and service-token errors", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const leaked = (await seedServiceToken(org.orgId)).secret;
    const attempts = [
      api("POST", "/users", session, { name: "X", email: "x@example.com", group_ids: [leaked] }),
      api("POST", "/users", session, { name: "Y", email: "y@example.com", site_ids: [leaked] }),
      api("PATCH", `/users/${org.adminId}`, session, { permission_set_ids: [leaked] }),
      api("POST", "/service-tokens", session, { name: "Z", permission_set_ids: [leaked] }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).not.toContain(leaked);
      expect(text).toContain(leaked.slice(-4));
    }
  });
});
