/**
 * Creating tokens under their limits (SPEC §1): "10 active per user per org" and "20 active
 * service tokens per org" hold under concurrent creation because the count and the insert are
 * one statement (INSERT … SELECT … WHERE count < limit); D1 runs each batch as one transaction,
 * so no two creations can both see the last free slot.
 */
import { eq, sql } from "drizzle-orm";
import { inactivityDeadline, USER_TOKEN_INACTIVITY_DAYS } from "../domain/tokens";
import { generateToken, tokenHint } from "../token/format";
import { tokenDigest } from "../token/digest";
import { activityInsertWhen, type Actor } from "./activity";
import { atomically, type Orm } from "./client";
import { newId } from "./ids";
import { apiTokens } from "./schema";
import { underServiceTokenLimit, underUserTokenLimit } from "./token-rules";

export interface CreatedToken {
  id: string;
  secret: string;
  hint: string;
  createdAt: number;
  expiresAt: number;
}

/** A new secret of `kind` with its digest (the only form D1 stores) and its display hint. */
export async function freshSecret(kind: "user" | "service_user", pepper: string | undefined) {
  const secret = generateToken(kind);
  return { secret, digest: await tokenDigest(secret, pepper), hint: tokenHint(secret) };
}

/** Returns null when the user already holds USER_TOKEN_LIMIT active tokens in this org. */
export async function createUserToken(
  db: Orm,
  input: { orgId: string; userId: string; userName: string; name: string; pepper: string | undefined; now?: number },
): Promise<CreatedToken | null> {
  const now = input.now ?? Date.now();
  const id = newId("tok", now);
  const { secret, digest, hint } = await freshSecret("user", input.pepper);
  const expiresAt = inactivityDeadline(now, USER_TOKEN_INACTIVITY_DAYS);
  const actor: Actor = { id: input.userId, type: "user", name: input.userName };
  const [inserted] = await atomically(db, [
    sql`
      INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status,
        inactivity_days, created_at, updated_at, last_used_at, last_active_at, expires_at)
      SELECT ${id}, ${input.orgId}, 'user', ${input.userId}, NULL, ${input.name}, ${digest}, ${hint}, 'active',
        ${USER_TOKEN_INACTIVITY_DAYS}, ${now}, ${now}, NULL, ${now}, ${expiresAt}
      WHERE ${underUserTokenLimit(input.userId, now)}
        AND EXISTS (SELECT 1 FROM users WHERE id = ${input.userId} AND org_id = ${input.orgId} AND status = 'active')`,
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM api_tokens WHERE id = ${id})`, {
      orgId: input.orgId,
      type: "token.created",
      actor,
      target: { type: "api_token", id, name: input.name },
      details: { kind: "user", hint },
      at: now,
    }),
  ]);
  if (changes(inserted) === 0) return null;
  return { id, secret, hint, createdAt: now, expiresAt };
}

/**
 * Creates a service user and its token together. Returns null at the org's limit. The service
 * user row is inserted under the same count condition, so a refused creation leaves nothing.
 */
export async function createServiceToken(
  db: Orm,
  input: {
    orgId: string;
    name: string;
    inactivityDays: number;
    permissionSetIds: string[];
    /** Normalised (auth/cidr.ts); empty or absent for any address (SPEC §9). */
    allowedCidrs?: string[];
    actor: Actor;
    pepper: string | undefined;
    now?: number;
  },
): Promise<(CreatedToken & { serviceUserId: string }) | null> {
  const now = input.now ?? Date.now();
  const id = newId("tok", now);
  const serviceUserId = newId("svc", now);
  const { secret, digest, hint } = await freshSecret("service_user", input.pepper);
  const expiresAt = inactivityDeadline(now, input.inactivityDays);
  const allowedCidrs = input.allowedCidrs && input.allowedCidrs.length > 0 ? JSON.stringify(input.allowedCidrs) : null;
  const underLimit = underServiceTokenLimit(input.orgId, now);
  const [serviceUserInserted] = await atomically(db, [
    sql`INSERT INTO service_users (id, org_id, name, created_at)
      SELECT ${serviceUserId}, ${input.orgId}, ${input.name}, ${now} WHERE ${underLimit}`,
    sql`
      INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status,
        inactivity_days, created_at, updated_at, last_used_at, last_active_at, expires_at, allowed_cidrs)
      SELECT ${id}, ${input.orgId}, 'service_user', NULL, ${serviceUserId}, ${input.name}, ${digest}, ${hint}, 'active',
        ${input.inactivityDays}, ${now}, ${now}, NULL, ${now}, ${expiresAt}, ${allowedCidrs}
      WHERE EXISTS (SELECT 1 FROM service_users WHERE id = ${serviceUserId})`,
    ...input.permissionSetIds.map(
      (setId) => sql`INSERT INTO service_user_permission_sets (service_user_id, permission_set_id)
        SELECT ${serviceUserId}, ${setId}
        WHERE EXISTS (SELECT 1 FROM service_users WHERE id = ${serviceUserId})
          AND EXISTS (SELECT 1 FROM permission_sets WHERE id = ${setId} AND org_id = ${input.orgId})`,
    ),
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM api_tokens WHERE id = ${id})`, {
      orgId: input.orgId,
      type: "token.created",
      actor: input.actor,
      target: { type: "api_token", id, name: input.name },
      details: { kind: "service_user", hint, service_user_id: serviceUserId, inactivity_days: input.inactivityDays },
      at: now,
    }),
  ]);
  // The service user insert carries the limit condition; everything else follows it.
  if (changes(serviceUserInserted) === 0) return null;
  return { id, secret, hint, createdAt: now, expiresAt, serviceUserId };
}

/** Rows changed by a D1 run result. */
export function changes(result: unknown): number {
  return (result as { meta?: { changes?: number } })?.meta?.changes ?? 0;
}

/** When the token was created, or null when no row has that id (e.g. deleted meanwhile). */
export async function tokenCreatedAt(db: Orm, tokenId: string): Promise<number | null> {
  const [row] = await db.select({ createdAt: apiTokens.createdAt }).from(apiTokens).where(eq(apiTokens.id, tokenId)).limit(1);
  return row?.createdAt ?? null;
}
