/**
 * Creating tokens under their limits (SPEC §1): "10 active per user per org" and "20 active
 * service tokens per org" hold under concurrent creation because the count and the insert are
 * one statement (INSERT … SELECT … WHERE count < limit); D1 runs each batch as one transaction,
 * so no two creations can both see the last free slot.
 */
import { eq, sql, type SQL } from "drizzle-orm";
import { inactivityDeadline, USER_TOKEN_INACTIVITY_DAYS } from "../domain/tokens";
import { generateToken, tokenHint } from "../token/format";
import { tokenDigest } from "../token/digest";
import { activityInsertWhen, type Actor } from "./activity";
import { atomically, type Orm } from "./client";
import { newId } from "./ids";
import { apiTokens } from "./schema";
import { storedCidrs, tokenColumnNames, type ApiTokenRow, type CreatedServiceToken, type CreatedToken, type TokenRecord } from "./token-row";
import { underServiceTokenLimit, underUserTokenLimit } from "./token-rules";

/** A new secret of `kind` with its digest (the only form D1 stores) and its display hint. */
export async function freshSecret(kind: ApiTokenRow["kind"], pepper: string | undefined) {
  const secret = generateToken(kind);
  return { secret, digest: await tokenDigest(secret, pepper), hint: tokenHint(secret) };
}

/** A token row as creation writes it: active, never used, its idle clock started now (SPEC §1). */
function freshRow(
  row: Pick<TokenRecord, "id" | "orgId" | "kind" | "userId" | "serviceUserId" | "name" | "hint" | "inactivityDays" | "expiresAt">,
  now: number,
): TokenRecord {
  return {
    ...row,
    status: "active",
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    lastActiveAt: now,
    revokedAt: null,
    expiredAt: null,
    deletedAt: null,
  };
}

/**
 * INSERT … SELECT of the row `token` describes plus its stored-only columns, only WHERE
 * `condition` holds, so the limit is checked by the statement that writes. The created token
 * returned to the caller is the same `token`, not read back.
 */
function insertTokenWhere(token: TokenRecord, stored: Pick<ApiTokenRow, "digest" | "allowedCidrs">, condition: SQL): SQL {
  const row = { ...token, ...stored };
  const fields = Object.keys(row) as (keyof typeof row)[];
  return sql`INSERT INTO api_tokens (${tokenColumnNames(fields)})
    SELECT ${sql.join(
      fields.map((field) => sql`${row[field]}`),
      sql`, `,
    )}
    WHERE ${condition}`;
}

/** Returns null when the user already holds USER_TOKEN_LIMIT active tokens in this org. */
export async function createUserToken(
  db: Orm,
  input: { orgId: string; userId: string; userName: string; name: string; pepper: string | undefined; now?: number },
): Promise<CreatedToken | null> {
  const now = input.now ?? Date.now();
  const { secret, digest, hint } = await freshSecret("user", input.pepper);
  const token = freshRow(
    {
      id: newId("tok", now),
      orgId: input.orgId,
      kind: "user",
      userId: input.userId,
      serviceUserId: null,
      name: input.name,
      hint,
      inactivityDays: USER_TOKEN_INACTIVITY_DAYS,
      expiresAt: inactivityDeadline(now, USER_TOKEN_INACTIVITY_DAYS),
    },
    now,
  );
  const actor: Actor = { id: input.userId, type: "user", name: input.userName };
  const [inserted] = await atomically(db, [
    insertTokenWhere(
      token,
      { digest, allowedCidrs: null },
      sql`${underUserTokenLimit(input.userId, now)}
        AND EXISTS (SELECT 1 FROM users WHERE id = ${input.userId} AND org_id = ${input.orgId} AND status = 'active')`,
    ),
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM api_tokens WHERE id = ${token.id})`, {
      orgId: input.orgId,
      type: "token.created",
      actor,
      target: { type: "api_token", id: token.id, name: input.name },
      details: { kind: "user", hint },
      at: now,
    }),
  ]);
  if (changes(inserted) === 0) return null;
  return { ...token, secret };
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
): Promise<CreatedServiceToken | null> {
  const now = input.now ?? Date.now();
  const serviceUserId = newId("svc", now);
  const { secret, digest, hint } = await freshSecret("service_user", input.pepper);
  const token = freshRow(
    {
      id: newId("tok", now),
      orgId: input.orgId,
      kind: "service_user",
      userId: null,
      serviceUserId,
      name: input.name,
      hint,
      inactivityDays: input.inactivityDays,
      expiresAt: inactivityDeadline(now, input.inactivityDays),
    },
    now,
  );
  const allowedCidrs = input.allowedCidrs ?? [];
  const serviceUserExists = sql`EXISTS (SELECT 1 FROM service_users WHERE id = ${serviceUserId})`;
  const [serviceUserInserted] = await atomically(db, [
    sql`INSERT INTO service_users (id, org_id, name, created_at)
      SELECT ${serviceUserId}, ${input.orgId}, ${input.name}, ${now} WHERE ${underServiceTokenLimit(input.orgId, now)}`,
    insertTokenWhere(token, { digest, allowedCidrs: storedCidrs(allowedCidrs) }, serviceUserExists),
    ...input.permissionSetIds.map(
      (setId) => sql`INSERT INTO service_user_permission_sets (service_user_id, permission_set_id)
        SELECT ${serviceUserId}, ${setId}
        WHERE ${serviceUserExists}
          AND EXISTS (SELECT 1 FROM permission_sets WHERE id = ${setId} AND org_id = ${input.orgId})`,
    ),
    activityInsertWhen(sql`EXISTS (SELECT 1 FROM api_tokens WHERE id = ${token.id})`, {
      orgId: input.orgId,
      type: "token.created",
      actor: input.actor,
      target: { type: "api_token", id: token.id, name: input.name },
      details: { kind: "service_user", hint, service_user_id: serviceUserId, inactivity_days: input.inactivityDays },
      at: now,
    }),
  ]);
  // The service user insert carries the limit condition; everything else follows it.
  if (changes(serviceUserInserted) === 0) return null;
  return {
    ...token,
    serviceUserId,
    serviceUserName: input.name,
    permissionSetIds: [...input.permissionSetIds].sort(),
    allowedCidrs,
    previousExpiresAt: null,
    secret,
  };
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
