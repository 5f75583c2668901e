/**
 * X-Portcullis-Assertion (SPEC §3 step 4, §3.1): a short-lived ES256 JWT stating who the caller
 * is, so the upstream can verify identity cryptographically instead of trusting headers on the
 * wire. Public keys are served at `<prefix>/.well-known/jwks.json`; `kid` is the RFC 7638
 * thumbprint. `ASSERTION_MODE` decides how often it is signed:
 *
 * - `shared`: one assertion per token and subject state, reused for at most 30 s of its 60 s
 *   lifetime within this isolate. The subject is still read afresh for every request, and the
 *   reuse key is that subject, so any change of it is signed anew on the next request.
 * - `request`: a fresh assertion per request, bound to it with `htm`/`htu` (RFC 9449 §4.2).
 * - `off`: no assertion, only the identity headers.
 *
 * The identity header set of a shared assertion is built once with it and reused as a whole.
 */
import { CompactSign, calculateJwkThumbprint, importJWK, type CryptoKey as JoseKey, type CompactJWSHeaderParameters, type JWK } from "jose";
import type { Subject } from "../auth/subject";
import type { AssertionMode } from "../config";
import { promiseCache } from "../lib/promise-cache";
import { identityHeaderPairs, type HeaderList } from "./headers";

export const ASSERTION_LIFETIME_SECONDS = 60;
/** SPEC §3.1: a shared assertion is handed out for at most this long after its `iat`. */
export const SHARED_REUSE_SECONDS = 30;
/** Shared assertions kept per isolate; when full, the one stored longest ago goes first. */
export const MAX_SHARED_ASSERTIONS = 10_000;

interface SigningKey {
  key: JoseKey | Uint8Array;
  kid: string;
  publicJwk: JWK;
  header: CompactJWSHeaderParameters;
}

function publicPart(jwk: JsonWebKey): JWK {
  return { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
}

/** The key of `privateJwk`, imported once per isolate. */
export const signingKey = promiseCache(
  (privateJwk: JsonWebKey) => privateJwk.d!,
  async (privateJwk): Promise<SigningKey> => {
    const publicJwk = publicPart(privateJwk);
    const kid = await calculateJwkThumbprint(publicJwk, "sha256");
    const key = await importJWK({ ...(privateJwk as JWK), alg: "ES256" }, "ES256");
    const header = Object.freeze({ alg: "ES256", typ: "JWT", kid });
    return { key, kid, header, publicJwk: { ...publicJwk, kid, alg: "ES256", use: "sig" } };
  },
);

export interface AssertionOptions {
  issuer: string;
  audience: string;
  now?: number;
  /** `request` mode: the request the assertion is bound to (RFC 9449 §4.2 `htm`, `htu`). */
  bind?: { htm: string; htu: string };
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
    ...(options.bind ? { htm: options.bind.htm, htu: options.bind.htu } : {}),
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

export interface IdentityOptions {
  mode: AssertionMode;
  /** Required unless `mode` is `off`. */
  privateJwk: JsonWebKey | null;
  issuer: string;
  audience: string | null;
  /** The upstream request: its method and URL without query (`request` mode binds to them). */
  method: string;
  htu: string;
  now?: number;
}

interface SharedIdentity {
  /** Signing key, issuer and audience the assertion was made for. */
  scope: string;
  headers: HeaderList;
  /** Epoch ms after which the assertion is no longer handed out (iat + 30 s). */
  reuseUntil: number;
}

/** By subject state: token id, key and every claim of the assertion. */
const sharedByState = new Map<string, SharedIdentity>();
/**
 * By the resolved row itself: a row served from the auth cache (frozen, SPEC §5) is the same
 * object on every hit, so its identity is found without building the state key.
 */
let sharedByRow = new WeakMap<object, SharedIdentity>();

/**
 * The identity headers for one forwarded request (SPEC §3 step 4), including the assertion the
 * mode calls for. `row` is the resolved token the subject was read from. The returned list is
 * shared between requests: copy it, never change it.
 */
export async function identityHeaders(subject: Subject, tokenId: string, row: object, options: IdentityOptions): Promise<readonly [string, string][]> {
  if (options.mode === "off") return identityHeaderPairs(subject, tokenId);
  const privateJwk = options.privateJwk!;
  const audience = options.audience!;
  if (options.mode === "request") {
    const jwt = await signAssertion(privateJwk, subject, tokenId, {
      issuer: options.issuer,
      audience,
      now: options.now,
      bind: { htm: options.method, htu: options.htu },
    });
    const headers = identityHeaderPairs(subject, tokenId);
    headers.push(["x-portcullis-assertion", jwt]);
    return headers;
  }
  const now = options.now ?? Date.now();
  const scope = `${privateJwk.x}\n${privateJwk.y}\n${options.issuer}\n${audience}`;
  const known = sharedByRow.get(row);
  if (known !== undefined && known.scope === scope && now < known.reuseUntil) return known.headers;
  const state = `${scope}\n${JSON.stringify([tokenId, subject.type, subject.id, subject.name, subject.orgId, subject.permissions, subject.groups, subject.sites])}`;
  let entry = sharedByState.get(state);
  if (entry === undefined || now >= entry.reuseUntil) {
    const jwt = await signAssertion(privateJwk, subject, tokenId, { issuer: options.issuer, audience, now });
    const headers = identityHeaderPairs(subject, tokenId);
    headers.push(["x-portcullis-assertion", jwt]);
    Object.freeze(headers);
    entry = { scope, headers, reuseUntil: (Math.floor(now / 1000) + SHARED_REUSE_SECONDS) * 1000 };
    sharedByState.delete(state);
    if (sharedByState.size >= MAX_SHARED_ASSERTIONS) sharedByState.delete(sharedByState.keys().next().value!);
    sharedByState.set(state, entry);
  }
  // Only a cached row (frozen) is ever seen again; a fresh row per request would only add work.
  if (Object.isFrozen(row)) sharedByRow.set(row, entry);
  return entry.headers;
}

/** Number of shared assertions held, for tests and diagnostics. */
export function sharedAssertionCount(): number {
  return sharedByState.size;
}

/** Test hook: forget every shared assertion. */
export function clearSharedAssertions(): void {
  sharedByState.clear();
  sharedByRow = new WeakMap();
}
