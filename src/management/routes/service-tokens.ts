/**
 * Service user API tokens (SPEC §1, §4): `/service-tokens`. Every route needs
 * `integrations.manage`. Life cycle: create → (edit | roll) → revoke → regenerate | delete; an
 * expired token may also be revoked (then regenerated) or deleted. Rolling replaces the secret
 * of an active token while the replaced one keeps working for a grace period (SPEC §9). Each transition is decided
 * atomically in D1 (db/token-lifecycle.ts); an id from another org is 404.
 */
import { createRoute } from "@hono/zod-openapi";
import { invalidateCached } from "../../auth/cache";
import { normaliseCidrs } from "../../auth/cidr";
import { guard, orm } from "../../db/client";
import {
  allPermissionSetIds,
  deleteServiceToken,
  editServiceToken,
  getServiceToken,
  listServiceTokens,
  regenerateServiceToken,
  revokeToken,
  rollServiceToken,
  unknownPermissionSetIds,
} from "../../db/token-lifecycle";
import type { ServiceTokenRecord } from "../../db/token-row";
import { createServiceToken } from "../../db/tokens";
import { PERMISSION } from "../../domain/permissions";
import { ApiError } from "../../errors";
import { protect, under } from "../../http/authorize";
import { DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS, SERVICE_TOKEN_LIMIT } from "../../domain/tokens";
import { actorOf, BEARER_SECURITY, decodeCursor, errorResponses, IdParam, iso, json, paginate, PaginationQuery, shownId, type ManagementApp } from "../common";
import {
  CreateServiceTokenBody,
  DEFAULT_GRACE_SECONDS,
  EditServiceTokenBody,
  NewServiceTokenSchema,
  RollServiceTokenBody,
  RolledServiceTokenSchema,
  ServiceTokenListSchema,
  ServiceTokenSchema,
  serviceTokenResource,
} from "../token-resource";

const TAGS = ["Service user API tokens"];

const listRoute = createRoute({
  method: "get",
  path: "/service-tokens",
  operationId: "listServiceTokens",
  tags: TAGS,
  summary: "List the organization's service user API tokens",
  description: "Needs `integrations.manage`. Never includes secrets; deleted tokens are not listed.",
  security: BEARER_SECURITY,
  request: { query: PaginationQuery },
  responses: { 200: { description: "A page of tokens", content: json(ServiceTokenListSchema) }, ...errorResponses(400) },
});

const createTokenRoute = createRoute({
  method: "post",
  path: "/service-tokens",
  operationId: "createServiceToken",
  tags: TAGS,
  summary: "Create a service user and its API token",
  description:
    "Needs `integrations.manage`. `inactivity_days` is 31, 45 (default), 60 or 180; `permission_set_ids` defaults to all of the " +
    "organization's permission sets. Returns the secret once. At most 20 active service tokens per organization (409 `token_limit_reached`).",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: json(CreateServiceTokenBody) } },
  responses: {
    201: { description: "Created; `token` is shown only here", content: json(NewServiceTokenSchema) },
    ...errorResponses(400, 409, 413, 415),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/service-tokens/{id}",
  operationId: "getServiceToken",
  tags: TAGS,
  summary: "View a service user API token",
  description: "Needs `integrations.manage`. With its service user and permission sets.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 200: { description: "The token", content: json(ServiceTokenSchema) }, ...errorResponses(404) },
});

const editRoute = createRoute({
  method: "patch",
  path: "/service-tokens/{id}",
  operationId: "updateServiceToken",
  tags: TAGS,
  summary: "Edit a service user API token",
  description:
    "Needs `integrations.manage`. Rename (the service user too), change the inactivity window (the idle deadline becomes last " +
    "activity + new window) or replace the permission sets (effective on the token's next request).",
  security: BEARER_SECURITY,
  request: { params: IdParam, body: { required: true, content: json(EditServiceTokenBody) } },
  responses: { 200: { description: "The edited token", content: json(ServiceTokenSchema) }, ...errorResponses(400, 404, 413, 415) },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/service-tokens/{id}/revoke",
  operationId: "revokeServiceToken",
  tags: TAGS,
  summary: "Revoke a service user API token",
  description:
    "Needs `integrations.manage`. Stops the token on its very next request; it can be regenerated later. Idempotent. An expired " +
    "token may be revoked too, which makes it regenerable.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 200: { description: "The revoked token", content: json(ServiceTokenSchema) }, ...errorResponses(404, 409) },
});

const regenerateRoute = createRoute({
  method: "post",
  path: "/service-tokens/{id}/regenerate",
  operationId: "regenerateServiceToken",
  tags: TAGS,
  summary: "Regenerate a revoked service user API token",
  description:
    "Needs `integrations.manage`. Only when revoked (else 409 `invalid_state`): a new secret for the same id and settings, active " +
    "again, idle clock restarted; the old secret never works again. Counts toward the limit of 20 (409 `token_limit_reached`).",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: {
    200: { description: "Active again; `token` is shown only here", content: json(NewServiceTokenSchema) },
    ...errorResponses(404, 409),
  },
});

const rollRoute = createRoute({
  method: "post",
  path: "/service-tokens/{id}/roll",
  operationId: "rollServiceToken",
  tags: TAGS,
  summary: "Roll the secret of an active service user API token",
  description:
    "Needs `integrations.manage`. Only when active (else 409 `invalid_state`). The new secret works at once and is shown only " +
    "here; the previous one keeps working, as the same token, until `previous_expires_at` (`grace_seconds`, 0–604800, default " +
    "86400), then gets 401. Rolling again during a grace ends the older previous secret at once; revoking ends both. Same id, " +
    "settings and idle clock; the limit of 20 is unaffected.",
  security: BEARER_SECURITY,
  request: { params: IdParam, body: { required: false, content: json(RollServiceTokenBody) } },
  responses: {
    200: { description: "Rolled; `token` is shown only here", content: json(RolledServiceTokenSchema) },
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/service-tokens/{id}",
  operationId: "deleteServiceToken",
  tags: TAGS,
  summary: "Delete a revoked or expired service user API token",
  description: "Needs `integrations.manage`. Only when revoked or expired (else 409 `invalid_state`). Permanent: afterwards the id is 404 everywhere.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(404, 409) },
});

function notFound(): ApiError {
  return new ApiError("not_found", "No such service user API token in this organization.");
}

/** The normalised list of a validated `allowed_cidrs` (the schema has already refused bad entries). */
function normalisedCidrs(input: string[] | undefined): string[] | undefined {
  if (input === undefined) return undefined;
  const result = normaliseCidrs(input);
  if (!result.ok) throw new ApiError("invalid_request", `Invalid request: allowed_cidrs.${result.index}: ${result.reason}.`);
  return result.cidrs;
}

/** 400 unless every id is a permission set of the caller's org (another org's id is unknown here). */
async function checkPermissionSets(db: ReturnType<typeof orm>, orgId: string, ids: string[], timeoutMs: number): Promise<string[]> {
  const unique = [...new Set(ids)];
  const unknown = await guard(() => unknownPermissionSetIds(db, orgId, unique), { timeoutMs, retry: true });
  if (unknown.length > 0) {
    throw new ApiError("invalid_request", `Invalid request: permission_set_ids: unknown permission set ${unknown.map(shownId).join(", ")}.`);
  }
  return unique;
}

export function registerServiceTokens(app: ManagementApp): void {
  protect(app, under("/service-tokens"), { permissions: [PERMISSION.integrationsManage] });
  app.openapi(listRoute, async (c) => {
    const subject = c.get("subject");
    const { limit, cursor } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const config = c.get("config");
    const rows = await guard(() => listServiceTokens(orm(c.env.DB), { orgId: subject.orgId, afterId, take: limit + 1 }), {
      timeoutMs: config.dbTimeoutMs,
      retry: true,
    });
    const now = Date.now();
    const result = paginate(rows, limit);
    return c.json({ data: result.rows.map((t) => serviceTokenResource(t, now)), next_cursor: result.nextCursor }, 200);
  });

  app.openapi(createTokenRoute, async (c) => {
    const subject = c.get("subject");
    const body = c.req.valid("json");
    const config = c.get("config");
    const db = orm(c.env.DB);
    const permissionSetIds =
      body.permission_set_ids === undefined
        ? await guard(() => allPermissionSetIds(db, subject.orgId), { timeoutMs: config.dbTimeoutMs, retry: true })
        : await checkPermissionSets(db, subject.orgId, body.permission_set_ids, config.dbTimeoutMs);
    const inactivityDays = body.inactivity_days ?? DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS;
    const allowedCidrs = normalisedCidrs(body.allowed_cidrs) ?? [];
    const now = Date.now();
    const created = await guard(
      () =>
        createServiceToken(db, {
          orgId: subject.orgId,
          name: body.name,
          inactivityDays,
          permissionSetIds,
          allowedCidrs,
          actor: actorOf(subject),
          pepper: config.tokenPepper,
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (!created) {
      throw new ApiError(
        "token_limit_reached",
        `This organization already has ${SERVICE_TOKEN_LIMIT} active service user API tokens; revoke one before creating another.`,
      );
    }
    // The secret is in this body only (SPEC §1); never cache it.
    c.header("Cache-Control", "no-store");
    return c.json({ ...serviceTokenResource(created, now), token: created.secret }, 201);
  });

  app.openapi(getRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const config = c.get("config");
    const token = await guard(() => getServiceToken(orm(c.env.DB), subject.orgId, id), { timeoutMs: config.dbTimeoutMs, retry: true });
    if (!token) throw notFound();
    return c.json(serviceTokenResource(token, Date.now()), 200);
  });

  app.openapi(editRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const config = c.get("config");
    const db = orm(c.env.DB);
    const permissionSetIds =
      body.permission_set_ids === undefined ? undefined : await checkPermissionSets(db, subject.orgId, body.permission_set_ids, config.dbTimeoutMs);
    const now = Date.now();
    const result = await guard(
      () =>
        editServiceToken(db, {
          orgId: subject.orgId,
          tokenId: id,
          edit: { name: body.name, inactivityDays: body.inactivity_days, permissionSetIds, allowedCidrs: normalisedCidrs(body.allowed_cidrs) },
          actor: actorOf(subject),
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (result.outcome === "not_found") throw notFound();
    // Name, permissions and allowed addresses are part of what the token resolves to (SPEC §5, §9).
    if (result.outcome === "edited") invalidateCached({ tokenIds: [id] });
    return c.json(serviceTokenResource(result.token, now), 200);
  });

  app.openapi(revokeRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const config = c.get("config");
    const now = Date.now();
    const result = await guard(
      () => revokeToken(orm(c.env.DB), { orgId: subject.orgId, tokenId: id, kind: "service_user", actor: actorOf(subject), now }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (result.outcome === "not_found") throw notFound();
    if (result.outcome === "invalid_state") throw new ApiError("invalid_state", "The token changed while it was being revoked; try again.");
    if (result.outcome === "revoked") invalidateCached({ tokenIds: [id] });
    return c.json(serviceTokenResource(result.token as ServiceTokenRecord, now), 200);
  });

  app.openapi(regenerateRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const config = c.get("config");
    const now = Date.now();
    const result = await guard(
      () => regenerateServiceToken(orm(c.env.DB), { orgId: subject.orgId, tokenId: id, actor: actorOf(subject), pepper: config.tokenPepper, now }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    switch (result.outcome) {
      case "not_found":
        throw notFound();
      case "invalid_state":
        throw new ApiError("invalid_state", `Only a revoked token can be regenerated; this one is ${serviceTokenResource(result.token, now).status}.`);
      case "token_limit_reached":
        throw new ApiError(
          "token_limit_reached",
          `This organization already has ${SERVICE_TOKEN_LIMIT} active service user API tokens; revoke one before regenerating this one.`,
        );
    }
    invalidateCached({ tokenIds: [id] });
    c.header("Cache-Control", "no-store");
    return c.json({ ...serviceTokenResource(result.token, now), token: result.secret }, 200);
  });

  app.openapi(rollRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    // The body is optional; without one (or with `{}`) the grace is one day.
    const body = (c.req.valid("json") as { grace_seconds?: number } | undefined) ?? {};
    const graceSeconds = body.grace_seconds ?? DEFAULT_GRACE_SECONDS;
    const config = c.get("config");
    const now = Date.now();
    const result = await guard(
      () =>
        rollServiceToken(orm(c.env.DB), {
          orgId: subject.orgId,
          tokenId: id,
          graceMs: graceSeconds * 1000,
          actor: actorOf(subject),
          pepper: config.tokenPepper,
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (result.outcome === "not_found") throw notFound();
    if (result.outcome === "invalid_state") {
      throw new ApiError("invalid_state", `Only an active token can be rolled; this one is ${serviceTokenResource(result.token, now).status}.`);
    }
    // Cached entries of both digests belong to this token id (SPEC §5: effective on the next request).
    invalidateCached({ tokenIds: [id] });
    c.header("Cache-Control", "no-store");
    return c.json(
      { ...serviceTokenResource(result.token, now), token: result.secret, previous_expires_at: iso(result.token.previousExpiresAt)! },
      200,
    );
  });

  app.openapi(deleteRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const config = c.get("config");
    const result = await guard(
      () => deleteServiceToken(orm(c.env.DB), { orgId: subject.orgId, tokenId: id, actor: actorOf(subject), now: Date.now() }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (result.outcome === "not_found") throw notFound();
    if (result.outcome === "invalid_state") {
      throw new ApiError("invalid_state", "Only a revoked or expired token can be deleted; revoke it first.");
    }
    invalidateCached({ tokenIds: [id] });
    return c.body(null, 204);
  });
}
