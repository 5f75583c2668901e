/**
 * Optional in-isolate cache of resolved tokens (SPEC §5, AUTH_CACHE_TTL_MS, default 0 = off).
 *
 * Trade-off, stated plainly: with a TTL of T ms, a revoke, deactivation or permission change
 * made in *another* isolate may go unseen here for up to T ms. Changes made through this
 * isolate invalidate at once. Expiry by inactivity is still checked against the clock on
 * every request, because the cached row carries its deadline.
 *
 * - Bounded: at most MAX_ENTRIES, oldest evicted first.
 * - Negative entries (unknown digests) live for a fifth of the TTL, so a token created in
 *   another isolate is usable here quickly.
 * - Single flight: concurrent misses for one digest share one D1 read.
 */
import type { ResolvedToken } from "../db/auth";

const MAX_ENTRIES = 10_000;

interface Entry {
  value: ResolvedToken | null;
  expiresAt: number;
}

const entries = new Map<string, Entry>();
const inflight = new Map<string, Promise<ResolvedToken | null>>();

export async function cachedLookup(
  digest: string,
  ttlMs: number,
  load: (digest: string) => Promise<ResolvedToken | null>,
  now: number = Date.now(),
): Promise<ResolvedToken | null> {
  if (ttlMs <= 0) return load(digest);
  const hit = entries.get(digest);
  if (hit && hit.expiresAt > now) return hit.value;
  if (hit) entries.delete(digest);
  const pending = inflight.get(digest);
  if (pending) return pending;
  const promise = load(digest)
    .then((value) => {
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(digest, { value, expiresAt: Date.now() + (value ? ttlMs : Math.max(1, Math.floor(ttlMs / 5))) });
      return value;
    })
    .finally(() => inflight.delete(digest));
  inflight.set(digest, promise);
  return promise;
}

/** Forget everything cached about these tokens or subjects (called by management writes). */
export function invalidateCached(match: { tokenIds?: string[]; subjectIds?: string[]; orgId?: string }): void {
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

/** Test hook: empty the cache. */
export function clearAuthCache(): void {
  entries.clear();
  inflight.clear();
}
