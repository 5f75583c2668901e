/**
 * Everything that happens to a token after it is created (SPEC §1, §4): list, view, revoke,
 * edit, regenerate, delete.
 *
 * Every state transition is decided by SQL inside one D1 batch (one transaction): the activity
 * event is an INSERT … SELECT carrying the same WHERE clause as the UPDATE beside it, so the
 * event lands exactly when the change does, and concurrent revoke / regenerate / delete calls
 * are serialized by D1 instead of racing a read-then-write. The last statement of each batch
 * reads the row back as that transaction left it.
 */
import { sql, type SQL } from "drizzle-orm";
import { DAY_MS } from "../domain/tokens";
import { tokenActivityInsert, type ActivityType, type Actor } from "./activity";
import { atomically, selectRows, statement, type Orm } from "./client";
import { newId } from "./ids";
import {
  parsedCidrs,
  sortedList,
  storedCidrs,
  tokenColumns,
  tokenRecordColumns,
  type ApiTokenRow,
  type ServiceTokenEdit,
  type ServiceTokenRecord,
  type TokenRecord,
} from "./token-row";
import { activeAt, deadlineAfter, idleAt, underServiceTokenLimit } from "./token-rules";
import { changes, freshSecret } from "./tokens";

const TOKEN_COLUMNS = tokenRecordColumns("t");

const SERVICE_TOKEN_SELECT = sql`SELECT ${TOKEN_COLUMNS}, s.name AS serviceUserName,
  ${tokenColumns(["allowedCidrs", "previousExpiresAt"], "t")},
  (SELECT json_group_array(p.permission_set_id) FROM service_user_permission_sets p
   WHERE p.service_user_id = t.service_user_id) AS permissionSetIds
  FROM api_tokens t JOIN service_users s ON s.id = t.service_user_id`;

/** A service token row as SERVICE_TOKEN_SELECT returns it, before its JSON columns are parsed. */
type StoredServiceToken = Omit<ServiceTokenRecord, "permissionSetIds" | "allowedCidrs"> & {
  permissionSetIds: string | null;
  allowedCidrs: ApiTokenRow["allowedCidrs"];
};

function toServiceRecord(row: StoredServiceToken): ServiceTokenRecord {
  return { ...row, permissionSetIds: sortedList(row.permissionSetIds), allowedCidrs: parsedCidrs(row.allowedCidrs) };
}

/** Rows a SELECT in a batch returned. */
function rowsOf<T>(result: D1Result | undefined): T[] {
  return (result?.results ?? []) as T[];
}

/** The one token a call may touch: right id, right org, right kind (and, for user tokens, owner). */
interface TokenScope {
  orgId: string;
  tokenId: string;
  kind: ApiTokenRow["kind"];
  /** For user tokens: only the owner may act on them (SPEC §4). */
  ownerUserId?: string;
}

function scopeWhere(scope: TokenScope, alias = ""): SQL {
  const c = (column: string) => sql.raw(alias ? `${alias}.${column}` : column);
  const owner = scope.ownerUserId === undefined ? sql`` : sql` AND ${c("user_id")} = ${scope.ownerUserId}`;
  return sql`${c("id")} = ${scope.tokenId} AND ${c("org_id")} = ${scope.orgId} AND ${c("kind")} = ${scope.kind}${owner}`;
}

function readUserToken(scope: TokenScope): SQL {
  return sql`SELECT ${TOKEN_COLUMNS} FROM api_tokens t WHERE ${scopeWhere(scope, "t")} AND t.status <> 'deleted'`;
}

function readServiceToken(scope: TokenScope): SQL {
  return sql`${SERVICE_TOKEN_SELECT} WHERE ${scopeWhere(scope, "t")} AND t.status <> 'deleted'`;
}

function readScoped(scope: TokenScope): SQL {
  return scope.kind === "user" ? readUserToken(scope) : readServiceToken(scope);
}

function recordFrom(scope: TokenScope, result: D1Result | undefined): TokenRecord | ServiceTokenRecord | null {
  if (scope.kind === "user") return rowsOf<TokenRecord>(result)[0] ?? null;
  const row = rowsOf<StoredServiceToken>(result)[0];
  return row ? toServiceRecord(row) : null;
}

/**
 * An activity event built from the token row itself, inserted only when `condition` holds for
 * that row. Put it in the same batch as, and before, the UPDATE guarded by the same condition.
 */
function tokenEventWhen(
  scope: TokenScope,
  condition: SQL,
  event: { type: ActivityType; actor: Actor; at: number; details: SQL },
): SQL {
  return tokenActivityInsert({ ...event, id: sql`${newId("evt", event.at)}`, where: sql`${scopeWhere(scope)} AND (${condition})` });
}

// ---------------------------------------------------------------------------------------------
// Reads

export async function listUserTokens(
  db: Orm,
  input: { orgId: string; userId: string; afterId: string | null; take: number },
): Promise<TokenRecord[]> {
  const after = input.afterId === null ? sql`` : sql` AND t.id > ${input.afterId}`;
  return selectRows<TokenRecord>(
    db,
    sql`SELECT ${TOKEN_COLUMNS} FROM api_tokens t
      WHERE t.org_id = ${input.orgId} AND t.kind = 'user' AND t.user_id = ${input.userId} AND t.status <> 'deleted'${after}
      ORDER BY t.id LIMIT ${input.take}`,
  );
}

export async function listServiceTokens(
  db: Orm,
  input: { orgId: string; afterId: string | null; take: number },
): Promise<ServiceTokenRecord[]> {
  const after = input.afterId === null ? sql`` : sql` AND t.id > ${input.afterId}`;
  const rows = await selectRows<StoredServiceToken>(
    db,
    sql`${SERVICE_TOKEN_SELECT}
      WHERE t.org_id = ${input.orgId} AND t.kind = 'service_user' AND t.status <> 'deleted'${after}
      ORDER BY t.id LIMIT ${input.take}`,
  );
  return rows.map(toServiceRecord);
}

export async function getServiceToken(db: Orm, orgId: string, tokenId: string): Promise<ServiceTokenRecord | null> {
  const row = await statement(db, readServiceToken({ orgId, tokenId, kind: "service_user" })).first<StoredServiceToken>();
  return row ? toServiceRecord(row) : null;
}

/**
 * Whether `userId` is still an active member of `orgId`. A refused user-token creation reads it
 * to say why: the limit, or a membership that ended while the request was running (the INSERT
 * checks both conditions at once, so its changed-row count alone cannot tell them apart).
 */
export async function isActiveMember(db: Orm, orgId: string, userId: string): Promise<boolean> {
  const row = await statement(
    db,
    sql`SELECT 1 AS active FROM users WHERE id = ${userId} AND org_id = ${orgId} AND status = 'active'`,
  ).first<{ active: number }>();
  return row !== null;
}

/** D1 binds at most 100 parameters per statement; stay well under it. */
const IDS_PER_QUERY = 50;

/** The ids among `ids` that are not permission sets of `orgId` (another org's set counts as unknown). */
export async function unknownPermissionSetIds(db: Orm, orgId: string, ids: string[]): Promise<string[]> {
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const chunk = ids.slice(i, i + IDS_PER_QUERY);
    const rows = await selectRows<{ id: string }>(
      db,
      sql`SELECT id FROM permission_sets WHERE org_id = ${orgId} AND id IN (${sql.join(chunk.map((id) => sql`${id}`), sql`, `)})`,
    );
    for (const row of rows) known.add(row.id);
  }
  return ids.filter((id) => !known.has(id));
}

export async function allPermissionSetIds(db: Orm, orgId: string): Promise<string[]> {
  const rows = await selectRows<{ id: string }>(db, sql`SELECT id FROM permission_sets WHERE org_id = ${orgId} ORDER BY id`);
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Revoke (both kinds)

export type RevokeResult =
  | { outcome: "revoked" | "already_revoked"; token: TokenRecord | ServiceTokenRecord }
  | { outcome: "not_found" }
  /** A concurrent regenerate made it active again between our revoke and our read. */
  | { outcome: "invalid_state"; token: TokenRecord | ServiceTokenRecord };

/**
 * active or expired → revoked. Revoking an expired token is allowed: for a service token it is
 * the way back to a working token (revoke, then regenerate). A revoked token stays revoked
 * (idempotent); a deleted, foreign or unknown id is not found.
 */
export async function revokeToken(db: Orm, input: TokenScope & { actor: Actor; now: number }): Promise<RevokeResult> {
  const { now } = input;
  const revocable = sql`status IN ('active', 'expired')`;
  const results = await atomically(db, [
    tokenEventWhen(input, revocable, {
      type: "token.revoked",
      actor: input.actor,
      at: now,
      details: sql`json_object('kind', kind, 'hint', hint, 'previous_status',
        CASE WHEN ${idleAt(now)} THEN 'expired' ELSE status END)`,
    }),
    // Revoke ends both secrets of a rolled token (SPEC §9); min() keeps a null deadline null.
    sql`UPDATE api_tokens SET status = 'revoked', revoked_at = ${now}, updated_at = ${now},
        previous_expires_at = min(previous_expires_at, ${now})
      WHERE ${scopeWhere(input)} AND ${revocable}`,
    readScoped(input),
  ]);
  const token = recordFrom(input, results[2]);
  if (!token) return { outcome: "not_found" };
  if (changes(results[1]) === 1) return { outcome: "revoked", token };
  if (token.status === "revoked") return { outcome: "already_revoked", token };
  return { outcome: "invalid_state", token };
}

// ---------------------------------------------------------------------------------------------
// Service tokens: regenerate, edit, delete

export type RegenerateResult =
  | { outcome: "regenerated"; token: ServiceTokenRecord; secret: string }
  | { outcome: "not_found" }
  | { outcome: "invalid_state"; token: ServiceTokenRecord }
  | { outcome: "token_limit_reached"; token: ServiceTokenRecord };

/**
 * revoked → active with a new secret, in place: same id, name, window and permission sets. The
 * old digest is overwritten, so the old secret can never resolve again. The inactivity clock
 * restarts now, and last_used_at is cleared because it describes the current secret. The
 * org's active-token limit is part of the UPDATE's WHERE, so regeneration cannot exceed it
 * even when racing creations.
 */
export async function regenerateServiceToken(
  db: Orm,
  input: { orgId: string; tokenId: string; actor: Actor; pepper: string | undefined; now: number },
): Promise<RegenerateResult> {
  const { now } = input;
  const scope: TokenScope = { orgId: input.orgId, tokenId: input.tokenId, kind: "service_user" };
  const { secret, digest, hint } = await freshSecret("service_user", input.pepper);
  const regenerable = sql`status = 'revoked' AND ${underServiceTokenLimit(input.orgId, now)}`;
  const results = await atomically(db, [
    tokenEventWhen(scope, regenerable, {
      type: "token.regenerated",
      actor: input.actor,
      at: now,
      details: sql`json_object('kind', kind, 'hint', ${hint}, 'previous_hint', hint)`,
    }),
    sql`UPDATE api_tokens SET digest = ${digest}, hint = ${hint}, status = 'active', updated_at = ${now},
        last_used_at = NULL, last_active_at = ${now}, expires_at = ${deadlineAfter(now)},
        revoked_at = NULL, expired_at = NULL, previous_digest = NULL, previous_expires_at = NULL
      WHERE ${scopeWhere(scope)} AND ${regenerable}`,
    readServiceToken(scope),
  ]);
  const token = recordFrom(scope, results[2]) as ServiceTokenRecord | null;
  if (!token) return { outcome: "not_found" };
  if (changes(results[1]) === 1) return { outcome: "regenerated", token, secret };
  // Still revoked after a refused update: the only condition left is the limit.
  if (token.status === "revoked") return { outcome: "token_limit_reached", token };
  return { outcome: "invalid_state", token };
}

export type RollResult =
  | { outcome: "rolled"; token: ServiceTokenRecord; secret: string }
  | { outcome: "not_found" }
  | { outcome: "invalid_state"; token: ServiceTokenRecord };

/**
 * active → active with a new secret; the secret it replaces keeps working, as this same token,
 * for `graceMs` (SPEC §9). One UPDATE moves the current digest to `previous_digest`, so the
 * digest that was previous before is overwritten: rolls, however they interleave, leave at
 * most two secrets that resolve. Nothing else changes: id, settings, status, the idle clock and
 * last use stay, and the limit is unaffected (still one token). Only a token that is active and
 * inside its idle window may be rolled; revoked, expired or deleted ones are refused.
 */
export async function rollServiceToken(
  db: Orm,
  input: { orgId: string; tokenId: string; graceMs: number; actor: Actor; pepper: string | undefined; now: number },
): Promise<RollResult> {
  const { now } = input;
  const scope: TokenScope = { orgId: input.orgId, tokenId: input.tokenId, kind: "service_user" };
  const { secret, digest, hint } = await freshSecret("service_user", input.pepper);
  const previousExpiresAt = now + input.graceMs;
  const rollable = activeAt(now);
  const results = await atomically(db, [
    tokenEventWhen(scope, rollable, {
      type: "token.rolled",
      actor: input.actor,
      at: now,
      details: sql`json_object('kind', kind, 'hint', ${hint}, 'previous_hint', hint,
        'grace_seconds', ${Math.floor(input.graceMs / 1000)}, 'previous_expires_at', ${new Date(previousExpiresAt).toISOString()})`,
    }),
    sql`UPDATE api_tokens SET previous_digest = digest, previous_expires_at = ${previousExpiresAt},
        digest = ${digest}, hint = ${hint}, updated_at = ${now}
      WHERE ${scopeWhere(scope)} AND ${rollable}`,
    readServiceToken(scope),
  ]);
  const token = recordFrom(scope, results[2]) as ServiceTokenRecord | null;
  if (!token) return { outcome: "not_found" };
  if (changes(results[1]) === 1) return { outcome: "rolled", token, secret };
  return { outcome: "invalid_state", token };
}

export type DeleteResult = { outcome: "deleted" } | { outcome: "not_found" } | { outcome: "invalid_state"; token: ServiceTokenRecord };

/**
 * revoked or expired → deleted, permanently (SPEC §4: "only when revoked or expired"). An
 * active row idle past its deadline is expired even before the sweep marks it. The row stays
 * (with its digest, so the old secret is answered "token deleted") but is invisible to the API.
 */
export async function deleteServiceToken(
  db: Orm,
  input: { orgId: string; tokenId: string; actor: Actor; now: number },
): Promise<DeleteResult> {
  const { now } = input;
  const scope: TokenScope = { orgId: input.orgId, tokenId: input.tokenId, kind: "service_user" };
  const deletable = sql`status IN ('revoked', 'expired') OR (${idleAt(now)})`;
  const results = await atomically(db, [
    tokenEventWhen(scope, deletable, {
      type: "token.deleted",
      actor: input.actor,
      at: now,
      details: sql`json_object('kind', kind, 'hint', hint)`,
    }),
    sql`UPDATE api_tokens SET status = 'deleted', deleted_at = ${now}, updated_at = ${now}
      WHERE ${scopeWhere(scope)} AND (${deletable})`,
    readServiceToken(scope),
  ]);
  if (changes(results[1]) === 1) return { outcome: "deleted" };
  const token = recordFrom(scope, results[2]) as ServiceTokenRecord | null;
  return token ? { outcome: "invalid_state", token } : { outcome: "not_found" };
}


export type EditResult = { outcome: "edited" | "unchanged"; token: ServiceTokenRecord } | { outcome: "not_found" };

/**
 * Edit name, inactivity window and permission sets of a service token that is not deleted.
 *
 * - Renaming renames the service user too: the activity log and the proxy's
 *   X-Portcullis-Subject-Name show the current name from the next request on.
 * - A new window moves the idle deadline to last_active_at + window, only while the token is
 *   live; it never revives a token that has already expired.
 * - Permission sets are replaced in the same batch; the proxy reads them live on the next request.
 *
 * `permissionSetIds` must already be checked to belong to the org; a set deleted meanwhile is
 * skipped by the INSERT's condition rather than attached across orgs.
 */
export async function editServiceToken(
  db: Orm,
  input: { orgId: string; tokenId: string; edit: ServiceTokenEdit; actor: Actor; now: number },
): Promise<EditResult> {
  const { now, edit } = input;
  const scope: TokenScope = { orgId: input.orgId, tokenId: input.tokenId, kind: "service_user" };
  const current = await getServiceToken(db, input.orgId, input.tokenId);
  if (!current) return { outcome: "not_found" };

  const changed: Record<string, unknown> = {};
  if (edit.name !== undefined && edit.name !== current.name) changed["name"] = { from: current.name, to: edit.name };
  if (edit.inactivityDays !== undefined && edit.inactivityDays !== current.inactivityDays) {
    changed["inactivity_days"] = { from: current.inactivityDays, to: edit.inactivityDays };
  }
  let newSetIds: string[] | null = null;
  if (edit.permissionSetIds !== undefined) {
    const next = [...new Set(edit.permissionSetIds)].sort();
    const added = next.filter((id) => !current.permissionSetIds.includes(id));
    const removed = current.permissionSetIds.filter((id) => !next.includes(id));
    if (added.length > 0 || removed.length > 0) {
      changed["permission_set_ids"] = { added, removed };
      newSetIds = next;
    }
  }
  if (edit.allowedCidrs !== undefined && JSON.stringify(edit.allowedCidrs) !== JSON.stringify(current.allowedCidrs)) {
    changed["allowed_cidrs"] = { from: current.allowedCidrs, to: edit.allowedCidrs };
  }
  if (Object.keys(changed).length === 0) return { outcome: "unchanged", token: current };

  const live = sql`status <> 'deleted'`;
  const serviceUserOf = sql`(SELECT service_user_id FROM api_tokens WHERE ${scopeWhere(scope)} AND ${live})`;
  const sets: SQL[] = [];
  if ("name" in changed) sets.push(sql`name = ${edit.name}`);
  if ("inactivity_days" in changed) {
    sets.push(sql`inactivity_days = ${edit.inactivityDays}`);
    sets.push(sql`expires_at = CASE WHEN ${activeAt(now)}
      THEN last_active_at + ${edit.inactivityDays! * DAY_MS} ELSE expires_at END`);
  }
  if ("allowed_cidrs" in changed) sets.push(sql`allowed_cidrs = ${storedCidrs(edit.allowedCidrs!)}`);
  sets.push(sql`updated_at = ${now}`);

  // The event follows the update (its condition is unaffected by it) so it names the token as renamed.
  const statements: SQL[] = [
    sql`UPDATE api_tokens SET ${sql.join(sets, sql`, `)} WHERE ${scopeWhere(scope)} AND ${live}`,
    tokenEventWhen(scope, live, {
      type: "token.edited",
      actor: input.actor,
      at: now,
      details: sql`${JSON.stringify({ kind: "service_user", changes: changed })}`,
    }),
  ];
  if ("name" in changed) statements.push(sql`UPDATE service_users SET name = ${edit.name} WHERE id = ${serviceUserOf}`);
  if (newSetIds !== null) {
    statements.push(sql`DELETE FROM service_user_permission_sets WHERE service_user_id = ${serviceUserOf}`);
    for (const setId of newSetIds) {
      statements.push(sql`INSERT INTO service_user_permission_sets (service_user_id, permission_set_id)
        SELECT t.service_user_id, ps.id FROM api_tokens t, permission_sets ps
        WHERE ${scopeWhere(scope, "t")} AND t.status <> 'deleted' AND ps.id = ${setId} AND ps.org_id = ${input.orgId}`);
    }
  }
  statements.push(readServiceToken(scope));
  const results = await atomically(db, statements);
  const token = recordFrom(scope, results[results.length - 1]) as ServiceTokenRecord | null;
  if (changes(results[0]) === 0 || !token) return { outcome: "not_found" };
  return { outcome: "edited", token };
}
