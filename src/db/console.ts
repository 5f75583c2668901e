/**
 * Console sessions and sign-ins in flight (SPEC §8). Keys are SHA-256 digests of the random
 * values the browser holds, so a read of D1 never yields a usable cookie. Every state change
 * puts its condition in the WHERE clause (AGENTS.md: no read-then-write transitions).
 */
import { tokenDigest } from "../token/digest";

const sha256Hex = (value: string) => tokenDigest(value, undefined);

/** A session ends 12 h after sign-in, and after 30 min without a request (SPEC §8). */
export const CONSOLE_SESSION_MAX_MS = 12 * 60 * 60 * 1000;
export const CONSOLE_SESSION_IDLE_MS = 30 * 60 * 1000;
/** A sign-in must come back from the IdP within 10 minutes. */
export const CONSOLE_LOGIN_MAX_MS = 10 * 60 * 1000;
/** `last_seen_at` is written at most once a minute per session. */
const TOUCH_INTERVAL_MS = 60 * 1000;

export interface ConsoleSession {
  id: string;
  email: string;
  orgId: string | null;
  userId: string | null;
  authTime: number;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  maxAge: number | null;
}

interface SessionRow {
  id: string;
  email: string;
  org_id: string | null;
  user_id: string | null;
  auth_time: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

function fromRow(row: SessionRow): ConsoleSession {
  return {
    id: row.id,
    email: row.email,
    orgId: row.org_id,
    userId: row.user_id,
    authTime: row.auth_time,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

export async function createConsoleSession(
  db: D1Database,
  input: { rawId: string; email: string; orgId: string | null; userId: string | null; authTime: number; now: number },
): Promise<void> {
  const id = await sha256Hex(input.rawId);
  await db.batch([
    // Expired sessions and sign-ins are removed as new ones arrive; nothing grows without bound.
    db.prepare("DELETE FROM console_sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2").bind(input.now, input.now - CONSOLE_SESSION_IDLE_MS),
    db.prepare("DELETE FROM console_logins WHERE expires_at <= ?1").bind(input.now),
    db
      .prepare(
        "INSERT INTO console_sessions (id, email, org_id, user_id, auth_time, created_at, last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
      )
      .bind(id, input.email, input.orgId, input.userId, input.authTime, input.now, input.now + CONSOLE_SESSION_MAX_MS),
  ]);
}

/** The live session for a cookie value, or null when unknown, past 12 h or idle past 30 min. */
export async function findConsoleSession(db: D1Database, rawId: string, now: number): Promise<ConsoleSession | null> {
  const id = await sha256Hex(rawId);
  const row = await db
    .prepare("SELECT * FROM console_sessions WHERE id = ?1 AND expires_at > ?2 AND last_seen_at > ?3")
    .bind(id, now, now - CONSOLE_SESSION_IDLE_MS)
    .first<SessionRow>();
  if (!row) return null;
  if (row.last_seen_at <= now - TOUCH_INTERVAL_MS) {
    await db.prepare("UPDATE console_sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2").bind(id, now).run();
  }
  return fromRow(row);
}

/** Picks the organization of a session that has none yet (the org picker). */
export async function chooseConsoleOrg(db: D1Database, rawId: string, orgId: string, userId: string): Promise<boolean> {
  const id = await sha256Hex(rawId);
  const result = await db
    .prepare("UPDATE console_sessions SET org_id = ?2, user_id = ?3 WHERE id = ?1 AND org_id IS NULL")
    .bind(id, orgId, userId)
    .run();
  return result.meta.changes === 1;
}

export async function endConsoleSession(db: D1Database, rawId: string): Promise<void> {
  await db.prepare("DELETE FROM console_sessions WHERE id = ?1").bind(await sha256Hex(rawId)).run();
}

export async function savePendingLogin(db: D1Database, rawId: string, login: PendingLogin, now: number): Promise<void> {
  await db
    .prepare(
      "INSERT INTO console_logins (id, state, nonce, code_verifier, return_to, max_age, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(await sha256Hex(rawId), login.state, login.nonce, login.codeVerifier, login.returnTo, login.maxAge, now, now + CONSOLE_LOGIN_MAX_MS)
    .run();
}

/** Takes (reads and deletes) a sign-in in flight: each one can complete at most once. */
export async function takePendingLogin(db: D1Database, rawId: string, now: number): Promise<PendingLogin | null> {
  const row = await db
    .prepare("DELETE FROM console_logins WHERE id = ?1 RETURNING state, nonce, code_verifier, return_to, max_age, expires_at")
    .bind(await sha256Hex(rawId))
    .first<{ state: string; nonce: string; code_verifier: string; return_to: string; max_age: number | null; expires_at: number }>();
  if (!row || row.expires_at <= now) return null;
  return { state: row.state, nonce: row.nonce, codeVerifier: row.code_verifier, returnTo: row.return_to, maxAge: row.max_age };
}

/** Active memberships for a verified email, one per organization, with the org's name. */
export async function membershipsByEmail(
  db: D1Database,
  email: string,
): Promise<{ orgId: string; orgName: string; userId: string }[]> {
  const rows = await db
    .prepare(
      "SELECT u.org_id, o.name AS org_name, u.id FROM users u JOIN organizations o ON o.id = u.org_id WHERE lower(u.email) = lower(?1) AND u.status = 'active' ORDER BY o.name, o.id",
    )
    .bind(email)
    .all<{ org_id: string; org_name: string; id: string }>();
  return rows.results.map((r) => ({ orgId: r.org_id, orgName: r.org_name, userId: r.id }));
}

/** The organization's display name, for the console's header. */
export async function organizationName(db: D1Database, orgId: string): Promise<{ name: string } | null> {
  return db.prepare("SELECT name FROM organizations WHERE id = ?1").bind(orgId).first<{ name: string }>();
}
