import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { setMemberStatus } from "../../src/db/members";
import { generateToken } from "../../src/token/format";
import { describeSecurity } from "../helpers/security";
import { adminSession, db, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, sessionJwt } from "../helpers/seed";
import { api, bearer, call, PREFIX } from "../helpers/worker";
import { tokenRow } from "../helpers/records";
import { errorCode } from "../helpers/errors";

function introspect(credential: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return call(`${PREFIX}/introspect`, {
    method: "POST",
    headers: bearer(credential, { "content-type": "application/x-www-form-urlencoded", ...headers }),
    body: new URLSearchParams(form).toString(),
  });
}

/** An org with a caller holding integrations.manage. */
async function setup() {
  const org = await seedOrg();
  const manageSet = await seedPermissionSet(org.orgId, ["integrations.manage"], "Integrations");
  const caller = await seedServiceToken(org.orgId, { name: "Gateway", permissionSetIds: [manageSet] });
  return { org, caller };
}

describeSecurity("POST /introspect", { method: "POST", path: "/introspect", permission: "integrations.manage" });

describe("POST /introspect (RFC 7662)", () => {
  it("describes an active service token: subject, kind, permissions, creation and idle deadline", async () => {
    const { org, caller } = await setup();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view", "inspections.edit"], "Inspections");
    const target = await seedServiceToken(org.orgId, { name: "Warehouse sync", permissionSetIds: [setId], inactivityDays: 60 });
    const row = await tokenRow(target.id);

    const res = await introspect(caller.secret, { token: target.secret });

    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      active: true,
      sub: target.serviceUserId,
      token_type: "service_user",
      scope: "inspections.edit inspections.view",
      iat: Math.floor(row!.createdAt / 1000),
      exp: Math.floor(row!.expiresAt / 1000),
      org: org.orgId,
      username: "Warehouse sync",
      token_id: target.id,
    });
  });

  it("describes an active user token with the member's live permissions", async () => {
    const { org, caller } = await setup();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"]);
    const user = await seedUser(org.orgId, { name: "Dana Inspector", permissionSetIds: [setId] });
    const target = await seedUserToken(org.orgId, user.id);

    const body = (await (await introspect(caller.secret, { token: target.secret, token_type_hint: "access_token" })).json()) as Record<string, unknown>;

    expect(body).toMatchObject({ active: true, sub: user.id, token_type: "user", scope: "inspections.view", username: "Dana Inspector", org: org.orgId });
  });

  it("works for an admin's session too", async () => {
    const { org } = await setup();
    const target = await seedServiceToken(org.orgId);
    const session = await adminSession(org);

    const body = (await (await introspect(session, { token: target.secret })).json()) as { active: boolean };

    expect(body.active).toBe(true);
  });

  it("answers {active: false} alone for revoked, expired, deleted and idle-past-deadline tokens", async () => {
    const { org, caller } = await setup();
    const cases: Record<string, string> = {
      revoked: "UPDATE api_tokens SET status = 'revoked' WHERE id = ?1",
      expired: "UPDATE api_tokens SET status = 'expired' WHERE id = ?1",
      deleted: "UPDATE api_tokens SET status = 'deleted' WHERE id = ?1",
      idle: `UPDATE api_tokens SET expires_at = ${Date.now() - 1} WHERE id = ?1`,
    };
    for (const [label, update] of Object.entries(cases)) {
      const target = await seedServiceToken(org.orgId, { name: label });
      await env.DB.prepare(update).bind(target.id).run();
      const res = await introspect(caller.secret, { token: target.secret });
      expect(res.status, label).toBe(200);
      expect(await res.json(), label).toEqual({ active: false });
    }
  });

  it("answers {active: false} for a token of a deactivated member", async () => {
    const { org, caller } = await setup();
    const user = await seedUser(org.orgId);
    const target = await seedUserToken(org.orgId, user.id);
    await setMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "deactivated", actor: { id: null, type: "operator", name: "Test" } });

    expect(await (await introspect(caller.secret, { token: target.secret })).json()).toEqual({ active: false });
  });

  it("answers {active: false} for malformed, unknown and session strings", async () => {
    const { caller } = await setup();
    const unknown = generateToken("user");
    const badChecksum = unknown.slice(0, -1) + (unknown.endsWith("0") ? "1" : "0");
    const session = await sessionJwt({ sub: "usr_x", org: "org_x" });
    for (const token of ["hello", unknown, badChecksum, session, `${unknown} `.repeat(3)]) {
      expect(await (await introspect(caller.secret, { token })).json(), token).toEqual({ active: false });
    }
  });

  it("answers {active: false} for another organization's active token", async () => {
    const { caller } = await setup();
    const other = await seedOrg("Other");
    const foreign = await seedServiceToken(other.orgId);

    expect(await (await introspect(caller.secret, { token: foreign.secret })).json()).toEqual({ active: false });
  });

  it("does not count as a use of the introspected token", async () => {
    const { org, caller } = await setup();
    const target = await seedServiceToken(org.orgId);
    const before = await tokenRow(target.id);

    await introspect(caller.secret, { token: target.secret });

    expect(await tokenRow(target.id)).toEqual(before);
  });

  it("rejects a missing token with 400 and a JSON body with 415", async () => {
    const { caller } = await setup();
    const missing = await introspect(caller.secret, { token_type_hint: "access_token" });
    expect(missing.status).toBe(400);
    expect(await errorCode(missing)).toBe("invalid_request");

    const json = await api("POST", "/introspect", caller.secret, { token: "pcs_x" });
    expect(json.status).toBe(415);
  });
});
