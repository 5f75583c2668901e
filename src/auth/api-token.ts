/**
 * Verifies an API token (SPEC §2, §3.1–3.2): format and checksum first (no D1), then one
 * indexed read by digest, then status, membership and the inactivity deadline.
 */
import type { Config } from "../config";
import { guard } from "../db/client";
import { redigestToken, resolveTokenByDigest } from "../db/auth";
import type { ResolvedToken } from "../db/token-row";
import { parseToken } from "../token/format";
import { tokenDigest } from "../token/digest";
import { cachedLookup, invalidateCached } from "./cache";
import { addressAllowed, unrestricted } from "./cidr";
import { tokenSubject, type Subject } from "./subject";

export type TokenRejection = "malformed" | "unknown" | "revoked" | "expired" | "deleted" | "member_inactive" | "rotated";

export type TokenCheck =
  | { ok: true; token: ResolvedToken; subject: Subject; redigest?: Redigest }
  | { ok: false; reason: TokenRejection; description: string };

/** A token found under TOKEN_PEPPER_PREVIOUS: its stored digest, and the one under TOKEN_PEPPER. */
export interface Redigest {
  from: string;
  to: string;
}

export async function verifyApiToken(db: D1Database, config: Config, credential: string, now = Date.now()): Promise<TokenCheck> {
  const parsed = parseToken(credential);
  if (!parsed.ok) return { ok: false, reason: "malformed", description: "token is malformed" };
  const digest = await tokenDigest(parsed.token, config.tokenPepper);
  const token = await cachedLookup(digest, config.authCacheTtlMs, (d) =>
    guard(() => resolveTokenByDigest(db, d), { timeoutMs: config.dbTimeoutMs, retry: true }),
  );
  // Defence in depth: the digest covers the prefix, but a row of the other kind is never ours.
  if (token && token.kind !== parsed.kind) return checkResolved(null, now);
  if (token || !config.tokenPepperPrevious) return checkResolved(token, now);
  return verifyUnderPreviousPepper(db, config, parsed, digest, now);
}

/**
 * SPEC §11: during a pepper rotation a token not found under TOKEN_PEPPER is looked up under
 * TOKEN_PEPPER_PREVIOUS (only then: the common case costs nothing more). A usable token found
 * there carries the re-digest for the caller to schedule off the response path.
 */
async function verifyUnderPreviousPepper(
  db: D1Database,
  config: Config,
  parsed: { kind: ResolvedToken["kind"]; token: string },
  currentDigest: string,
  now: number,
): Promise<TokenCheck> {
  const previousDigest = await tokenDigest(parsed.token, config.tokenPepperPrevious);
  const token = await guard(() => resolveTokenByDigest(db, previousDigest), { timeoutMs: config.dbTimeoutMs, retry: true });
  if (token && token.kind !== parsed.kind) return checkResolved(null, now);
  const check = checkResolved(token, now);
  return check.ok ? { ...check, redigest: { from: previousDigest, to: currentDigest } } : check;
}

/**
 * Re-digest a token found under the previous pepper (SPEC §11), through ctx.waitUntil: never a
 * write on the response path. The UPDATE is conditional on the stored digest, so concurrent
 * uses write once and a regenerated secret is never overwritten. A failure is retried by the
 * next use.
 */
export function scheduleRedigest(ctx: Pick<ExecutionContext, "waitUntil">, db: D1Database, check: TokenCheck, timeoutMs: number): void {
  if (!check.ok || !check.redigest) return;
  const { tokenId } = check.token;
  const { from, to } = check.redigest;
  ctx.waitUntil(
    guard(() => redigestToken(db, tokenId, from, to), { timeoutMs })
      .then((changed) => {
        // Negative cache entries for the new digest must not outlive the change.
        if (changed) invalidateCached({ tokenIds: [tokenId] });
      })
      .catch((err: unknown) => {
        console.error(`portcullis: re-digest failed for token ${tokenId}`, err instanceof Error ? err.message : "");
      }),
  );
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
  return { ok: true, token, subject: tokenSubject(token) };
}

/**
 * The token's address condition (SPEC §9), decided from the row the resolve already read: no
 * extra D1 read, and checked on every request, cache hit or not.
 */
export function clientAddressAllowed(token: ResolvedToken, request: Request): boolean {
  // Most tokens have no condition: then the request's address is not even read.
  return unrestricted(token.allowedCidrs) || addressAllowed(token.allowedCidrs, request.headers.get("cf-connecting-ip"));
}
