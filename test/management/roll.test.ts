/**
 * Rotation without downtime (SPEC §9): POST /service-tokens/{id}/roll. The new secret works at
 * once; the previous one keeps working, as the same token, until `previous_expires_at`; at most
 * two secrets are ever live; revoke, leak reports and the expiry sweep end both.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { verifyApiToken } from "../../src/auth/api-token";
import { clearAuthCache } from "../../src/auth/cache";
import { getConfig } from "../../src/config";
import { DAY_MS } from "../../src/domain/tokens";
import { tokenDigest } from "../../src/token/digest";
import { describeSecurity } from "../helpers/security";
import { adminSession, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, PREFIX, proxied } from "../helpers/worker";
import { runCron } from "../helpers/cron";
import { tokenRow } from "../helpers/records";
import { rollAt, setDeadline } from "../helpers/token-state";
import { errorCode } from "../helpers/errors";

const ROTATED = 'Bearer realm="portcullis", error="invalid_token", error_description="token rotated; the previous secret expired"';
const REVOKED = 'Bearer realm="portcullis", error="invalid_token", error_description="token revoked"';
const config = getConfig(env);

interface Rolled {
  id: string;
  hint: string;
  status: string;
  token: string;
  previous_expires_at: string;
  expires_at: string;
  last_used_at: string | null;
}

async function setup(): Promise<{ org: SeededOrg; admin: string; token: { id: string; secret: string; serviceUserId: string } }> {
  const org = await seedOrg();
  const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewer");
  const token = await seedServiceToken(org.orgId, { name: "Warehouse sync", permissionSetIds: [setId] });
  return { org, admin: await adminSession(org), token };
}

function roll(admin: string, id: string, body?: unknown): Promise<Response> {
  return api("POST", `/service-tokens/${id}/roll`, admin, body);
}

async function rolled(admin: string, id: string, body?: unknown): Promise<Rolled> {
  const res = await roll(admin, id, body);
  if (res.status !== 200) throw new Error(`roll failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as Rolled;
}

function identity(headers: Record<string, string>) {
  const keys = ["subject-id", "subject-type", "subject-name", "org-id", "token-id", "permissions", "groups", "sites"];
  return Object.fromEntries(keys.map((k) => [k, headers[`x-portcullis-${k}`]]));
}

beforeEach(() => clearAuthCache());

describeSecurity("POST /service-tokens/{id}/roll", {
  method: "POST",
  path: async (org) => `/service-tokens/${(await seedServiceToken(org.orgId)).id}/roll`,
  body: {},
  permission: "integrations.manage",
});

describe("POST /service-tokens/{id}/roll (SPEC §9)", () => {
  it("returns a new secret once and previous_expires_at a day out; both secrets work as the same token", async () => {
    const { admin, token } = await setup();
    const before = Date.now();
    const res = await roll(admin, token.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Rolled;
    expect(body).toMatchObject({ id: token.id, status: "active", hint: `pcs_…${body.token.slice(-4)}` });
    expect(body.token).not.toBe(token.secret);
    const grace = Date.parse(body.previous_expires_at) - before;
    expect(grace).toBeGreaterThanOrEqual(DAY_MS);
    expect(grace).toBeLessThanOrEqual(DAY_MS + 5_000);

    const viaNew = await proxied(body.token, "/inspections");
    const viaPrevious = await proxied(token.secret, "/inspections");
    expect(viaNew.res.status).toBe(200);
    expect(viaPrevious.res.status).toBe(200);
    expect(identity(viaPrevious.seen!.headers)).toEqual(identity(viaNew.seen!.headers));
    expect(identity(viaNew.seen!.headers)).toMatchObject({ "token-id": token.id, "subject-id": token.serviceUserId, "subject-type": "service_user" });
  });

  it("records token.rolled with both hints and the grace, never a secret", async () => {
    const { org, admin, token } = await setup();
    const body = await rolled(admin, token.id, { grace_seconds: 3_600 });
    const events = await env.DB.prepare("SELECT actor_id, actor_type, target_id, details FROM activity_events WHERE target_id = ?1 AND type = 'token.rolled'")
      .bind(token.id)
      .all<{ actor_id: string; actor_type: string; target_id: string; details: string }>();
    expect(events.results).toHaveLength(1);
    const [event] = events.results;
    expect(event).toMatchObject({ actor_id: org.adminId, actor_type: "user", target_id: token.id });
    expect(JSON.parse(event!.details)).toEqual({
      kind: "service_user",
      hint: body.hint,
      previous_hint: `pcs_…${token.secret.slice(-4)}`,
      grace_seconds: 3_600,
      previous_expires_at: body.previous_expires_at,
    });
    expect(event!.details).not.toContain(body.token.slice(4, -4));
    expect(event!.details).not.toContain(token.secret.slice(4, -4));
  });

  it("with grace_seconds 0 the previous secret is answered 401 with the rotation description at once", async () => {
    const { admin, token } = await setup();
    const body = await rolled(admin, token.id, { grace_seconds: 0 });
    const { res, seen } = await proxied(token.secret, "/inspections");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(ROTATED);
    expect(seen).toBeNull();
    expect((await proxied(body.token, "/inspections")).res.status).toBe(200);
  });

  it("the previous secret works until the last millisecond of its grace and not at its deadline (controlled clock)", async () => {
    const { org, token } = await setup();
    const t0 = Date.now();
    const result = await rollAt(org.orgId, token.id, 60_000, t0);
    expect(result.outcome).toBe("rolled");
    for (const cfg of [config, { ...config, authCacheTtlMs: 600_000 }]) {
      clearAuthCache();
      const inside = await verifyApiToken(env.DB, cfg, token.secret, t0 + 59_999);
      expect(inside).toMatchObject({ ok: true, token: { tokenId: token.id } });
      // With the cache on, this is a hit: the deadline is still judged against the clock.
      const at = await verifyApiToken(env.DB, cfg, token.secret, t0 + 60_000);
      expect(at).toEqual({ ok: false, reason: "rotated", description: "token rotated; the previous secret expired" });
      if (result.outcome === "rolled") expect((await verifyApiToken(env.DB, cfg, result.secret, t0 + 60_000)).ok).toBe(true);
    }
  });

  it("rolling again during a grace ends the older previous secret at once", async () => {
    const { admin, token } = await setup();
    const first = await rolled(admin, token.id);
    const second = await rolled(admin, token.id);
    expect((await proxied(token.secret, "/inspections")).res.status).toBe(401);
    expect((await proxied(first.token, "/inspections")).res.status).toBe(200);
    expect((await proxied(second.token, "/inspections")).res.status).toBe(200);
  });

  it("revoke ends both secrets; regenerate then issues one new secret and neither old one returns", async () => {
    const { admin, token } = await setup();
    const body = await rolled(admin, token.id);
    expect((await api("POST", `/service-tokens/${token.id}/revoke`, admin)).status).toBe(200);
    for (const secret of [token.secret, body.token]) {
      const { res, seen } = await proxied(secret, "/inspections");
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(REVOKED);
      expect(seen).toBeNull();
    }
    expect((await tokenRow(token.id))!.previousExpiresAt).toBeLessThanOrEqual(Date.now());
    const regenerated = await api("POST", `/service-tokens/${token.id}/regenerate`, admin);
    expect(regenerated.status).toBe(200);
    const fresh = ((await regenerated.json()) as { token: string }).token;
    expect((await proxied(fresh, "/inspections")).res.status).toBe(200);
    for (const secret of [token.secret, body.token]) expect((await proxied(secret, "/inspections")).res.status).toBe(401);
    expect((await tokenRow(token.id))!.previousDigest).toBeNull();
  });

  it("refuses a revoked or expired token with 409 invalid_state, and a deleted, foreign or user token id with 404", async () => {
    const { org, admin } = await setup();
    const revoked = await seedServiceToken(org.orgId, { name: "Revoked" });
    await api("POST", `/service-tokens/${revoked.id}/revoke`, admin);
    const expired = await seedServiceToken(org.orgId, { name: "Idle" });
    await setDeadline(expired.id, Date.now() - 1);
    const swept = await seedServiceToken(org.orgId, { name: "Swept" });
    await env.DB.prepare("UPDATE api_tokens SET status = 'expired', expired_at = ?1 WHERE id = ?2").bind(Date.now(), swept.id).run();
    for (const id of [revoked.id, expired.id, swept.id]) {
      const res = await roll(admin, id);
      expect(res.status).toBe(409);
      expect(await errorCode(res)).toBe("invalid_state");
    }
    expect((await tokenRow(revoked.id))!.previousDigest).toBeNull();

    const deleted = await seedServiceToken(org.orgId, { name: "Gone" });
    await api("POST", `/service-tokens/${deleted.id}/revoke`, admin);
    expect((await api("DELETE", `/service-tokens/${deleted.id}`, admin)).status).toBe(204);
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId);
    const userToken = await seedUserToken(org.orgId, (await seedUser(org.orgId)).id);
    for (const id of [deleted.id, foreign.id, "tok_unknown", userToken.id]) {
      const res = await roll(admin, id);
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
    expect((await tokenRow(foreign.id))!.previousDigest).toBeNull();
  });

  it.each([[{ grace_seconds: -1 }], [{ grace_seconds: 604_801 }], [{ grace_seconds: 1.5 }], [{ grace_seconds: "60" }], [{ grace: 60 }]])(
    "refuses %j with 400 invalid_request and leaves the secret alone",
    async (body) => {
      const { admin, token } = await setup();
      const res = await roll(admin, token.id, body);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
      expect((await tokenRow(token.id))!.previousDigest).toBeNull();
    },
  );

  it("takes the longest grace of seven days", async () => {
    const { admin, token } = await setup();
    const before = Date.now();
    const body = await rolled(admin, token.id, { grace_seconds: 604_800 });
    const grace = Date.parse(body.previous_expires_at) - before;
    expect(grace).toBeGreaterThanOrEqual(7 * DAY_MS);
    expect(grace).toBeLessThanOrEqual(7 * DAY_MS + 5_000);
  });

  it("leaves the limit of 20 untouched: a rolled token is still one token", async () => {
    const { org, admin, token } = await setup();
    for (let i = 1; i < 20; i++) await seedServiceToken(org.orgId, { name: `T${i}` });
    await rolled(admin, token.id);
    const refused = await api("POST", "/service-tokens", admin, { name: "One too many" });
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe("token_limit_reached");
    const active = await env.DB.prepare("SELECT count(*) AS n FROM api_tokens WHERE org_id = ?1 AND status = 'active'").bind(org.orgId).first<{ n: number }>();
    expect(active!.n).toBe(20);
    await api("POST", `/service-tokens/${token.id}/revoke`, admin);
    expect((await api("POST", "/service-tokens", admin, { name: "Now fits" })).status).toBe(201);
  });

  it("counts a use of the previous secret as a use of the token", async () => {
    const { admin, token } = await setup();
    await rolled(admin, token.id);
    const before = Date.now();
    expect((await proxied(token.secret, "/inspections")).res.status).toBe(200);
    const after = await tokenRow(token.id);
    expect(after!.lastUsedAt).toBeGreaterThanOrEqual(before);
    expect(after!.expiresAt).toBeGreaterThanOrEqual(before + 45 * DAY_MS);
    const view = (await (await api("GET", `/service-tokens/${token.id}`, admin)).json()) as { last_used_at: string | null };
    expect(view.last_used_at).not.toBeNull();
  });

  it("leaves at most two live secrets, and the newest always live, whatever order concurrent rolls run in", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom(0, 60, 86_400), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.scheduler(),
        async (rounds, s) => {
          const { org, token } = await setup();
          const secrets = [token.secret];
          for (const graces of rounds) {
            // Every roll of a round is in flight at once, started in an order the scheduler picks.
            const pending = Promise.all(
              graces.map((grace) =>
                s.schedule(Promise.resolve(grace)).then(() =>
                  rollAt(org.orgId, token.id, grace * 1000, Date.now()),
                ),
              ),
            );
            await s.waitAll();
            for (const result of await pending) {
              expect(result.outcome).toBe("rolled");
              if (result.outcome === "rolled") secrets.push(result.secret);
            }
          }
          const now = Date.now();
          const live = [];
          for (const secret of secrets) if ((await verifyApiToken(env.DB, config, secret, now)).ok) live.push(secret);
          expect(live.length).toBeGreaterThanOrEqual(1);
          expect(live.length).toBeLessThanOrEqual(2);
          const current = await env.DB.prepare("SELECT digest, hint FROM api_tokens WHERE id = ?1").bind(token.id).first<{ digest: string; hint: string }>();
          const digests = await Promise.all(live.map((secret) => tokenDigest(secret, env.TOKEN_PEPPER)));
          expect(digests).toContain(current!.digest);
          // The other live secret, if any, is the one the last applied roll replaced, never an older one.
          const lastRoll = await env.DB.prepare("SELECT details FROM activity_events WHERE target_id = ?1 AND type = 'token.rolled' AND json_extract(details, '$.hint') = ?2")
            .bind(token.id, current!.hint)
            .first<{ details: string }>();
          const replacedHint = (JSON.parse(lastRoll!.details) as { previous_hint: string }).previous_hint;
          for (const secret of live) {
            if ((await tokenDigest(secret, env.TOKEN_PEPPER)) !== current!.digest) expect(`pcs_…${secret.slice(-4)}`).toBe(replacedHint);
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("the OpenAPI document (SPEC §4, §9)", () => {
  it("describes roll with its optional body and response, and allowed_cidrs on create, edit and the resource", async () => {
    const doc = (await (await api("GET", "/openapi.json", null)).json()) as {
      paths: Record<string, Record<string, { requestBody?: { required?: boolean }; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, { maximum?: number; minimum?: number; maxItems?: number }> }> };
    };
    const rollOp = doc.paths["/service-tokens/{id}/roll"]!["post"]!;
    expect(rollOp.requestBody?.required).toBe(false);
    expect(Object.keys(rollOp.responses)).toEqual(expect.arrayContaining(["200", "400", "404", "409"]));
    const schemas = doc.components.schemas;
    expect(schemas["RollServiceToken"]!.properties!["grace_seconds"]).toMatchObject({ minimum: 0, maximum: 604_800 });
    expect(Object.keys(schemas["RolledServiceToken"]!.properties!)).toEqual(expect.arrayContaining(["token", "previous_expires_at", "allowed_cidrs"]));
    for (const name of ["ServiceToken", "CreateServiceToken", "EditServiceToken"]) expect(schemas[name]!.properties).toHaveProperty("allowed_cidrs");
    expect(schemas["CreateServiceToken"]!.properties!["allowed_cidrs"]!.maxItems).toBe(32);
  });
});

describe("the other readers of a rolled token (SPEC §9)", () => {
  async function introspect(caller: string, tokenText: string) {
    const res = await call(`${PREFIX}/introspect`, {
      method: "POST",
      headers: bearer(caller, { "content-type": "application/x-www-form-urlencoded" }),
      body: new URLSearchParams({ token: tokenText }).toString(),
    });
    return (await res.json()) as { active: boolean; token_id?: string; sub?: string; exp?: number };
  }

  it("introspection: the previous secret is active as the same token until its grace ends, then inactive", async () => {
    const { admin, token } = await setup();
    const body = await rolled(admin, token.id, { grace_seconds: 120 });
    const stored = await tokenRow(token.id);
    expect(await introspect(admin, token.secret)).toMatchObject({
      active: true,
      token_id: token.id,
      sub: token.serviceUserId,
      exp: Math.floor(Date.parse(body.previous_expires_at) / 1000),
    });
    expect(await introspect(admin, body.token)).toMatchObject({ active: true, token_id: token.id, exp: Math.floor(stored!.expiresAt / 1000) });
    await rolled(admin, token.id, { grace_seconds: 0 });
    expect(await introspect(admin, body.token)).toEqual({ active: false });
    expect(await introspect(admin, token.secret)).toEqual({ active: false });
  });

  it("a leak report of the previous secret revokes the token, ending both secrets", async () => {
    const { admin, token } = await setup();
    const body = await rolled(admin, token.id);
    const res = await call(`${PREFIX}/credentials/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credentials: [token.secret] }),
    });
    expect(res.status).toBe(202);
    expect((await tokenRow(token.id))!.status).toBe("revoked");
    for (const secret of [token.secret, body.token]) {
      const { res: used } = await proxied(secret, "/inspections");
      expect(used.status).toBe(401);
      expect(used.headers.get("www-authenticate")).toBe(REVOKED);
    }
    const events = await env.DB.prepare("SELECT count(*) AS n FROM activity_events WHERE target_id = ?1 AND type = 'token.revoked_leaked'")
      .bind(token.id)
      .first<{ n: number }>();
    expect(events!.n).toBe(1);
  });

  it("a leak report of a previous secret past its grace changes nothing", async () => {
    const { admin, token } = await setup();
    const body = await rolled(admin, token.id, { grace_seconds: 0 });
    await call(`${PREFIX}/credentials/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credentials: [token.secret] }),
    });
    expect((await tokenRow(token.id))!.status).toBe("active");
    expect((await proxied(body.token, "/inspections")).res.status).toBe(200);
  });

  it("the expiry sweep ends both secrets of an idle rolled token", async () => {
    const { token, admin } = await setup();
    const body = await rolled(admin, token.id, { grace_seconds: 604_800 });
    const now = Date.now();
    await setDeadline(token.id, now - 1);
    await runCron(now);
    const after = await tokenRow(token.id);
    expect(after!.status).toBe("expired");
    expect(after!.previousExpiresAt).toBeLessThanOrEqual(now);
    for (const secret of [token.secret, body.token]) {
      const { res } = await proxied(secret, "/inspections");
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("token expired after 45 days of inactivity");
    }
  });

  it("the expiry sweep keeps a token alive that is used only through its previous secret", async () => {
    const { token, admin } = await setup();
    await rolled(admin, token.id);
    const now = Date.now();
    // Nearly idle: its deadline is an hour away, and it was last used long ago.
    await env.DB.prepare("UPDATE api_tokens SET last_used_at = ?1, last_active_at = ?1, expires_at = ?2 WHERE id = ?3")
      .bind(now - 45 * DAY_MS + 3_600_000, now + 3_600_000, token.id)
      .run();
    expect((await proxied(token.secret, "/inspections")).res.status).toBe(200);
    await runCron(now + 2 * 3_600_000);
    expect((await tokenRow(token.id))!.status).toBe("active");
  });
});
