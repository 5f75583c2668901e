/**
 * TOKEN_PEPPER end to end (SPEC §2): with a pepper set, D1 holds only HMAC-SHA-256 digests, and
 * the token lifecycle, the proxy, introspection and leak reports all work through them.
 * TOKEN_PEPPER_PREVIOUS (SPEC §11): a token stored under the previous pepper keeps working
 * during a rotation and is re-digested under the current one on use, off the response path.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createServiceToken } from "../../src/db/tokens";
import { tokenDigest } from "../../src/token/digest";
import { adminSession, db, seedOrg } from "../helpers/seed";
import { api, bearer, call, marker, PREFIX, proxied, upstreamRequests } from "../helpers/worker";
import { tokenRow } from "../helpers/records";

const PEPPER = "e2e-pepper-7f3c";
const PEPPERED = { TOKEN_PEPPER: PEPPER };

async function sha256Hex(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("TOKEN_PEPPER set: the whole token lifecycle", () => {
  it("create, proxy, introspect, regenerate, report a leak: only peppered digests, and only the pepper opens them", async () => {
    const org = await seedOrg("Peppered");
    const session = await adminSession(org);

    // A user token and a service token, created through the API with the pepper set.
    const userRes = await api("POST", "/me/api-tokens", session, { name: "CLI" }, { env: PEPPERED });
    expect(userRes.status).toBe(201);
    const userToken = (await userRes.json()) as { id: string; token: string };
    const svcRes = await api("POST", "/service-tokens", session, { name: "Sync", permission_set_ids: [org.adminSetId] }, { env: PEPPERED });
    expect(svcRes.status).toBe(201);
    const serviceToken = (await svcRes.json()) as { id: string; token: string };

    for (const t of [userToken, serviceToken]) {
      const digest = (await tokenRow(t.id))?.digest;
      expect(digest).toBe(await tokenDigest(t.token, PEPPER));
      expect(digest).not.toBe(await sha256Hex(t.token));
    }

    // The proxy opens them with the pepper, and not without it.
    const m = marker();
    expect((await proxied(userToken.token, `/reports/${m}`, { env: PEPPERED })).res.status).toBe(200);
    expect((await proxied(serviceToken.token, `/reports/${m}`, { env: PEPPERED })).res.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(2);
    expect((await proxied(serviceToken.token, "/reports")).res.status).toBe(401);

    // Introspection judges the token through the pepper too.
    let caller = serviceToken.token;
    const introspect = (token: string, overrides: Record<string, string>) =>
      call(`${PREFIX}/introspect`, {
        method: "POST",
        headers: bearer(caller, { "content-type": "application/x-www-form-urlencoded" }),
        body: new URLSearchParams({ token }).toString(),
        env: overrides,
      });
    expect(await (await introspect(userToken.token, PEPPERED)).json()).toMatchObject({ active: true, token_type: "user" });

    // Revoke, then regenerate: the new secret is stored peppered and works; the old one stays dead.
    expect((await api("POST", `/service-tokens/${serviceToken.id}/revoke`, session, undefined, { env: PEPPERED })).status).toBe(200);
    expect((await proxied(serviceToken.token, "/reports", { env: PEPPERED })).res.status).toBe(401);
    const regen = await api("POST", `/service-tokens/${serviceToken.id}/regenerate`, session, undefined, { env: PEPPERED });
    expect(regen.status).toBe(200);
    const regenerated = ((await regen.json()) as { token: string }).token;
    expect((await tokenRow(serviceToken.id))?.digest).toBe(await tokenDigest(regenerated, PEPPER));
    expect((await proxied(regenerated, "/reports", { env: PEPPERED })).res.status).toBe(200);
    caller = regenerated;
    expect((await proxied(serviceToken.token, "/reports", { env: PEPPERED })).res.status).toBe(401);

    // A leak report finds the user token by its peppered digest and revokes it.
    const leak = await call(`${PREFIX}/credentials/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credentials: [userToken.token] }),
      env: PEPPERED,
    });
    expect(leak.status).toBe(202);
    const { res: revoked } = await proxied(userToken.token, "/reports", { env: PEPPERED });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain("token revoked");
    expect(await (await introspect(userToken.token, PEPPERED)).json()).toEqual({ active: false });
  });
});

describe("TOKEN_PEPPER_PREVIOUS: rotating the pepper without downtime (SPEC §11)", () => {
  const OLD = "pepper-before-rotation";
  const NEW = "pepper-after-rotation";
  const ROTATING = { TOKEN_PEPPER: NEW, TOKEN_PEPPER_PREVIOUS: OLD };

  async function tokenUnder(pepper: string) {
    const org = await seedOrg("Rotating");
    const created = await createServiceToken(db(), {
      orgId: org.orgId,
      name: "Sync",
      inactivityDays: 45,
      permissionSetIds: [],
      actor: { id: null, type: "operator", name: "Test" },
      pepper,
    });
    return created!;
  }

  it("a token stored under the previous pepper works, and is re-digested under the current one on use", async () => {
    const token = await tokenUnder(OLD);
    expect((await tokenRow(token.id))?.digest).toBe(await tokenDigest(token.secret, OLD));
    // Without the previous pepper configured it is unknown (the control case).
    expect((await proxied(token.secret, "/reports", { env: { TOKEN_PEPPER: NEW } })).res.status).toBe(401);

    const m = marker();
    expect((await proxied(token.secret, `/reports/${m}`, { env: ROTATING })).res.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
    expect((await tokenRow(token.id))?.digest).toBe(await tokenDigest(token.secret, NEW));
    // Re-digested: the current pepper alone now opens it, and the management API does too.
    expect((await proxied(token.secret, "/reports", { env: { TOKEN_PEPPER: NEW } })).res.status).toBe(200);
    expect((await call(`${PREFIX}/me`, { headers: bearer(token.secret), env: { TOKEN_PEPPER: NEW } })).status).toBe(200);
  });

  it("a rolled token's previous secret found under the previous pepper is re-digested in its own column (SPEC §9, §11)", async () => {
    const token = await tokenUnder(OLD);
    const oldDigest = await tokenDigest(token.secret, OLD);
    // As a roll leaves it: the old secret is the previous one, in its grace; a new current digest.
    await env.DB.prepare("UPDATE api_tokens SET previous_digest = digest, previous_expires_at = ?2, digest = ?3 WHERE id = ?1")
      .bind(token.id, Date.now() + 3_600_000, "f".repeat(64))
      .run();
    const m = marker();
    expect((await proxied(token.secret, `/reports/${m}`, { env: ROTATING })).res.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
    const row = await env.DB.prepare("SELECT digest, previous_digest FROM api_tokens WHERE id = ?1").bind(token.id).first<{ digest: string; previous_digest: string }>();
    expect(row).toEqual({ digest: "f".repeat(64), previous_digest: await tokenDigest(token.secret, NEW) });
    expect(row!.previous_digest).not.toBe(oldDigest);
    expect((await proxied(token.secret, "/reports", { env: { TOKEN_PEPPER: NEW } })).res.status).toBe(200);
  });

  it("a management API call re-digests too, and a leak report finds a token still under the previous pepper", async () => {
    const used = await tokenUnder(OLD);
    expect((await call(`${PREFIX}/me`, { headers: bearer(used.secret), env: ROTATING })).status).toBe(200);
    expect((await tokenRow(used.id))?.digest).toBe(await tokenDigest(used.secret, NEW));

    const leaked = await tokenUnder(OLD);
    const res = await call(`${PREFIX}/credentials/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credentials: [leaked.secret] }),
      env: ROTATING,
    });
    expect(res.status).toBe(202);
    const { res: after } = await proxied(leaked.secret, "/reports", { env: ROTATING });
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain("token revoked");
  });

  it("the previous pepper is tried only after a miss, and a wrong token stays unknown under both", async () => {
    const current = await tokenUnder(NEW);
    const m = marker();
    expect((await proxied(current.secret, `/reports/${m}`, { env: ROTATING })).res.status).toBe(200);
    expect((await tokenRow(current.id))?.digest).toBe(await tokenDigest(current.secret, NEW));
    const stranger = await tokenUnder("some-other-pepper");
    expect((await proxied(stranger.secret, "/reports", { env: ROTATING })).res.status).toBe(401);
    expect((await tokenRow(stranger.id))?.digest).toBe(await tokenDigest(stranger.secret, "some-other-pepper"));
  });

  it("refuses TOKEN_PEPPER_PREVIOUS without TOKEN_PEPPER (fail fast, never a silent fallback)", async () => {
    const res = await call(`${PREFIX}/.well-known/jwks.json`, { env: { TOKEN_PEPPER: "", TOKEN_PEPPER_PREVIOUS: OLD } });
    expect(res.status).toBe(500);
  });
});
