/**
 * X-Portcullis-Assertion (SPEC §3.4, issue 6 §8): an ES256 JWT the upstream verifies with the
 * public keys at `<prefix>/.well-known/jwks.json`. The reference verifier below is what an
 * upstream should run: fixed algorithm, issuer, audience, a 60 s lifetime and a seen-jti set.
 */
import { env } from "cloudflare:workers";
import {
  SignJWT,
  UnsecuredJWT,
  base64url,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";
import { describe, expect, it } from "vitest";
import { signAssertion } from "../../src/proxy/assertion";
import { bearer, call, marker, PREFIX, upstreamRequests } from "../helpers/worker";
import { seedInspector, seedIntegration } from "../helpers/seed";

const AUDIENCE = new URL(env.UPSTREAM_URL!).origin;

async function publishedKeys(): Promise<JSONWebKeySet> {
  const res = await call(`${PREFIX}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as JSONWebKeySet;
}

/** What an upstream should do with the assertion; throws on anything it must not accept. */
function referenceVerifier(keys: JSONWebKeySet) {
  const keySet = createLocalJWKSet(keys);
  const seen = new Set<string>();
  return async (jwt: string): Promise<JWTPayload> => {
    const { payload } = await jwtVerify(jwt, keySet, {
      algorithms: ["ES256"],
      issuer: "portcullis",
      audience: AUDIENCE,
      maxTokenAge: "60s",
      requiredClaims: ["sub", "iat", "exp", "jti"],
    });
    if (payload.exp! - payload.iat! > 60) throw new Error("lifetime longer than 60 s");
    if (seen.has(payload.jti!)) throw new Error("replayed assertion");
    seen.add(payload.jti!);
    return payload;
  };
}

async function assertionFor(
  secret: string,
  path = `/inspections/${marker()}`,
  options: { env?: Record<string, string> } = {},
): Promise<{ jwt: string; headers: Record<string, string> }> {
  const res = await call(path, { headers: bearer(secret), env: options.env });
  expect(res.status).toBe(200);
  const [seen] = await upstreamRequests(path.split("/")[2]!);
  return { jwt: seen!.headers["x-portcullis-assertion"]!, headers: seen!.headers };
}

describe("assertion JWT", () => {
  it("the JWKS is public, holds one ES256 public key and no private part", async () => {
    const keys = await publishedKeys();
    expect(keys.keys).toHaveLength(1);
    const [key] = keys.keys;
    expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(key!.kid).toEqual(expect.any(String));
    expect(key).not.toHaveProperty("d");
  });

  it("verifies against the JWKS and carries the same claims as the identity headers", async () => {
    const { user, org, token } = await seedInspector();
    const { jwt, headers } = await assertionFor(token.secret);
    const header = decodeProtectedHeader(jwt);
    const keys = await publishedKeys();
    expect(header).toEqual({ alg: "ES256", typ: "JWT", kid: keys.keys[0]!.kid });
    const payload = await referenceVerifier(keys)(jwt);
    expect(payload).toMatchObject({
      iss: "portcullis",
      aud: AUDIENCE,
      sub: user.id,
      subject_type: "user",
      name: "Dana Inspector",
      org: org.orgId,
      token_id: token.id,
      permissions: ["inspections.view"],
      groups: user.groupIds,
      sites: user.siteIds,
    });
    expect(payload.sub).toBe(headers["x-portcullis-subject-id"]);
    expect(payload["org"]).toBe(headers["x-portcullis-org-id"]);
    expect(payload["token_id"]).toBe(headers["x-portcullis-token-id"]);
    expect((payload["permissions"] as string[]).join(",")).toBe(headers["x-portcullis-permissions"]);
    expect((payload["groups"] as string[]).join(",")).toBe(headers["x-portcullis-groups"]);
    expect((payload["sites"] as string[]).join(",")).toBe(headers["x-portcullis-sites"]);
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(120);
  });

  it("a service user's assertion names the service user with empty groups and sites", async () => {
    const { token } = await seedIntegration();
    const { jwt } = await assertionFor(token.secret);
    const payload = await referenceVerifier(await publishedKeys())(jwt);
    expect(payload).toMatchObject({ sub: token.serviceUserId, subject_type: "service_user", groups: [], sites: [] });
  });

  it("request mode: every request gets a fresh jti, and the reference verifier rejects a replay", async () => {
    const { token } = await seedIntegration();
    const requestMode = { env: { ASSERTION_MODE: "request" } };
    const first = await assertionFor(token.secret, undefined, requestMode);
    const second = await assertionFor(token.secret, undefined, requestMode);
    const verify = referenceVerifier(await publishedKeys());
    const a = await verify(first.jwt);
    const b = await verify(second.jwt);
    expect(a.jti).not.toBe(b.jti);
    await expect(verify(first.jwt)).rejects.toThrow("replayed assertion");
  });

  it("the reference verifier rejects forgeries: another key, alg none, HS256 with the public key, a tampered payload", async () => {
    const { token } = await seedIntegration();
    const { jwt } = await assertionFor(token.secret);
    const keys = await publishedKeys();
    const verify = referenceVerifier(keys);
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split(".")[1]!))) as JWTPayload;

    const attacker = await generateKeyPair("ES256");
    const otherKey = await new SignJWT({ ...claims, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.keys[0]!.kid })
      .sign(attacker.privateKey);
    await expect(verify(otherKey)).rejects.toThrow();

    const none = new UnsecuredJWT({ ...claims, jti: crypto.randomUUID() }).encode();
    await expect(verify(none)).rejects.toThrow();

    const publicJwk = JSON.stringify(keys.keys[0]);
    const confused = await new SignJWT({ ...claims, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", kid: keys.keys[0]!.kid })
      .sign(new TextEncoder().encode(publicJwk));
    await expect(verify(confused)).rejects.toThrow();

    const [h, , s] = jwt.split(".");
    const escalated = base64url.encode(JSON.stringify({ ...claims, permissions: ["platform_management.users"] }));
    await expect(verify(`${h}.${escalated}.${s}`)).rejects.toThrow();

    // The genuine one still verifies (the failures above are not the verifier being broken).
    await expect(verify(jwt)).resolves.toMatchObject({ sub: token.serviceUserId });
    expect(await exportJWK(attacker.publicKey)).not.toEqual(keys.keys[0]);
  });

  it("the reference verifier rejects an expired assertion and one for another audience", async () => {
    const { token } = await seedIntegration();
    const { jwt } = await assertionFor(token.secret);
    const verify = referenceVerifier(await publishedKeys());
    const payload = await verify(jwt);
    const privateJwk = JSON.parse(env.ASSERTION_PRIVATE_KEY!) as JsonWebKey;
    const subject = {
      type: "service_user" as const,
      id: payload.sub!,
      name: "Warehouse sync",
      orgId: payload["org"] as string,
      permissions: [],
      groups: [],
      sites: [],
      credential: "api_token" as const,
      tokenId: token.id,
      authTime: null,
    };
    const stale = await signAssertion(privateJwk, subject, token.id, { issuer: "portcullis", audience: AUDIENCE, now: Date.now() - 61_000 });
    await expect(verify(stale)).rejects.toThrow();
    const elsewhere = await signAssertion(privateJwk, subject, token.id, { issuer: "portcullis", audience: "https://other.example" });
    await expect(verify(elsewhere)).rejects.toThrow();
  });
});
