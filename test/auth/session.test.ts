/**
 * Session JWTs (SPEC §4, §11) presented to the management API: only a JWT signed by the
 * configured key, with an allowed algorithm, the right issuer and audience, unexpired, with
 * every claim present and well typed, naming an active member of the named organization, and
 * not issued in the future, is a session. Replacing signature verification with plain decoding
 * must fail these tests.
 */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { seedOrg, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, PREFIX } from "../helpers/worker";
import { errorCode } from "../helpers/errors";

const SECRET = new TextEncoder().encode("test-session-secret");
const now = () => Math.floor(Date.now() / 1000);

let org: SeededOrg;
let other: SeededOrg;

beforeAll(async () => {
  org = await seedOrg("Session Org");
  other = await seedOrg("Other Org");
});

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    sub: org.adminId,
    org: org.orgId,
    auth_time: now(),
    iss: "portcullis-demo-idp",
    aud: "portcullis",
    iat: now(),
    exp: now() + 600,
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base as JWTPayload;
}

function hs(payload: JWTPayload, alg = "HS256", key: Uint8Array = SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}

const b64url = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

async function me(jwt: string, overrides: Record<string, string> = {}): Promise<Response> {
  return call(`${PREFIX}/me`, { headers: bearer(jwt), env: overrides });
}

async function expectRefused(jwt: string, why: string, overrides: Record<string, string> = {}) {
  const res = await me(jwt, overrides);
  expect(res.status, why).toBe(401);
  expect(res.headers.get("www-authenticate"), why).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
}

describe("session JWTs signed with SESSION_SECRET (HS256)", () => {
  it("a well-formed session is accepted (the control case)", async () => {
    const res = await me(await hs(claims()));
    expect(res.status).toBe(200);
    const body = JSON.stringify(await res.json());
    expect(body).toContain(org.adminId);
    expect(body).toContain(org.orgId);
  });

  it("refuses a wrong key, alg none, other HMAC algorithms and a tampered payload", async () => {
    await expectRefused(await hs(claims(), "HS256", new TextEncoder().encode("another-secret")), "wrong key");
    await expectRefused(`${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}.`, "alg none");
    await expectRefused(`${b64url({ alg: "none" })}.${b64url(claims())}.${"x".repeat(43)}`, "alg none with a signature");
    await expectRefused(await hs(claims(), "HS384"), "HS384");
    await expectRefused(await hs(claims(), "HS512"), "HS512");
    const [header, , signature] = (await hs(claims())).split(".");
    await expectRefused(`${header}.${b64url(claims({ org: other.orgId, sub: other.adminId }))}.${signature}`, "payload swapped");
    await expectRefused(`${header}.${b64url(claims())}.`, "signature stripped");
  });

  it("refuses a wrong issuer or audience, and an expired session", async () => {
    await expectRefused(await hs(claims({ iss: "evil-idp" })), "iss");
    await expectRefused(await hs(claims({ aud: "someone-else" })), "aud");
    await expectRefused(await hs(claims({ iat: now() - 7200, exp: now() - 3600 })), "expired");
  });

  it("refuses missing or mistyped claims", async () => {
    for (const name of ["sub", "org", "auth_time", "exp"]) await expectRefused(await hs(claims({ [name]: undefined })), `missing ${name}`);
    await expectRefused(await hs(claims({ org: 42 })), "org number");
    await expectRefused(await hs(claims({ auth_time: String(now()) })), "auth_time string");
    await expectRefused(await hs(claims({ sub: 7 })), "sub number");
    await expectRefused(await hs(claims({ exp: "later" })), "exp string");
  });

  it("refuses a member named under another organization, and an unknown member", async () => {
    await expectRefused(await hs(claims({ org: other.orgId })), "org mismatch");
    await expectRefused(await hs(claims({ sub: "usr_01JNOBODY0000000000000000" })), "unknown sub");
  });

  it("refuses an iat or auth_time more than 60 s ahead of the clock (SPEC §11)", async () => {
    await expectRefused(await hs(claims({ auth_time: now() + 3600, exp: now() + 7200 })), "auth_time in an hour");
    await expectRefused(await hs(claims({ iat: now() + 120 })), "iat in two minutes");
    expect((await me(await hs(claims({ auth_time: now() + 30 })))).status).toBe(200);
  });

  it("an auth_time in the future, even within the allowed skew, is never a fresh sign-in", async () => {
    const ahead = await hs(claims({ auth_time: now() + 30 }));
    const res = await api("POST", "/me/api-tokens", ahead, { name: "CLI" });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("reauthentication_required");
    const fresh = await api("POST", "/me/api-tokens", await hs(claims()), { name: "CLI" });
    expect(fresh.status).toBe(201);
  });
});

describe("session JWTs verified against SESSION_JWKS_URL", () => {
  let es: { privateKey: CryptoKey; jwks: string };
  let rs: { privateKey: CryptoKey; jwks: string };

  beforeAll(async () => {
    const ec = await generateKeyPair("ES256", { extractable: true });
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const ecPublic = { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" };
    const rsPublic = { ...(await exportJWK(rsa.publicKey)), kid: "rs-1", alg: "RS256", use: "sig" };
    // Each describe-level URL is distinct, so jose's per-URL key cache cannot carry over.
    const url = (keys: unknown[]) => `${env.UPSTREAM_URL}/__control/json?run=${crypto.randomUUID()}&body=${encodeURIComponent(JSON.stringify({ keys }))}`;
    es = { privateKey: ec.privateKey, jwks: url([ecPublic, rsPublic]) };
    rs = { privateKey: rsa.privateKey, jwks: es.jwks };
  });

  const jwksEnv = () => ({ SESSION_JWKS_URL: es.jwks, SESSION_SECRET: "" });
  const sign = (alg: "ES256" | "RS256", kid: string, key: CryptoKey, payload = claims()) =>
    new SignJWT(payload).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(key);

  it("accepts ES256 and RS256 sessions signed by a key the JWKS publishes", async () => {
    expect((await me(await sign("ES256", "ec-1", es.privateKey), jwksEnv())).status).toBe(200);
    expect((await me(await sign("RS256", "rs-1", rs.privateKey), jwksEnv())).status).toBe(200);
  });

  it("refuses a key the JWKS does not publish, HS256 (with the secret or the public key), and a tampered payload", async () => {
    const stranger = await generateKeyPair("ES256");
    await expectRefused(await sign("ES256", "ec-1", stranger.privateKey), "unpublished key, known kid", jwksEnv());
    await expectRefused(await hs(claims()), "HS256 with SESSION_SECRET's value", { ...jwksEnv() });
    const jwksJson = decodeURIComponent(es.jwks.split("body=")[1]!);
    await expectRefused(await hs(claims(), "HS256", new TextEncoder().encode(jwksJson)), "HS256 keyed with the JWKS", jwksEnv());
    const [header, , signature] = (await sign("ES256", "ec-1", es.privateKey)).split(".");
    await expectRefused(`${header}.${b64url(claims({ org: other.orgId, sub: other.adminId }))}.${signature}`, "payload swapped", jwksEnv());
    await expectRefused(await sign("ES256", "ec-1", es.privateKey, claims({ aud: "someone-else" })), "aud", jwksEnv());
  });
});
