/**
 * Verifies an API token (SPEC §2, §3.1–3.2): format and checksum first (no D1), then one
 * indexed read by digest, then status, membership and the inactivity deadline.
 */
import type { Config } from "../config";
import { guard } from "../db/client";
import { resolveTokenByDigest, type ResolvedToken } from "../db/auth";
import { parseToken } from "../token/format";
import { tokenDigest } from "../token/digest";
import { cachedLookup } from "./cache";
import { addressAllowed } from "./cidr";
import type { Subject } from "./subject";

export type TokenRejection = "malformed" | "unknown" | "revoked" | "expired" | "deleted" | "member_inactive" | "rotated";

export type TokenCheck =
  | { ok: true; token: ResolvedToken; subject: Subject }
  | { ok: false; reason: TokenRejection; description: string };

export async function verifyApiToken(db: D1Database, config: Config, credential: string, now = Date.now()): Promise<TokenCheck> {
  const parsed = parseToken(credential);
  if (!parsed.ok) return { ok: false, reason: "malformed", description: "token is malformed" };
  const digest = await tokenDigest(parsed.token, config.tokenPepper);
  const token = await cachedLookup(digest, config.authCacheTtlMs, (d) =>
    guard(() => resolveTokenByDigest(db, d), { timeoutMs: config.dbTimeoutMs, retry: true }),
  );
  // Defence in depth: the digest covers the prefix, but a row of the other kind is never ours.
  if (token && token.kind !== parsed.kind) return checkResolved(null, now);
  return checkResolved(token, now);
}

export function checkResolved(token: ResolvedToken | null, now: number): TokenCheck {
  if (!token) return { ok: false, reason: "unknown", description: "token is not recognized" };
  if (token.kind === "user" && token.userStatus !== "active") {
    return { ok: false, reason: "member_inactive", description: "token expired because its user is no longer an active member" };
  }
  switch (token.status) {
    case "revoked":
      return { ok: false, reason: "revoked", description: "token revoked" };
    case "deleted":
      return { ok: false, reason: "deleted", description: "token deleted" };
    case "expired":
      if (token.expiredAt !== null && token.expiredAt < token.expiresAt) {
        return { ok: false, reason: "expired", description: "token expired because its user was deactivated or removed" };
      }
      return { ok: false, reason: "expired", description: `token expired after ${token.inactivityDays} days of inactivity` };
  }
  if (now >= token.expiresAt) {
    return { ok: false, reason: "expired", description: `token expired after ${token.inactivityDays} days of inactivity` };
  }
  // Judged against the clock on every request, cache hit or not, so the previous secret of a
  // rolled token never outlives its grace (SPEC §9).
  if (token.previousExpiresAt !== null && now >= token.previousExpiresAt) {
    return { ok: false, reason: "rotated", description: "token rotated; the previous secret expired" };
  }
  return {
    ok: true,
    token,
    subject: {
      type: token.kind,
      id: token.subjectId,
      name: token.subjectName,
      orgId: token.orgId,
      permissions: token.permissions,
      groups: token.groups,
      sites: token.sites,
      credential: "api_token",
      tokenId: token.tokenId,
      authTime: null,
    },
  };
}

/**
 * The token's address condition (SPEC §9), decided from the row the resolve already read: no
 * extra D1 read, and checked on every request, cache hit or not.
 */
export function clientAddressAllowed(token: ResolvedToken, request: Request): boolean {
  return addressAllowed(token.allowedCidrs, request.headers.get("cf-connecting-ip"));
}
