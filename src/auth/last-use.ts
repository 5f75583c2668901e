/**
 * Last-use recording (SPEC §3.5): off the response path through ctx.waitUntil, at most one
 * write per token per 60 s. Two guards: the resolved row's own last_used_at (no write at all
 * when a recent one is already stored) and an in-isolate map that stops a burst of requests in
 * this isolate from issuing duplicate writes before the first one lands. A failed write clears
 * the isolate's mark, so the next use retries it.
 */
import { LAST_USE_WRITE_INTERVAL_MS, recordTokenUse } from "../db/auth";
import type { ResolvedToken } from "../db/token-row";
import { guard } from "../db/client";

const MAX_TRACKED = 50_000;
const pendingOrRecent = new Map<string, number>();

export function scheduleLastUse(
  ctx: Pick<ExecutionContext, "waitUntil">,
  db: D1Database,
  token: ResolvedToken,
  timeoutMs: number,
  now = Date.now(),
): boolean {
  if (token.lastUsedAt !== null && now - token.lastUsedAt < LAST_USE_WRITE_INTERVAL_MS) return false;
  const marked = pendingOrRecent.get(token.tokenId);
  if (marked !== undefined && now - marked < LAST_USE_WRITE_INTERVAL_MS) return false;
  if (pendingOrRecent.size >= MAX_TRACKED) pendingOrRecent.clear();
  pendingOrRecent.set(token.tokenId, now);
  ctx.waitUntil(
    guard(() => recordTokenUse(db, token, now), { timeoutMs }).catch((err: unknown) => {
      pendingOrRecent.delete(token.tokenId);
      console.error(`portcullis: last-use write failed for token ${token.tokenId}`, err instanceof Error ? err.message : "");
    }),
  );
  return true;
}

/** Test hook: forget which tokens were recently written. */
export function clearLastUseMarks(): void {
  pendingOrRecent.clear();
}
