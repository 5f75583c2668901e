/**
 * Every outcome of the proxy path (SPEC §3, issue 2): the status, the RFC 6750 challenge, the
 * JSON error, and whether (and what) the upstream received.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { setMemberStatus } from "../../src/db/members";
import { generateToken } from "../../src/token/format";
import { db, seedInspector, seedIntegration, seedOrg, seedPermissionSet, seedUser, seedUserToken } from "../helpers/seed";
import { bearer, call, marker, PREFIX, upstreamRequests } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { setTokenStatus } from "../helpers/token-state";
import { tokenRow } from "../helpers/records";

const CHALLENGE = 'Bearer realm="portcullis"';
const invalid = (description: string) => `${CHALLENGE}, error="invalid_token", error_description="${description}"`;

async function expectRejected(res: Response, m: string, status: number, code: string, challenge: string | null) {
  expect(res.status).toBe(status);
  expect(res.headers.get("www-authenticate")).toBe(challenge);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect((await errorOf(res)).code).toBe(code);
  expect(await upstreamRequests(m)).toEqual([]);
}

describe("proxy: who gets through", () => {
  it("a request without Authorization gets 401 unauthorized and the bare Bearer challenge", async () => {
    const m = marker();
    const res = await call(`/inspections/${m}`);
    await expectRejected(res, m, 401, "unauthorized", CHALLENGE);
  });

  it("a malformed token gets 401 invalid_token saying it is malformed", async () => {
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer("pcs_not-a-token") });
    await expectRejected(res, m, 401, "invalid_token", invalid("token is malformed"));
  });

  it("an unknown token of the right shape gets 401 invalid_token: not recognized", async () => {
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(generateToken("user")) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token is not recognized"));
  });

  it("a revoked token gets 401 token revoked", async () => {
    const { token } = await seedIntegration();
    await setTokenStatus(token.id, "revoked");
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token revoked"));
  });

  it("a token the sweep marked expired gets 401 with its inactivity window", async () => {
    const { token } = await seedIntegration(["inspections.view"], 60);
    await env.DB.prepare("UPDATE api_tokens SET status = 'expired', expires_at = ?1, expired_at = ?2 WHERE id = ?3")
      .bind(Date.now() - 10_000, Date.now(), token.id)
      .run();
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token expired after 60 days of inactivity"));
  });

  it("a deleted token gets 401 token deleted", async () => {
    const { token } = await seedIntegration();
    await setTokenStatus(token.id, "deleted");
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token deleted"));
  });

  it("a deactivated member's token is rejected even before anything marks the token", async () => {
    const { user, token } = await seedInspector();
    await env.DB.prepare("UPDATE users SET status = 'deactivated' WHERE id = ?1").bind(user.id).run();
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token expired because its user is no longer an active member"));
  });

  it("a removed member's token is rejected", async () => {
    const { user, token } = await seedInspector();
    await env.DB.prepare("UPDATE users SET status = 'removed' WHERE id = ?1").bind(user.id).run();
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token expired because its user is no longer an active member"));
  });

  it("deactivation ends the token for good: reactivating the member does not revive it", async () => {
    const { org, user, token } = await seedInspector();
    const actor = { id: null, type: "operator" as const, name: "Test" };
    await setMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "deactivated", actor });
    expect((await tokenRow(token.id))!.status).toBe("expired");
    await setMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "active", actor });
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    await expectRejected(res, m, 401, "invalid_token", invalid("token expired because its user was deactivated or removed"));
  });

  it("a token without the route's permission gets 403 insufficient_scope naming the scope", async () => {
    const { token } = await seedIntegration(["reports.view"]);
    const m = marker();
    const res = await call(`/inspections/${m}`, { method: "DELETE", headers: bearer(token.secret) });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe(
      `${CHALLENGE}, error="insufficient_scope", error_description="missing permission", scope="inspections.edit"`,
    );
    const error = await errorOf(res);
    expect(error.code).toBe("insufficient_permissions");
    expect(error["required_permissions"]).toEqual(["inspections.edit"]);
    expect(await upstreamRequests(m)).toEqual([]);
  });

  it("GET /health is public: forwarded without a token, with no identity attached", async () => {
    const res = await call("/health?probe=1", { headers: { "x-portcullis-subject-id": "usr_admin" } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { path: string; query: Record<string, string>; headers: Record<string, string> };
    expect(seen.path).toBe("/health");
    expect(seen.query).toEqual({ probe: "1" });
    expect(Object.keys(seen.headers).filter((h) => h.startsWith("x-portcullis-"))).toEqual([]);
  });

  it("GET /health with a bad token is still public (the token is ignored and not forwarded)", async () => {
    const res = await call("/health", { headers: bearer("garbage") });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { headers: Record<string, string> };
    expect(seen.headers["authorization"]).toBeUndefined();
  });

  it("a route no rule matches needs only a valid token", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const ok = await call(`/reports/${m}`, { headers: bearer(token.secret) });
    expect(ok.status).toBe(200);
    const anonymous = await call(`/reports/${m}/anon`);
    expect(anonymous.status).toBe(401);
    const seen = await upstreamRequests(m);
    expect(seen.map((r) => r.path)).toEqual([`/reports/${m}`]);
    expect(seen[0]!.headers["x-portcullis-permissions"]).toBe("");
  });
});

describe("proxy: what the upstream receives", () => {
  it("method, path (with its encoding), query and body are preserved", async () => {
    const { token } = await seedIntegration(["inspections.edit", "inspections.view"]);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const m = marker();
      const body = JSON.stringify({ note: `café ${method}`, n: [1, 2] });
      const res = await call(`/inspections/${m}/caf%C3%A9%20notes?b=2&a=x%20y&empty=`, {
        method,
        headers: bearer(token.secret, { "content-type": "application/json", "x-request-id": "r-42" }),
        body,
      });
      expect(res.status).toBe(200);
      const [seen] = await upstreamRequests(m);
      expect(seen!.method).toBe(method);
      expect(seen!.path).toBe(`/inspections/${m}/caf%C3%A9%20notes`);
      expect(seen!.query).toEqual({ b: "2", a: "x y", empty: "" });
      expect(seen!.body).toBe(body);
      expect(seen!.headers["content-type"]).toBe("application/json");
      expect(seen!.headers["x-request-id"]).toBe("r-42");
      expect(seen!.headers["authorization"]).toBeUndefined();
    }
  });

  it("a user's identity headers are exactly the nine, with permissions, groups and sites sorted", async () => {
    const org = await seedOrg();
    const a = await seedPermissionSet(org.orgId, ["reports.view", "inspections.view"], "Readers");
    const b = await seedPermissionSet(org.orgId, ["inspections.edit", "inspections.view"], "Editors");
    const user = await seedUser(org.orgId, {
      name: "Dana Inspector",
      permissionSetIds: [a, b],
      groupNames: ["South", "North"],
      siteNames: ["Depot 9", "Depot 7"],
    });
    const token = await seedUserToken(org.orgId, user.id);
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    const identity = Object.fromEntries(Object.entries(seen!.headers).filter(([k]) => k.startsWith("x-portcullis-")));
    expect(Object.keys(identity).sort()).toEqual(
      ["assertion", "groups", "org-id", "permissions", "sites", "subject-id", "subject-name", "subject-type", "token-id"].map(
        (h) => `x-portcullis-${h}`,
      ),
    );
    expect(identity).toMatchObject({
      "x-portcullis-subject-id": user.id,
      "x-portcullis-subject-type": "user",
      "x-portcullis-subject-name": "Dana Inspector",
      "x-portcullis-org-id": org.orgId,
      "x-portcullis-token-id": token.id,
      "x-portcullis-permissions": "inspections.edit,inspections.view,reports.view",
      "x-portcullis-groups": [...user.groupIds].sort().join(","),
      "x-portcullis-sites": [...user.siteIds].sort().join(","),
    });
    expect(user.groupIds).toHaveLength(2);
    expect(identity["x-portcullis-assertion"]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("a service user's identity has its name, type service_user and empty groups and sites", async () => {
    const { org, token } = await seedIntegration(["inspections.view"]);
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers).toMatchObject({
      "x-portcullis-subject-id": token.serviceUserId,
      "x-portcullis-subject-type": "service_user",
      "x-portcullis-subject-name": "Warehouse sync",
      "x-portcullis-org-id": org.orgId,
      "x-portcullis-token-id": token.id,
      "x-portcullis-permissions": "inspections.view",
      "x-portcullis-groups": "",
      "x-portcullis-sites": "",
    });
  });

  it("a display name outside printable ASCII is sent percent-encoded (UTF-8)", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId, { name: "Zoë Ólafsdóttir 100%" });
    const token = await seedUserToken(org.orgId, user.id);
    const m = marker();
    expect((await call(`/any/${m}`, { headers: bearer(token.secret) })).status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-subject-name"]).toBe(encodeURIComponent("Zoë Ólafsdóttir 100%"));
  });

  it("spoofed identity headers are replaced by the real ones, and Authorization is not forwarded", async () => {
    const { org, token } = await seedIntegration([]);
    const m = marker();
    const res = await call(`/any/${m}`, {
      headers: bearer(token.secret, {
        "X-Portcullis-Subject-Id": "usr_admin",
        "x-portcullis-permissions": "platform_management.users",
        "X-PORTCULLIS-ORG-ID": "org_other",
        "X-Portcullis-Impersonate": "yes",
      }),
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-subject-id"]).toBe(token.serviceUserId);
    expect(seen!.headers["x-portcullis-permissions"]).toBe("");
    expect(seen!.headers["x-portcullis-org-id"]).toBe(org.orgId);
    expect(seen!.headers["x-portcullis-impersonate"]).toBeUndefined();
    expect(seen!.headers["authorization"]).toBeUndefined();
  });
});

describe("proxy: revocation is effective on the very next request", () => {
  it("a service token revoked in D1 stops on the next request", async () => {
    const { token } = await seedIntegration();
    const m = marker();
    expect((await call(`/inspections/${m}/1`, { headers: bearer(token.secret) })).status).toBe(200);
    await setTokenStatus(token.id, "revoked");
    const res = await call(`/inspections/${m}/2`, { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(invalid("token revoked"));
    expect((await upstreamRequests(m)).map((r) => r.path)).toEqual([`/inspections/${m}/1`]);
  });

  it("a user token revoked through the management API stops on the next request", async () => {
    const { token } = await seedInspector();
    const m = marker();
    expect((await call(`/inspections/${m}/1`, { headers: bearer(token.secret) })).status).toBe(200);
    const revoke = await call(`${PREFIX}/me/api-tokens/${token.id}/revoke`, { method: "POST", headers: bearer(token.secret) });
    expect(revoke.status).toBe(200);
    const res = await call(`/inspections/${m}/2`, { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(invalid("token revoked"));
    expect((await upstreamRequests(m)).map((r) => r.path)).toEqual([`/inspections/${m}/1`]);
  });

  it("a permission removed from the member's set applies on the next request", async () => {
    const { setId, token } = await seedInspector();
    const m = marker();
    expect((await call(`/inspections/${m}/1`, { headers: bearer(token.secret) })).status).toBe(200);
    await env.DB.prepare("UPDATE permission_sets SET permissions = '[]' WHERE id = ?1").bind(setId).run();
    expect((await call(`/inspections/${m}/2`, { headers: bearer(token.secret) })).status).toBe(403);
    expect(await upstreamRequests(m)).toHaveLength(1);
  });
});
