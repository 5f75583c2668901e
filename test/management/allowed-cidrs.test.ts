/**
 * Token conditions (SPEC §9): `allowed_cidrs` on service tokens, set at creation and by PATCH,
 * always shown, and enforced from `CF-Connecting-IP` on the proxy (403 with the insufficient_scope
 * challenge, nothing forwarded) and on the management API (403 `ip_not_allowed`).
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { clearAuthCache } from "../../src/auth/cache";
import { adminSession, seedOrg, seedPermissionSet, type SeededOrg } from "../helpers/seed";
import { api, proxied } from "../helpers/worker";
import { errorOf } from "../helpers/errors";

const NOT_ALLOWED = 'Bearer realm="portcullis", error="insufficient_scope", error_description="client address not allowed for this token"';

interface ServiceToken {
  id: string;
  allowed_cidrs: string[];
  token?: string;
}

async function setup(): Promise<{ org: SeededOrg; admin: string; viewer: string }> {
  const org = await seedOrg();
  const viewer = await seedPermissionSet(org.orgId, ["inspections.view", "integrations.manage"], "Viewer");
  return { org, admin: await adminSession(org), viewer };
}

async function create(admin: string, body: Record<string, unknown>): Promise<ServiceToken> {
  const res = await api("POST", "/service-tokens", admin, { name: "Restricted", ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ServiceToken;
}

/** A proxied GET from `address` (no CF-Connecting-IP when null); `seen` is null when nothing was forwarded. */
function from(address: string | null, secret: string, extraEnv: Record<string, string> = {}) {
  const headers: Record<string, string> = address === null ? {} : { "cf-connecting-ip": address };
  return proxied(secret, "/inspections", { headers, env: extraEnv, noClientAddress: address === null });
}

async function expectRefused(address: string | null, secret: string, extraEnv: Record<string, string> = {}) {
  const { res, seen } = await from(address, secret, extraEnv);
  expect(res.status).toBe(403);
  expect(res.headers.get("www-authenticate")).toBe(NOT_ALLOWED);
  expect((await errorOf(res)).code).toBe("ip_not_allowed");
  expect(seen).toBeNull();
}

beforeEach(() => clearAuthCache());

describe("allowed_cidrs in the service token resource (SPEC §9)", () => {
  it("is normalised and de-duplicated at creation, and shown by create, view and list", async () => {
    const { admin, viewer } = await setup();
    const created = await create(admin, {
      permission_set_ids: [viewer],
      allowed_cidrs: ["203.0.113.77/24", "2001:DB8:0:0:1::1/64", "192.0.2.1", "203.0.113.0/24", "::ffff:198.51.100.7/120"],
    });
    const expected = ["203.0.113.0/24", "2001:db8::/64", "192.0.2.1/32", "198.51.100.0/24"];
    expect(created.allowed_cidrs).toEqual(expected);
    const view = (await (await api("GET", `/service-tokens/${created.id}`, admin)).json()) as ServiceToken;
    expect(view.allowed_cidrs).toEqual(expected);
    const list = (await (await api("GET", "/service-tokens", admin)).json()) as { data: ServiceToken[] };
    expect(list.data.find((t) => t.id === created.id)!.allowed_cidrs).toEqual(expected);
    const stored = await env.DB.prepare("SELECT allowed_cidrs FROM api_tokens WHERE id = ?1").bind(created.id).first<{ allowed_cidrs: string }>();
    expect(JSON.parse(stored!.allowed_cidrs)).toEqual(expected);
  });

  it("is [] when unrestricted, whether omitted or sent empty", async () => {
    const { admin } = await setup();
    expect((await create(admin, {})).allowed_cidrs).toEqual([]);
    const empty = await create(admin, { allowed_cidrs: [] });
    expect(empty.allowed_cidrs).toEqual([]);
    const stored = await env.DB.prepare("SELECT allowed_cidrs FROM api_tokens WHERE id = ?1").bind(empty.id).first<{ allowed_cidrs: string | null }>();
    expect(stored!.allowed_cidrs).toBeNull();
  });

  it("is replaced by PATCH, recorded in token.edited, and lifted by []", async () => {
    const { admin } = await setup();
    const created = await create(admin, {});
    const patched = await api("PATCH", `/service-tokens/${created.id}`, admin, { allowed_cidrs: ["10.9.8.7/8"] });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as ServiceToken).allowed_cidrs).toEqual(["10.0.0.0/8"]);
    const event = await env.DB.prepare("SELECT details FROM activity_events WHERE target_id = ?1 AND type = 'token.edited'")
      .bind(created.id)
      .first<{ details: string }>();
    expect(JSON.parse(event!.details)).toEqual({ kind: "service_user", changes: { allowed_cidrs: { from: [], to: ["10.0.0.0/8"] } } });
    const lifted = await api("PATCH", `/service-tokens/${created.id}`, admin, { allowed_cidrs: [] });
    expect(((await lifted.json()) as ServiceToken).allowed_cidrs).toEqual([]);
  });

  const tooMany = Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`);
  it.each([
    ["a prefix too long", ["10.0.0.0/33"]],
    ["one bad entry among good ones", ["203.0.113.0/24", "not-an-address"]],
    ["an IPv6 zone", ["fe80::1%eth0"]],
    ["a shortened IPv4 address", ["10.1"]],
    ["an empty entry", [""]],
    ["a number", [42]],
    ["a string instead of a list", "10.0.0.0/8"],
    ["null", null],
    ["33 entries", tooMany],
  ])("refuses %s with 400 invalid_request, on create and on PATCH", async (_label, cidrs) => {
    const { admin } = await setup();
    const refused = await api("POST", "/service-tokens", admin, { name: "Bad", allowed_cidrs: cidrs });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).code).toBe("invalid_request");
    const existing = await create(admin, { allowed_cidrs: ["192.0.2.0/24"] });
    const patch = await api("PATCH", `/service-tokens/${existing.id}`, admin, { allowed_cidrs: cidrs });
    expect(patch.status).toBe(400);
    expect((await errorOf(patch)).message).toContain("allowed_cidrs");
    const view = (await (await api("GET", `/service-tokens/${existing.id}`, admin)).json()) as ServiceToken;
    expect(view.allowed_cidrs).toEqual(["192.0.2.0/24"]);
  });

  it("accepts exactly 32 entries", async () => {
    const { admin } = await setup();
    const cidrs = Array.from({ length: 32 }, (_, i) => `10.0.${i}.0/24`);
    expect((await create(admin, { allowed_cidrs: cidrs })).allowed_cidrs).toEqual(cidrs);
  });
});

describe("allowed_cidrs on the proxy (SPEC §9)", () => {
  it("forwards from inside an IPv4 range and refuses from outside with 403, forwarding nothing", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["203.0.113.0/24"] });
    for (const inside of ["203.0.113.0", "203.0.113.255"]) {
      const { res, seen } = await from(inside, token!);
      expect(res.status).toBe(200);
      expect(seen).not.toBeNull();
    }
    for (const outside of ["203.0.114.0", "203.0.112.255", "2001:db8::1"]) await expectRefused(outside, token!);
  });

  it("forwards from inside an IPv6 range and refuses from outside", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["2001:db8:abcd::/48"] });
    expect((await from("2001:db8:abcd:ffff::1", token!)).res.status).toBe(200);
    expect((await from("2001:DB8:ABCD::", token!)).res.status).toBe(200);
    for (const outside of ["2001:db8:abce::1", "203.0.113.9"]) await expectRefused(outside, token!);
  });

  it("matches an IPv4-mapped IPv6 client address as IPv4", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["203.0.113.0/24"] });
    expect((await from("::ffff:203.0.113.9", token!)).res.status).toBe(200);
    expect((await from("::ffff:cb00:7109", token!)).res.status).toBe(200);
    await expectRefused("::ffff:203.0.114.9", token!);
  });

  it("refuses a request with no client address when the list is not empty", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["0.0.0.0/0", "::/0"] });
    expect((await from("198.51.100.1", token!)).res.status).toBe(200);
    await expectRefused(null, token!);
    await expectRefused("not-an-ip", token!);
  });

  it("lets an unrestricted token through from anywhere, even with no client address", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: [] });
    for (const address of ["203.0.113.9", "2001:db8::1", null]) expect((await from(address, token!)).res.status).toBe(200);
  });

  it("checks the address on every request, cache hit or not, and follows a PATCH at once", async () => {
    const { admin, viewer } = await setup();
    const cached = { AUTH_CACHE_TTL_MS: "600000" };
    const { id, token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["203.0.113.0/24"] });
    expect((await from("203.0.113.9", token!, cached)).res.status).toBe(200);
    await expectRefused("198.51.100.9", token!, cached);
    expect((await api("PATCH", `/service-tokens/${id}`, admin, { allowed_cidrs: ["198.51.100.0/24"] })).status).toBe(200);
    expect((await from("198.51.100.9", token!, cached)).res.status).toBe(200);
    await expectRefused("203.0.113.9", token!, cached);
  });

  it("applies to the previous secret of a rolled token as to the current one", async () => {
    const { admin, viewer } = await setup();
    const { id, token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["203.0.113.0/24"] });
    const rolled = (await (await api("POST", `/service-tokens/${id}/roll`, admin, {})).json()) as { token: string };
    for (const secret of [token!, rolled.token]) {
      expect((await from("203.0.113.1", secret)).res.status).toBe(200);
      await expectRefused("198.51.100.1", secret);
    }
  });
});

describe("allowed_cidrs on the management API (SPEC §9)", () => {
  it("refuses a restricted token from outside its list with 403 ip_not_allowed, and serves it from inside", async () => {
    const { admin, viewer } = await setup();
    const { token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["2001:db8::/32"] });
    const outside = await api("GET", "/service-tokens", token!, undefined, { headers: { "cf-connecting-ip": "203.0.113.9" } });
    expect(outside.status).toBe(403);
    expect((await errorOf(outside)).code).toBe("ip_not_allowed");
    const none = await api("GET", "/me", token!, undefined, { noClientAddress: true });
    expect(none.status).toBe(403);
    const inside = await api("GET", "/service-tokens", token!, undefined, { headers: { "cf-connecting-ip": "2001:db8::7" } });
    expect(inside.status).toBe(200);
  });

  it("refuses before the route runs: a write from outside changes nothing", async () => {
    const { admin, viewer } = await setup();
    const { id, token } = await create(admin, { permission_set_ids: [viewer], allowed_cidrs: ["192.0.2.0/24"] });
    const res = await api("PATCH", `/service-tokens/${id}`, token!, { name: "Renamed" }, { headers: { "cf-connecting-ip": "203.0.113.9" } });
    expect(res.status).toBe(403);
    const view = (await (await api("GET", `/service-tokens/${id}`, admin)).json()) as { name: string };
    expect(view.name).toBe("Restricted");
  });
});
