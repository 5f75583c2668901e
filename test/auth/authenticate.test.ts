/**
 * The proxy (SPEC §3) and the management API authenticate an API token with the one
 * authenticateRequest(): for one token, both answer a malformed, revoked or rotated secret and a
 * refused client address (SPEC §9) with the same status, code, message and RFC 6750 challenge.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { clearAuthCache } from "../../src/auth/cache";
import { adminSession, seedOrg, seedPermissionSet } from "../helpers/seed";
import { api, bearer, call, marker, PREFIX, upstreamRequests } from "../helpers/worker";

interface Answer {
  status: number;
  challenge: string | null;
  code: string;
  message: string;
}

async function answerOf(res: Response): Promise<Answer> {
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, challenge: res.headers.get("www-authenticate"), code: error.code, message: error.message };
}

/** The same credential, from the same address, to the proxy and to the management API. */
async function bothAnswers(secret: string, address = "198.51.100.7"): Promise<{ proxy: Answer; management: Answer }> {
  const m = marker();
  const headers = bearer(secret, { "cf-connecting-ip": address });
  const proxy = await call(`/inspections/${m}`, { headers });
  expect(await upstreamRequests(m)).toEqual([]);
  const management = await call(`${PREFIX}/service-tokens`, { headers });
  return { proxy: await answerOf(proxy), management: await answerOf(management) };
}

async function setup(allowedCidrs: string[] = []) {
  const org = await seedOrg();
  const admin = await adminSession(org);
  const set = await seedPermissionSet(org.orgId, ["inspections.view", "integrations.manage"], "Viewer");
  const res = await api("POST", "/service-tokens", admin, { name: "Shared", permission_set_ids: [set], allowed_cidrs: allowedCidrs });
  expect(res.status).toBe(201);
  const token = (await res.json()) as { id: string; token: string };
  return { admin, id: token.id, secret: token.token };
}

beforeEach(() => clearAuthCache());

describe("one authentication for the proxy and the management API", () => {
  it("a malformed token gets the same 401 invalid_token from both", async () => {
    const { secret } = await setup();
    const broken = secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A");
    const { proxy, management } = await bothAnswers(broken);
    expect(proxy.status).toBe(401);
    expect(proxy.code).toBe("invalid_token");
    expect(management).toEqual(proxy);
  });

  it("a revoked token gets the same 401 invalid_token from both", async () => {
    const { admin, id, secret } = await setup();
    expect((await api("POST", `/service-tokens/${id}/revoke`, admin)).status).toBe(200);
    const { proxy, management } = await bothAnswers(secret);
    expect(proxy.status).toBe(401);
    expect(proxy.challenge).toBe('Bearer realm="portcullis", error="invalid_token", error_description="token revoked"');
    expect(management).toEqual(proxy);
  });

  it("a rolled token's previous secret past its grace gets the same 401 from both", async () => {
    const { admin, id, secret } = await setup();
    expect((await api("POST", `/service-tokens/${id}/roll`, admin, { grace_seconds: 0 })).status).toBe(200);
    const { proxy, management } = await bothAnswers(secret);
    expect(proxy.status).toBe(401);
    expect(proxy.challenge).toBe('Bearer realm="portcullis", error="invalid_token", error_description="token rotated; the previous secret expired"');
    expect(management).toEqual(proxy);
  });

  it("a valid token from outside its allowed_cidrs gets the same 403 ip_not_allowed from both", async () => {
    const { secret } = await setup(["203.0.113.0/24"]);
    const { proxy, management } = await bothAnswers(secret, "198.51.100.7");
    expect(proxy.status).toBe(403);
    expect(proxy.code).toBe("ip_not_allowed");
    expect(management).toEqual(proxy);
    const inside = await call(`${PREFIX}/service-tokens`, { headers: bearer(secret, { "cf-connecting-ip": "203.0.113.9" }) });
    expect(inside.status).toBe(200);
  });
});
