/**
 * Which reported digests are live tokens (SPEC §10 secret scanning): active and inside their
 * idle window. Looked up by digest only, through `api_tokens_digest_uq`.
 */
import { sql } from "drizzle-orm";
import { statement, type Orm } from "./client";

export async function liveDigests(db: Orm, digests: string[], now: number): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const { results } = await statement(
    db,
    sql`SELECT digest FROM api_tokens
        WHERE digest IN (SELECT value FROM json_each(${JSON.stringify(digests)})) AND +status = 'active' AND +expires_at > ${now}`,
  ).all<{ digest: string }>();
  return new Set(results.map((r) => r.digest));
}
