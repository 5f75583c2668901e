/**
 * Token rules of the spec (SPEC §1), pure: what "active" means, how many tokens may be active at
 * once, the inactivity windows and the deadline they set. db/token-rules.ts states the same
 * rules as SQL predicates; nobody else restates them.
 */
export const USER_TOKEN_INACTIVITY_DAYS = 30;
export const SERVICE_TOKEN_INACTIVITY_DAYS = [31, 45, 60, 180] as const;
export const DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS = 45;
export const USER_TOKEN_LIMIT = 10;
export const SERVICE_TOKEN_LIMIT = 20;
export const DAY_MS = 86_400_000;

/** The stored states of a token row; "expired" is also what an active row past its deadline is. */
export const TOKEN_STATUSES = ["active", "revoked", "expired", "deleted"] as const;
export type StoredTokenStatus = (typeof TOKEN_STATUSES)[number];

/**
 * A token works while its row is active and its inactivity deadline is still ahead: a row past
 * its deadline is expired even before the sweep marks it (SPEC §1: "expires after N days
 * without use", enforced on the next request).
 */
export function isActive(token: { status: StoredTokenStatus; expiresAt: number }, now: number): boolean {
  return token.status === "active" && token.expiresAt > now;
}

/** The status a caller sees: an active row idle past its deadline is already expired. */
export function effectiveStatus(token: { status: StoredTokenStatus; expiresAt: number }, now: number): StoredTokenStatus {
  return token.status === "active" && !isActive(token, now) ? "expired" : token.status;
}

/** The inactivity deadline: `inactivityDays` after the last activity (creation, use or regeneration). */
export function inactivityDeadline(lastActiveAt: number, inactivityDays: number): number {
  return lastActiveAt + inactivityDays * DAY_MS;
}
