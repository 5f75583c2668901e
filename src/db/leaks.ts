/**
 * Revoking tokens reported as leaked (POST /credentials/revoke), looked up by digest only.
 * One D1 batch: the `token.revoked_leaked` events are inserted from the rows that are still
 * valid (active and inside their idle window), then exactly those rows are revoked, so a report
 * sent twice, or two reports at once, revoke and record each token once.
 *
 * The previous secret of a rolled token is a live credential until its grace ends (SPEC §9),
 * so reporting it revokes the token, as reporting the current secret does: a leak of either
 * is a leak of the token, and revoking ends both secrets. A previous secret past its grace is
 * no longer valid and a report of it changes nothing.
 */
import { sql } from "drizzle-orm";
import { eventIdSql, SYSTEM_ACTOR, tokenActivityInsert } from "./activity";
import { atomically, type Orm } from "./client";
import { activeAt } from "./token-rules";

/** Revokes the valid tokens among `digests`; returns the ids it revoked (for cache invalidation). */
export async function revokeLeakedTokens(db: Orm, digests: string[], now: number): Promise<string[]> {
  if (digests.length === 0) return [];
  // D1 binds at most 100 parameters, so the digests travel as one JSON array. The unary `+`
  // keeps the lookup on the digest index rather than a range of api_tokens_expiry_idx.
  const reported = sql`(SELECT value FROM json_each(${JSON.stringify(digests)}))`;
  const valid = sql`(digest IN ${reported} OR (previous_digest IN ${reported} AND previous_expires_at > ${now}))
    AND ${activeAt(now, { noIndex: true })}`;
  const [, revoked] = await atomically(db, [
    tokenActivityInsert({
      id: eventIdSql(now),
      type: "token.revoked_leaked",
      actor: SYSTEM_ACTOR,
      at: now,
      details: sql`json_object('kind', kind, 'hint', hint)`,
      where: valid,
    }),
    sql`UPDATE api_tokens SET status = 'revoked', revoked_at = ${now}, updated_at = ${now},
        previous_expires_at = min(previous_expires_at, ${now})
      WHERE ${valid} RETURNING id`,
  ]);
  return ((revoked as D1Result<{ id: string }>).results ?? []).map((r) => r.id);
}
