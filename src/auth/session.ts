/**
 * Session JWTs from the organization's identity provider (SPEC §4): verified with jose against
 * SESSION_JWKS_URL (RS256/ES256) or SESSION_SECRET (HS256), with issuer and audience checked.
 * Claims: `sub` = user id, `org` = org id, `auth_time` = when the user last authenticated.
 * The named member must exist in that org and be active; permissions are read live.
 * An `iat` or `auth_time` more than CLOCK_SKEW_SECONDS ahead of the clock is refused, and an
 * `auth_time` in the future never counts as a fresh sign-in (SPEC §11).
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import type { Config } from "../config";
import { loadSessionUser, type SessionUserRow } from "../db/auth";
import { guard } from "../db/client";
import type { Subject } from "../domain/subject";

export type SessionCheck = { ok: true; subject: Subject } | { ok: false; description: string };

/** How far ahead of our clock an IdP's clock may run. */
export const CLOCK_SKEW_SECONDS = 60;

/**
 * Whether a session signed in within the last `windowSeconds` (SPEC §4, §11): an `auth_time`
 * in the future is never fresh, whatever the skew allowed when the JWT was verified.
 */
export function signedInWithin(authTime: number | null, windowSeconds: number, nowMs = Date.now()): boolean {
  if (authTime === null) return false;
  const age = Math.floor(nowMs / 1000) - authTime;
  return age >= 0 && age <= windowSeconds;
}

const remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const encoder = new TextEncoder();

function keyFor(config: Config) {
  const { jwksUrl, secret } = config.session;
  if (jwksUrl) {
    let set = remoteSets.get(jwksUrl);
    if (!set) {
      set = createRemoteJWKSet(new URL(jwksUrl));
      remoteSets.set(jwksUrl, set);
    }
    return { key: set, algorithms: ["RS256", "ES256"] };
  }
  if (secret) return { key: encoder.encode(secret), algorithms: ["HS256"] };
  return null;
}

export async function verifySession(db: D1Database, config: Config, jwt: string): Promise<SessionCheck> {
  const verifier = keyFor(config);
  if (!verifier) return { ok: false, description: "sessions are not configured" };
  let payload: JWTPayload;
  try {
    const options = {
      algorithms: verifier.algorithms,
      ...(config.session.issuer ? { issuer: config.session.issuer } : {}),
      ...(config.session.audience ? { audience: config.session.audience } : {}),
      requiredClaims: ["sub", "exp"],
    };
    const result =
      verifier.key instanceof Uint8Array
        ? await jwtVerify(jwt, verifier.key, options)
        : await jwtVerify(jwt, verifier.key, options);
    payload = result.payload;
  } catch {
    return { ok: false, description: "session is invalid or expired" };
  }
  const org = payload["org"];
  const authTime = payload["auth_time"];
  if (typeof payload.sub !== "string" || typeof org !== "string" || typeof authTime !== "number" || !Number.isFinite(authTime)) {
    return { ok: false, description: "session lacks sub, org or auth_time" };
  }
  const latest = Math.floor(Date.now() / 1000) + CLOCK_SKEW_SECONDS;
  if (authTime > latest || (payload.iat !== undefined && payload.iat > latest)) {
    return { ok: false, description: "session is issued or authenticated in the future" };
  }
  const user = await guard(() => loadSessionUser(db, org, payload.sub!), { timeoutMs: config.dbTimeoutMs, retry: true });
  if (!user || user.status !== "active") return { ok: false, description: "session user is not an active member of this organization" };
  return { ok: true, subject: sessionSubject(user, authTime) };
}

/**
 * The subject of a signed-in member (a session JWT, or the web console's session): the live
 * membership row read for this request, so permissions are the member's current ones (SPEC §1).
 */
export function sessionSubject(user: SessionUserRow, authTime: number | null): Subject {
  return {
    type: "user",
    id: user.id,
    name: user.name,
    orgId: user.orgId,
    permissions: user.permissions,
    groups: user.groups,
    sites: user.sites,
    credential: "session",
    tokenId: null,
    authTime,
  };
}
