/**
 * X-Portcullis-Assertion (SPEC §3.4): a short-lived ES256 JWT stating who the caller is, so the
 * upstream can verify identity cryptographically instead of trusting headers on the wire.
 * Public keys are served at `<prefix>/.well-known/jwks.json`; `kid` is the RFC 7638 thumbprint.
 */
import { CompactSign, calculateJwkThumbprint, importJWK, type CryptoKey as JoseKey, type CompactJWSHeaderParameters, type JWK } from "jose";
import type { Subject } from "../auth/subject";

export const ASSERTION_LIFETIME_SECONDS = 60;

interface SigningKey {
  key: JoseKey | Uint8Array;
  kid: string;
  publicJwk: JWK;
  header: CompactJWSHeaderParameters;
}

const keys = new Map<string, Promise<SigningKey>>();

function publicPart(jwk: JsonWebKey): JWK {
  return { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
}

export function signingKey(privateJwk: JsonWebKey): Promise<SigningKey> {
  const cacheKey = privateJwk.d!;
  let entry = keys.get(cacheKey);
  if (!entry) {
    entry = (async () => {
      const publicJwk = publicPart(privateJwk);
      const kid = await calculateJwkThumbprint(publicJwk, "sha256");
      const key = await importJWK({ ...(privateJwk as JWK), alg: "ES256" }, "ES256");
      const header = Object.freeze({ alg: "ES256", typ: "JWT", kid });
      return { key, kid, header, publicJwk: { ...publicJwk, kid, alg: "ES256", use: "sig" } };
    })();
    entry.catch(() => keys.delete(cacheKey));
    keys.set(cacheKey, entry);
  }
  return entry;
}

export interface AssertionOptions {
  issuer: string;
  audience: string;
  now?: number;
}

const encoder = new TextEncoder();

/**
 * The claims are serialized here and signed with jose's CompactSign: the same JWS that SignJWT
 * would produce, without re-validating on every request claims this function itself builds.
 */
export async function signAssertion(privateJwk: JsonWebKey, subject: Subject, tokenId: string, options: AssertionOptions): Promise<string> {
  const { key, header } = await signingKey(privateJwk);
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const claims = {
    subject_type: subject.type,
    name: subject.name,
    org: subject.orgId,
    token_id: tokenId,
    permissions: subject.permissions,
    groups: subject.groups,
    sites: subject.sites,
    iss: options.issuer,
    aud: options.audience,
    sub: subject.id,
    iat,
    nbf: iat,
    exp: iat + ASSERTION_LIFETIME_SECONDS,
    jti: crypto.randomUUID(),
  };
  return new CompactSign(encoder.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

export async function jwks(privateJwk: JsonWebKey | null): Promise<{ keys: JWK[] }> {
  if (!privateJwk) return { keys: [] };
  const { publicJwk } = await signingKey(privateJwk);
  return { keys: [publicJwk] };
}
