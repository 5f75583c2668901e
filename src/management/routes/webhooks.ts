/**
 * Webhook endpoints of the organization (SPEC §10): `/webhooks`, all behind
 * `integrations.manage`. The signing secret (`whsec_…`, Standard Webhooks) is shown once, in
 * the create response. URLs follow the rules of signals/url-rules.ts, checked here and again
 * at every delivery.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { orm } from "../../db/client";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  listDeliveries,
  listWebhookEndpoints,
  type DeliveryRecord,
  type WebhookEndpointRecord,
} from "../../db/webhooks";
import { PERMISSION } from "../../domain/permissions";
import { ApiError } from "../../errors";
import { protect, under } from "../../http/authorize";
import { read, write } from "../../http/storage";
import { signalsConfig } from "../../signals/config";
import { WEBHOOK_EVENT_TYPES } from "../../signals/events";
import { checkWebhookUrl } from "../../signals/url-rules";
import { BEARER_SECURITY, decodeCursor, errorResponses, IdParam, iso, json, paginate, PaginationQuery, shownId, type ManagementApp } from "../common";

const TAGS = ["Webhooks"];

const EventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES).openapi("WebhookEventType");

const CreateWebhookBody = z
  .object({
    url: z.string().min(1).max(2_048).openapi({ example: "https://hooks.example.com/portcullis" }),
    events: z.array(EventTypeSchema).min(1).max(WEBHOOK_EVENT_TYPES.length * 2).optional().openapi({ description: "Default: every event type." }),
  })
  .strict()
  .openapi("CreateWebhook");

const endpointFields = {
  id: z.string().openapi({ example: "whk_01JABCDEFGHJKMNPQRSTVWXYZ0" }),
  url: z.string(),
  events: z.array(EventTypeSchema),
  created_at: z.string().openapi({ format: "date-time" }),
};
const WebhookSchema = z.object(endpointFields).openapi("Webhook");
const NewWebhookSchema = z
  .object({ ...endpointFields, secret: z.string().openapi({ description: "Standard Webhooks signing secret, shown only here.", example: "whsec_…" }) })
  .openapi("NewWebhook");
const WebhookListSchema = z.object({ data: z.array(WebhookSchema), next_cursor: z.string().nullable() }).openapi("WebhookList");

const DeliverySchema = z
  .object({
    id: z.string(),
    event_id: z.string().openapi({ description: "The `webhook-id` header of the delivery (the same on every attempt)." }),
    type: EventTypeSchema,
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    next_attempt_at: z.string().nullable().openapi({ format: "date-time", description: "When pending: the next attempt." }),
  })
  .openapi("WebhookDelivery");
const DeliveryListSchema = z.object({ data: z.array(DeliverySchema), next_cursor: z.string().nullable() }).openapi("WebhookDeliveryList");

const listRoute = createRoute({
  method: "get",
  path: "/webhooks",
  operationId: "listWebhooks",
  tags: TAGS,
  summary: "List the organization's webhook endpoints",
  description: "Needs `integrations.manage`. Never includes secrets.",
  security: BEARER_SECURITY,
  request: { query: PaginationQuery },
  responses: { 200: { description: "A page of endpoints", content: json(WebhookListSchema) }, ...errorResponses(400) },
});

const createEndpointRoute = createRoute({
  method: "post",
  path: "/webhooks",
  operationId: "createWebhook",
  tags: TAGS,
  summary: "Register a webhook endpoint",
  description:
    "Needs `integrations.manage`. `url` must be `https://` and must not be a private, loopback or link-local address. `events` " +
    "defaults to every event type. Returns the signing secret once.",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: json(CreateWebhookBody) } },
  responses: { 201: { description: "Created; `secret` is shown only here", content: json(NewWebhookSchema) }, ...errorResponses(400, 413, 415) },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/webhooks/{id}",
  operationId: "deleteWebhook",
  tags: TAGS,
  summary: "Delete a webhook endpoint",
  description: "Needs `integrations.manage`. Nothing more is delivered to it, pending retries included.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(404) },
});

const deliveriesRoute = createRoute({
  method: "get",
  path: "/webhooks/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags: TAGS,
  summary: "List an endpoint's deliveries, newest first",
  description: "Needs `integrations.manage`. Status, attempts and the last HTTP status of each delivery.",
  security: BEARER_SECURITY,
  request: { params: IdParam, query: PaginationQuery },
  responses: { 200: { description: "A page of deliveries", content: json(DeliveryListSchema) }, ...errorResponses(400, 404) },
});

function notFound(id: string): ApiError {
  return new ApiError("not_found", `No webhook endpoint ${shownId(id)} in this organization.`);
}

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

function endpointResource(e: WebhookEndpointRecord) {
  return { id: e.id, url: e.url, events: e.events as (typeof WEBHOOK_EVENT_TYPES)[number][], created_at: iso(e.createdAt)! };
}

function deliveryResource(d: DeliveryRecord) {
  return {
    id: d.id,
    event_id: d.messageId,
    type: d.type as (typeof WEBHOOK_EVENT_TYPES)[number],
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    created_at: iso(d.createdAt)!,
    next_attempt_at: d.status === "pending" ? iso(d.nextAttemptAt) : null,
  };
}

export function registerWebhooks(app: ManagementApp): void {
  protect(app, under("/webhooks"), { permissions: [PERMISSION.integrationsManage] });

  app.openapi(listRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const rows = await read(c, () => listWebhookEndpoints(orm(c.env.DB), { orgId: c.get("subject").orgId, afterId, take: limit + 1 }));
    const result = paginate(rows, limit);
    return c.json({ data: result.rows.map(endpointResource), next_cursor: result.nextCursor }, 200);
  });

  app.openapi(createEndpointRoute, async (c) => {
    const body = c.req.valid("json");
    const check = checkWebhookUrl(body.url, signalsConfig(c.env).allowInsecureWebhooks);
    if (!check.ok) throw new ApiError("invalid_request", `Invalid request: ${check.reason}.`);
    // Shown in the canonical order of SPEC §10, each once.
    const chosen = new Set<string>(body.events ?? WEBHOOK_EVENT_TYPES);
    const events = WEBHOOK_EVENT_TYPES.filter((t) => chosen.has(t));
    const secret = newSecret();
    const endpoint = await write(c, () =>
      createWebhookEndpoint(orm(c.env.DB), { orgId: c.get("subject").orgId, url: check.url.href, events, secret, now: Date.now() }),
    );
    return c.json({ ...endpointResource(endpoint), secret }, 201);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const deleted = await write(c, () => deleteWebhookEndpoint(orm(c.env.DB), c.get("subject").orgId, id));
    if (!deleted) throw notFound(id);
    return c.body(null, 204);
  });

  app.openapi(deliveriesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const beforeId = decodeCursor(cursor);
    const db = orm(c.env.DB);
    const endpoint = await read(c, () => findWebhookEndpoint(db, c.get("subject").orgId, id));
    if (!endpoint) throw notFound(id);
    const rows = await read(c, () => listDeliveries(db, { endpointId: endpoint.id, beforeId, take: limit + 1 }));
    const result = paginate(rows, limit);
    return c.json({ data: result.rows.map(deliveryResource), next_cursor: result.nextCursor }, 200);
  });
}
