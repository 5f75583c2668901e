/**
 * The reads and writes of authentication: one statement resolves a token digest to its token,
 * subject, membership status, permissions, groups and sites (SPEC §3.2), and one coalesced
 * statement records last use (SPEC §3.5). Raw SQL on purpose: this is the per-request path.
 *
 * The resolve is a single-table read through the unique digest index (`api_tokens_digest_uq`):
 * the subject's name, status, permissions, groups and sites are kept on the token row by the
 * triggers of migration 0004, recomputed in the same transaction as any change to them. So it
 * costs what any correct-by-default revocation check must cost, one indexed row, and is as
 * fresh as the joins it replaces.
 *
 * A rolled token has two secrets (SPEC §9): the statement finds the row by either digest, the
 * current one through `api_tokens_digest_uq` or the previous one through
 * `api_tokens_previous_digest_uq` (a MULTI-INDEX OR: still one row, one read), and says which
 * matched, so the caller can hold the previous secret to its deadline.
 */
import { DAY_MS } from "../domain/tokens";
import { FIRST_USE_EVENT_SQL } from "./activity";
import { newId } from "./ids";
import type { UserRow } from "./schema";
import { groupsOf, permissionsOf, sitesOf } from "./subject-copy";
import { sortedList, type ResolvedToken, type StoredSubjectLists, type SubjectLists } from "./token-row";

export const LAST_USE_WRITE_INTERVAL_MS = 60_000;

/** The proxy's view of a token row; declared with the row's other views in token-row.ts. */
export type { ResolvedToken };

export const RESOLVE_TOKEN_SQL = `
SELECT id AS token_id, org_id, kind, status, name AS token_name, inactivity_days, expires_at,
  expired_at, last_used_at, COALESCE(user_id, service_user_id) AS subject_id, subject_name,
  subject_status AS user_status, subject_permissions AS permissions, subject_groups AS groups,
  subject_sites AS sites, allowed_cidrs,
  CASE WHEN digest = ?1 THEN NULL ELSE coalesce(previous_expires_at, 0) END AS previous_expires_at
FROM api_tokens WHERE digest = ?1 OR previous_digest = ?1`;

/** A row of RESOLVE_TOKEN_SQL: the ResolvedToken's fields under the statement's names, lists unparsed. */
interface ResolveRow extends StoredSubjectLists {
  token_id: ResolvedToken["tokenId"];
  org_id: ResolvedToken["orgId"];
  kind: ResolvedToken["kind"];
  status: ResolvedToken["status"];
  token_name: ResolvedToken["tokenName"];
  inactivity_days: ResolvedToken["inactivityDays"];
  expires_at: ResolvedToken["expiresAt"];
  expired_at: ResolvedToken["expiredAt"];
  last_used_at: ResolvedToken["lastUsedAt"];
  subject_id: ResolvedToken["subjectId"];
  subject_name: ResolvedToken["subjectName"];
  user_status: ResolvedToken["userStatus"];
  allowed_cidrs: ResolvedToken["allowedCidrs"];
  previous_expires_at: ResolvedToken["previousExpiresAt"];
}

export async function resolveTokenByDigest(db: D1Database, digest: string): Promise<ResolvedToken | null> {
  const row = await db.prepare(RESOLVE_TOKEN_SQL).bind(digest).first<ResolveRow>();
  if (!row) return null;
  return {
    tokenId: row.token_id,
    orgId: row.org_id,
    kind: row.kind,
    status: row.status,
    tokenName: row.token_name,
    inactivityDays: row.inactivity_days,
    expiresAt: row.expires_at,
    expiredAt: row.expired_at,
    lastUsedAt: row.last_used_at,
    subjectId: row.subject_id,
    subjectName: row.subject_name,
    userStatus: row.user_status,
    permissions: sortedList(row.permissions),
    groups: sortedList(row.groups),
    sites: sortedList(row.sites),
    previousExpiresAt: row.previous_expires_at,
    allowedCidrs: row.allowed_cidrs,
  };
}

type SessionUserFields = Pick<UserRow, "id" | "orgId" | "name" | "status">;

/** The member a session names: their membership row's identity and status, with live lists. */
export type SessionUserRow = SessionUserFields & SubjectLists;

const SESSION_USER_SQL = `
SELECT u.id, u.org_id AS orgId, u.name, u.status,
  ${permissionsOf("u.id")} AS permissions, ${groupsOf("u.id")} AS groups, ${sitesOf("u.id")} AS sites
FROM users u WHERE u.id = ?1 AND u.org_id = ?2`;

/** The member a session JWT names, with live permissions, groups and sites. */
export async function loadSessionUser(db: D1Database, orgId: string, userId: string): Promise<SessionUserRow | null> {
  const row = await db
    .prepare(SESSION_USER_SQL)
    .bind(userId, orgId)
    .first<SessionUserFields & StoredSubjectLists>();
  return row && { ...row, permissions: sortedList(row.permissions), groups: sortedList(row.groups), sites: sortedList(row.sites) };
}

const TOUCH_SQL = `
UPDATE api_tokens
SET last_used_at = ?1, last_active_at = ?1, expires_at = ?1 + inactivity_days * ${DAY_MS}
WHERE id = ?2 AND status = 'active' AND (last_used_at IS NULL OR last_used_at <= ?1 - ${LAST_USE_WRITE_INTERVAL_MS})`;

/**
 * Record a use at `now`. The WHERE clause makes a late or duplicate write a no-op, so
 * concurrent isolates cannot move the clock backwards or write more than once a minute.
 */
export async function recordTokenUse(db: D1Database, token: ResolvedToken, now: number): Promise<void> {
  const touch = db.prepare(TOUCH_SQL).bind(now, token.tokenId);
  if (token.lastUsedAt === null) {
    await db.batch([db.prepare(FIRST_USE_EVENT_SQL).bind(newId("evt", now), now, token.tokenId), touch]);
  } else {
    await touch.run();
  }
}

/**
 * Move a token's digest from the previous pepper's to the current one's (SPEC §11). Only while
 * the row still holds `from`: a concurrent re-digest or a regeneration wins. True if changed.
 */
export async function redigestToken(db: D1Database, tokenId: string, from: string, to: string): Promise<boolean> {
  // Either secret of a rolled token (SPEC §9) may be the one found under the previous pepper.
  const result = await db
    .prepare(
      `UPDATE api_tokens SET
         digest = CASE WHEN digest = ?3 THEN ?1 ELSE digest END,
         previous_digest = CASE WHEN previous_digest = ?3 THEN ?1 ELSE previous_digest END
       WHERE id = ?2 AND (digest = ?3 OR previous_digest = ?3)`,
    )
    .bind(to, tokenId, from)
    .run();
  return result.meta.changes > 0;
}
