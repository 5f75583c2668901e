import { describe, expect, it } from "vitest";
import { adminSession, seedOrg } from "./helpers/seed";
import { PREFIX, bearer, call, marker, upstreamRequests } from "./helpers/worker";

describe("routing between the management API and the proxy", () => {
  it("answers an unknown path under the management prefix with 404 and never forwards it", async () => {
    const org = await seedOrg();
    const session = await adminSession(org);
    const m = marker();
    const res = await call(`${PREFIX}/no-such-route/${m}`, { headers: bearer(session) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: expect.any(String) } });
    expect(await upstreamRequests(m)).toHaveLength(0);
  });

  it("decides 'under the prefix' as the router does: an escaped spelling is management, a longer segment is proxied", async () => {
    const escaped = await call(`/%5Fportcullis/v1/openapi.json`);
    expect(escaped.status).toBe(200);
    expect(((await escaped.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
    const m = marker();
    const longer = await call(`${PREFIX}x/${m}`);
    expect(longer.status).toBe(401);
    expect(longer.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await upstreamRequests(m)).toHaveLength(0);
  });

  it("bootstraps an organization only with the operator secret", async () => {
    const body = JSON.stringify({ name: "Acme", admin: { name: "Ada", email: "ada@example.com" } });
    const headers = { "content-type": "application/json" };
    expect((await call(`${PREFIX}/orgs`, { method: "POST", headers, body })).status).toBe(401);
    const wrong = await call(`${PREFIX}/orgs`, { method: "POST", headers: { ...headers, ...bearer("nope") }, body });
    expect(wrong.status).toBe(401);
    const ok = await call(`${PREFIX}/orgs`, { method: "POST", headers: { ...headers, ...bearer("test-admin-secret") }, body });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    const created = (await ok.json()) as { org: { id: string }; admin: { id: string; permission_set_ids: string[] } };
    expect(created.org.id).toMatch(/^org_/);
    expect(created.admin.permission_set_ids).toHaveLength(1);
  });

  it("GET /me describes the session's member with the Administrator permissions", async () => {
    const org = await seedOrg();
    const res = await call(`${PREFIX}/me`, { headers: bearer(await adminSession(org)) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const me = (await res.json()) as { subject: { id: string; type: string }; credential: string; permissions: string[] };
    expect(me.subject).toMatchObject({ id: org.adminId, type: "user" });
    expect(me.credential).toBe("session");
    expect(me.permissions).toEqual([
      "integrations.manage",
      "platform_management.audit_log",
      "platform_management.groups",
      "platform_management.permissions",
      "platform_management.sites",
      "platform_management.users",
    ]);
  });
});
