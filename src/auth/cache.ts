/**
 * Optional in-isolate cache of resolved tokens (SPEC §5, AUTH_CACHE_TTL_MS, default 0 = off).
 *
 * Trade-off, stated plainly: with a TTL of T ms, a revoke, deactivation or permission change
 * made in *another* isolate may go unseen here for up to T ms after it was committed (an entry
 * is never served longer than T after the read that produced it began). Changes made through
 * this isolate invalidate at once. Expiry by inactivity is still checked against the clock on
 * every request, because the cached row carries its deadline; so is the grace deadline of a
 * rolled token's previous secret, and the token's allowed addresses (SPEC §9). A roll made in
 * another isolate is seen like a revoke: the secret it ends (an older previous secret, or the
 * replaced one when the grace is 0) may still be accepted here for up to T ms.
 *
 * - Bounded: at most MAX_ENTRIES; when full, the entry inserted longest ago goes first (with one
 *   TTL for all positive entries that is also the one expiring soonest).
 * - Negative entries (unknown digests) live for a fifth of the TTL, so a token created in
 *   another isolate is usable here quickly.
 * - Single flight: concurrent misses for one digest share one D1 read.
 * - Invalidation wins over reads in flight: a read that began before `invalidateCached` is
 *   returned to the requests already waiting for it but never stored, and requests arriving
 *   after the invalidation start a fresh read.
 */
import type { ResolvedToken } from "../db/token-row";

export const MAX_ENTRIES = 10_000;

interface Entry {
  value: ResolvedToken | null;
  expiresAt: number;
}

const entries = new Map<string, Entry>();
const inflight = new Map<string, Promise<ResolvedToken | null>>();
/** Bumped by every invalidation; a read started under an older generation is not stored. */
let generation = 0;

/** Negative entries: a fifth of the TTL, at least 1 ms. */
export function negativeTtl(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs / 5));
}

/** Cached rows are shared by concurrent requests: freeze them so no caller can alter another's. */
function frozen(value: ResolvedToken | null): ResolvedToken | null {
  if (value === null) return null;
  Object.freeze(value.permissions);
  Object.freeze(value.groups);
  Object.freeze(value.sites);
  return Object.freeze(value);
}

export async function cachedLookup(
  digest: string,
  ttlMs: number,
  load: (digest: string) => Promise<ResolvedToken | null>,
  now: number = Date.now(),
  /** How long a request waits for another request's read before doing its own. */
  waitMs = 1_000,
): Promise<ResolvedToken | null> {
  if (ttlMs <= 0) return load(digest);
  const hit = entries.get(digest);
  if (hit !== undefined) {
    if (hit.expiresAt > now) return hit.value;
    entries.delete(digest);
  }
  const pending = inflight.get(digest);
  if (pending !== undefined) return joinFlight(pending, () => load(digest), waitMs);
  const startedIn = generation;
  const promise = load(digest)
    .then((value) => {
      if (startedIn !== generation) return value;
      const stored = frozen(value);
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      // Counted from when the read began, so staleness never exceeds the TTL.
      entries.set(digest, { value: stored, expiresAt: now + (stored ? ttlMs : negativeTtl(ttlMs)) });
      return stored;
    })
    .finally(() => {
      if (inflight.get(digest) === promise) inflight.delete(digest);
    });
  // The owner awaits `promise` itself; this keeps a rejection nobody else awaits from being
  // reported as unhandled when the owning request was cancelled.
  promise.catch(() => {});
  inflight.set(digest, promise);
  return promise;
}

/**
 * Wait for another request's read, but never depend on it: Workers bind I/O to the request
 * that started it, so if that request is cancelled (its client went away), the shared read
 * fails with "Cannot perform I/O on behalf of a different request" or never settles. Then
 * this request does its own read (found under load by `npm run bench`: 500s at disconnects).
 */
async function joinFlight(
  pending: Promise<ResolvedToken | null>,
  ownRead: () => Promise<ResolvedToken | null>,
  waitMs: number,
): Promise<ResolvedToken | null> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const gaveUp = new Promise<"gave_up">((resolve) => {
    timer = setTimeout(() => resolve("gave_up"), waitMs);
  });
  try {
    const shared = await Promise.race([pending, gaveUp]);
    if (shared !== "gave_up") return shared;
  } catch {
    // fall through to our own read
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  return ownRead();
}

/** Forget everything cached about these tokens or subjects (called by management writes). */
export function invalidateCached(match: { tokenIds?: string[]; subjectIds?: string[]; orgId?: string }): void {
  generation++;
  // Reads in flight may have begun before the write being announced: later requests must not join them.
  inflight.clear();
  if (entries.size === 0) return;
  const tokens = new Set(match.tokenIds ?? []);
  const subjects = new Set(match.subjectIds ?? []);
  for (const [digest, entry] of entries) {
    const v = entry.value;
    if (v === null) {
      // A token created here must not keep hitting a stale negative entry.
      entries.delete(digest);
      continue;
    }
    if (tokens.has(v.tokenId) || subjects.has(v.subjectId) || (match.orgId !== undefined && v.orgId === match.orgId)) {
      entries.delete(digest);
    }
  }
}

/** Number of cached entries (positive and negative), for tests and diagnostics. */
export function cachedEntryCount(): number {
  return entries.size;
}

/** Test hook: empty the cache. */
export function clearAuthCache(): void {
  generation++;
  entries.clear();
  inflight.clear();
}
