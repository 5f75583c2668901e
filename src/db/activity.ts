/**
 * Activity events (SPEC §4): every token and directory change, with the actor's display name
 * as it was at the time. Statements are returned unexecuted so callers put them in the same
 * D1 batch as the change they describe: a change and its event land together or not at all.
 */
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
