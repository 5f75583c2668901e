/**
 * Assertion key rotation without downtime (SPEC §11): the JWKS serves the keys in
 * ASSERTION_PREVIOUS_PUBLIC_KEYS beside the current one, so an upstream keeps accepting
 * assertions signed before the rotation; private key material is never served.
 */
import { env } from "cloudflare:workers";
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import type { Subject } from "../../src/auth/subject";
import { signAssertion } from "../../src/proxy/assertion";
import { PREFIX, call } from "../helpers/worker";

const AUDIENCE = new URL(env.UPSTREAM_URL!).origin;
const SUBJECT: Subject = { type: "service_user", id: "svc_1", name: "Sync", orgId: "org_1", permissions: [], groups: [], sites: [], credential: "api_token", tokenId: "tok_1", authTime: null };

async function keysWith(previous: string): Promise<Response> {
  return call(`${PREFIX}/.well-known/jwks.json`, { env: { ASSERTION_PREVIOUS_PUBLIC_KEYS: previous } });
}

describe("ASSERTION_PREVIOUS_PUBLIC_KEYS", () => {
  it("serves previous public keys after the current one; an assertion signed with the old key still verifies", async () => {
    const old = await generateKeyPair("ES256", { extractable: true });
    const oldPrivate = await exportJWK(old.privateKey);
    const oldPublic = await exportJWK(old.publicKey);
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const rsaPublic = { ...(await exportJWK(rsa.publicKey)), kid: "legacy-rsa" };

    const res = await keysWith(JSON.stringify({ keys: [oldPublic, rsaPublic] }));
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as JSONWebKeySet;
    const current = (await (await call(`${PREFIX}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    expect(keys).toHaveLength(3);
    expect(keys[0]).toEqual(current.keys[0]);
    // A previous key without kid is named by its thumbprint, as assertions it signed name it.
    expect(keys[1]).toMatchObject({ ...oldPublic, kid: await calculateJwkThumbprint(oldPublic, "sha256") });
    expect(keys[2]).toEqual(rsaPublic);
    for (const key of keys) expect(key).not.toHaveProperty("d");

    const signedBefore = await signAssertion(oldPrivate as JsonWebKey, SUBJECT, "tok_1", { issuer: "portcullis", audience: AUDIENCE });
    const signedNow = await signAssertion(JSON.parse(env.ASSERTION_PRIVATE_KEY!), SUBJECT, "tok_1", { issuer: "portcullis", audience: AUDIENCE });
    for (const jwt of [signedBefore, signedNow]) {
      const { payload } = await jwtVerify(jwt, createLocalJWKSet({ keys }), { algorithms: ["ES256"], issuer: "portcullis", audience: AUDIENCE });
      expect(payload.sub).toBe("svc_1");
    }
    // Without the setting, the old key's assertions are refused: the rotation needs it.
    await expect(jwtVerify(signedBefore, createLocalJWKSet(current), { algorithms: ["ES256"] })).rejects.toThrow();
  });

  it("refuses a private key or a value that is not a JWKS, at startup, without echoing it", async () => {
    const old = await generateKeyPair("ES256", { extractable: true });
    const oldPrivate = await exportJWK(old.privateKey);
    for (const bad of [JSON.stringify({ keys: [oldPrivate] }), JSON.stringify([oldPrivate]), "not json", JSON.stringify({ keys: [{ k: "c2VjcmV0", kty: "oct" }] })]) {
      const res = await keysWith(bad);
      expect(res.status, bad).toBe(500);
      expect(await res.text()).not.toContain(oldPrivate.d!);
    }
  });
});
