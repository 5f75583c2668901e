/**
 * Direct D1 edits that move a token through time or state without waiting: what a use, the
 * sweep or a revoke would have written, so a test can start from there.
 */
import { env } from "cloudflare:workers";
import { orm } from "../../src/db/client";
import { rollServiceToken } from "../../src/db/token-lifecycle";
import { DAY_MS } from "../../src/domain/tokens";

/** Restart a token's inactivity clock at `lastActiveAt` (as a recorded use would). */
export async function setLastActive(tokenId: string, lastActiveAt: number, inactivityDays: number): Promise<void> {
  await env.DB.prepare("UPDATE api_tokens SET last_active_at = ?1, expires_at = ?2 WHERE id = ?3")
    .bind(lastActiveAt, lastActiveAt + inactivityDays * DAY_MS, tokenId)
    .run();
}

/** Put a token in `status` now, with the matching `*_at` column, as a revoke or the sweep would. */
export async function setTokenStatus(tokenId: string, status: "active" | "revoked" | "expired" | "deleted"): Promise<void> {
  const now = Date.now();
  const column = { active: null, revoked: "revoked_at", expired: "expired_at", deleted: "deleted_at" }[status];
  await env.DB.prepare(`UPDATE api_tokens SET status = ?1, updated_at = ?2${column ? `, ${column} = ?2` : ""} WHERE id = ?3`)
    .bind(status, now, tokenId)
    .run();
}

/** Move a token's idle deadline to `expiresAt`, leaving its status alone (the sweep has not run). */
export async function setDeadline(tokenId: string, expiresAt: number): Promise<void> {
  await env.DB.prepare("UPDATE api_tokens SET expires_at = ?1 WHERE id = ?2").bind(expiresAt, tokenId).run();
}

/** Record a use of the token at `usedAt` (last use and idle clock), without moving its deadline. */
export async function setLastUsed(tokenId: string, usedAt: number): Promise<void> {
  await env.DB.prepare("UPDATE api_tokens SET last_used_at = ?1, last_active_at = ?1 WHERE id = ?2").bind(usedAt, tokenId).run();
}

/** A roll of a service token straight through the db layer (SPEC §9), by the operator, at `now`. */
export function rollAt(orgId: string, tokenId: string, graceMs: number, now = Date.now()) {
  return rollServiceToken(orm(env.DB), {
    orgId,
    tokenId,
    graceMs,
    actor: { id: null, type: "operator", name: "Test" },
    pepper: env.TOKEN_PEPPER,
    now,
  });
}
