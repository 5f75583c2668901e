/**
 * Activity events (SPEC §4): every token and directory change, with the actor's display name
 * as it was at the time. Statements are returned unexecuted so callers put them in the same
 * D1 batch as the change they describe: a change and its event land together or not at all.
 * This module is the only one that writes activity_events (the table and its columns are what
 * readers of the log rely on).
 */
import { sql, type SQL } from "drizzle-orm";
import { newId } from "./ids";
import type { Orm } from "./client";
import { activityEvents } from "./schema";

export type ActivityType =
  | "org.created"
  | "token.created"
  | "token.first_used"
  | "token.edited"
  | "token.revoked"
  | "token.revoked_leaked"
  | "token.regenerated"
  | "token.rolled"
  | "token.deleted"
  | "token.expired"
  | "token.expiring"
  | "user.created"
  | "user.updated"
  | "user.deactivated"
  | "user.reactivated"
  | "user.removed"
  | "group.created"
  | "group.updated"
  | "group.deleted"
  | "site.created"
  | "site.updated"
  | "site.deleted"
  | "permission_set.created"
  | "permission_set.updated"
  | "permission_set.deleted";

export interface Actor {
  id: string | null;
  type: "user" | "service_user" | "system" | "operator";
  name: string;
}

export const SYSTEM_ACTOR: Actor = { id: null, type: "system", name: "Portcullis" };

export interface ActivityInput {
  orgId: string;
  type: ActivityType;
  actor: Actor;
  target?: { type: string; id: string; name?: string | null };
  details?: Record<string, unknown>;
  at?: number;
}

export function activityInsert(db: Orm, event: ActivityInput) {
  const at = event.at ?? Date.now();
  return db.insert(activityEvents).values({
    id: newId("evt", at),
    orgId: event.orgId,
    occurredAt: at,
    type: event.type,
    actorId: event.actor.id,
    actorType: event.actor.type,
    actorName: event.actor.name,
    targetType: event.target?.type ?? null,
    targetId: event.target?.id ?? null,
    targetName: event.target?.name ?? null,
    details: event.details ? JSON.stringify(event.details) : null,
  });
}

/**
 * An activity event id computed per row in SQL, in the layout of `ids.ts` (10 time characters,
 * 16 random ones): 16 hex digits are Crockford base32 characters, so ids still sort by time.
 */
export function eventIdSql(now: number): SQL {
  const time = newId("evt", now).slice(4, 14);
  return sql`'evt_' || ${time} || hex(randomblob(8))`;
}

/** The value of every column of one event, as SQL: bound values or columns of the selected row. */
export interface EventColumnsSql {
  id: SQL;
  orgId: SQL;
  occurredAt: SQL;
  type: SQL;
  actorId: SQL;
  actorType: SQL;
  actorName: SQL;
  targetType: SQL;
  targetId: SQL;
  targetName: SQL;
  details: SQL;
}

/**
 * The one statement shape for events decided inside the batch: `INSERT INTO activity_events
 * … SELECT <columns> <rest>`, where `rest` is a `WHERE` condition, or a `FROM … WHERE` that
 * yields one event per row. Put it before the write guarded by the same condition.
 */
export function activityInsertSelect(columns: EventColumnsSql, rest: SQL): SQL {
  const c = columns;
  return sql`INSERT INTO activity_events (id, org_id, occurred_at, type, actor_id, actor_type, actor_name,
      target_type, target_id, target_name, details)
    SELECT ${c.id}, ${c.orgId}, ${c.occurredAt}, ${c.type}, ${c.actorId}, ${c.actorType}, ${c.actorName},
      ${c.targetType}, ${c.targetId}, ${c.targetName}, ${c.details}
    ${rest}`;
}

/** An event with known values, inserted only when `condition` holds when the batch runs. */
export function activityInsertWhen(condition: SQL, event: ActivityInput & { at: number }): SQL {
  return activityInsertSelect(
    {
      id: sql`${newId("evt", event.at)}`,
      orgId: sql`${event.orgId}`,
      occurredAt: sql`${event.at}`,
      type: sql`${event.type}`,
      actorId: sql`${event.actor.id}`,
      actorType: sql`${event.actor.type}`,
      actorName: sql`${event.actor.name}`,
      targetType: sql`${event.target?.type ?? null}`,
      targetId: sql`${event.target?.id ?? null}`,
      targetName: sql`${event.target?.name ?? null}`,
      details: sql`${event.details ? JSON.stringify(event.details) : null}`,
    },
    sql`WHERE ${condition}`,
  );
}

/**
 * One event per `api_tokens` row matching `where`, about that token (target: the token, its
 * org), with `details` computed from the row.
 */
export function tokenActivityInsert(event: { id: SQL; type: ActivityType; actor: Actor; at: number; details: SQL; where: SQL }): SQL {
  return activityInsertSelect(
    {
      id: event.id,
      orgId: sql`org_id`,
      occurredAt: sql`${event.at}`,
      type: sql`${event.type}`,
      actorId: sql`${event.actor.id}`,
      actorType: sql`${event.actor.type}`,
      actorName: sql`${event.actor.name}`,
      targetType: sql`'api_token'`,
      targetId: sql`id`,
      targetName: sql`name`,
      details: event.details,
    },
    sql`FROM api_tokens WHERE ${event.where}`,
  );
}

/**
 * The "used for the first time" event, inserted only while last_used_at is still null. Raw D1
 * SQL for the proxy's last-use write (db/auth.ts): ?1 event id, ?2 time, ?3 token id.
 */
export const FIRST_USE_EVENT_SQL = `
INSERT INTO activity_events (id, org_id, occurred_at, type, actor_id, actor_type, actor_name, target_type, target_id, target_name, details)
SELECT ?1, t.org_id, ?2, 'token.first_used', COALESCE(t.user_id, t.service_user_id), t.kind,
  COALESCE(u.name, s.name), 'api_token', t.id, t.name, NULL
FROM api_tokens t
LEFT JOIN users u ON u.id = t.user_id
LEFT JOIN service_users s ON s.id = t.service_user_id
WHERE t.id = ?3 AND t.last_used_at IS NULL AND t.status = 'active'`;
