/**
 * GET /activity-log (SPEC §4): every token and directory change, newest first, with the actor's
 * display name as it was at the time (the user's name, or the service user's name for service
 * tokens — seeds: "Activity logs"). Filterable by actor id, actor type and event type;
 * cursor-paginated. Needs platform_management.audit_log.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { listActivity } from "../../db/activity-log";
import { orm } from "../../db/client";
import type { ActivityEventRow } from "../../db/schema";
import { BEARER_SECURITY, decodeCursor, errorResponses, iso, json, paginate, PaginationQuery, type ManagementApp } from "../common";
import { read } from "../directory-resource";
import { PERMISSION } from "../../domain/permissions";
import { protect, under } from "../../http/authorize";

const ActorType = z.enum(["user", "service_user", "system", "operator"]);

const ActivityQuery = PaginationQuery.extend({
  actor_id: z.string().min(1).max(100).optional().openapi({ description: "Only events by this actor (user or service user id)." }),
  actor_type: ActorType.optional().openapi({ description: "Only events by this kind of actor." }),
  type: z
    .string()
    .max(100)
    .regex(/^[a-z_]+\.[a-z_]+$/, "must be an event type such as token.revoked")
    .optional()
    .openapi({ description: "Only events of this type, e.g. `token.revoked`, `user.deactivated`.", example: "token.revoked" }),
}).strict();

const ActivityEventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_01JABCDEFGHJKMNPQRSTVWXYZ0" }),
    type: z.string().openapi({ example: "token.revoked" }),
    occurred_at: z.string().openapi({ example: "2026-05-15T09:30:00.000Z" }),
    actor: z.object({
      id: z.string().nullable().openapi({ description: "Null for the system and the operator." }),
      type: ActorType,
      name: z.string().openapi({ description: "The actor's display name when the event happened.", example: "Dana Inspector" }),
    }),
    target: z
      .object({ type: z.string().openapi({ example: "api_token" }), id: z.string(), name: z.string().nullable() })
      .nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("ActivityEvent");

const ActivityListSchema = z
  .object({ data: z.array(ActivityEventSchema), next_cursor: z.string().nullable() })
  .openapi("ActivityEventList");

const route = createRoute({
  method: "get",
  path: "/activity-log",
  operationId: "listActivityEvents",
  tags: ["Activity log"],
  summary: "Activity log",
  description:
    "Token events (created, first used, edited, revoked, regenerated, deleted, expired) and directory changes, newest first.",
  security: BEARER_SECURITY,
  request: { query: ActivityQuery },
  responses: { 200: { description: "A page of events", content: json(ActivityListSchema) }, ...errorResponses(400) },
});

function serializeEvent(row: ActivityEventRow) {
  return {
    id: row.id,
    type: row.type,
    occurred_at: iso(row.occurredAt)!,
    actor: { id: row.actorId, type: row.actorType, name: row.actorName },
    target: row.targetType !== null && row.targetId !== null ? { type: row.targetType, id: row.targetId, name: row.targetName } : null,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}

export function registerActivityLog(app: ManagementApp): void {
  protect(app, under("/activity-log"), { permissions: [PERMISSION.auditLog] });
  app.openapi(route, async (c) => {
    const subject = c.get("subject");
    const query = c.req.valid("query");
    const beforeId = decodeCursor(query.cursor);
    const rows = await read(c, () =>
      listActivity(
        orm(c.env.DB),
        subject.orgId,
        { actorId: query.actor_id, actorType: query.actor_type, type: query.type },
        { beforeId, limit: query.limit },
      ),
    );
    const { rows: events, nextCursor } = paginate(rows, query.limit);
    return c.json({ data: events.map(serializeEvent), next_cursor: nextCursor }, 200);
  });
}
