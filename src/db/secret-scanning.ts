/**
 * Which reported digests are live tokens (SPEC §10 secret scanning): active and inside their
 * idle window, found by the current secret's digest or by the previous secret's digest while
 * its grace lasts (SPEC §9: a rolled token has two live secrets). Each reported digest is
 * looked up through `api_tokens_digest_uq` and `api_tokens_previous_digest_uq`.
 */
import { sql } from "drizzle-orm";
import { statement, type Orm } from "./client";
import { activeAt } from "./token-rules";

export async function liveDigests(db: Orm, digests: string[], now: number): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const { results } = await statement(
    db,
    sql`SELECT r.value AS digest FROM json_each(${JSON.stringify(digests)}) r
        WHERE EXISTS (SELECT 1 FROM api_tokens t
          WHERE (t.digest = r.value OR (t.previous_digest = r.value AND t.previous_expires_at > ${now}))
            AND ${activeAt(now, { alias: "t", noIndex: true })})`,
  ).all<{ digest: string }>();
  return new Set(results.map((r) => r.digest));
}
