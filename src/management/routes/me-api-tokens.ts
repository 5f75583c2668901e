/**
 * User API tokens (SPEC §1, §4): `/me/api-tokens`. A member generates, lists and revokes their
 * own tokens in the organization of their credential. Service users have no user tokens.
 */
import { createRoute } from "@hono/zod-openapi";
import { invalidateCached } from "../../auth/cache";
import { invalidToken } from "../../auth/challenge";
import { requireSession } from "../../auth/middleware";
import type { Subject } from "../../domain/subject";
import { signedInWithin } from "../../auth/session";
import { guard, orm } from "../../db/client";
import { isActiveMember, listUserTokens, revokeToken } from "../../db/token-lifecycle";
import { createUserToken } from "../../db/tokens";
import { ApiError } from "../../errors";
import { USER_TOKEN_LIMIT } from "../../domain/tokens";
import { actorOf, BEARER_SECURITY, decodeCursor, errorResponses, IdParam, json, paginate, PaginationQuery, type ManagementApp } from "../common";
import {
  CreateUserApiTokenBody,
  NewUserApiTokenSchema,
  UserApiTokenListSchema,
  UserApiTokenSchema,
  userApiTokenResource,
} from "../token-resource";

/** Fresh authentication for generating a token (SPEC §4): the session's auth_time at most 5 minutes old. */
export const REAUTHENTICATION_WINDOW_SECONDS = 300;

const TAGS = ["User API tokens"];

const listRoute = createRoute({
  method: "get",
  path: "/me/api-tokens",
  operationId: "listMyApiTokens",
  tags: TAGS,
  summary: "List my user API tokens",
  description: "The caller's own user API tokens in this organization (session or user API token). Never includes secrets.",
  security: BEARER_SECURITY,
  request: { query: PaginationQuery },
  responses: { 200: { description: "A page of tokens", content: json(UserApiTokenListSchema) }, ...errorResponses(400) },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/me/api-tokens",
  operationId: "createMyApiToken",
  tags: TAGS,
  summary: "Generate a user API token",
  description:
    "Session only, with authentication at most 5 minutes old (else 403 `reauthentication_required`; an API token gets 403 " +
    "`session_required`). Returns the secret once. At most 10 active tokens per user per organization (409 `token_limit_reached`).",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: json(CreateUserApiTokenBody) } },
  responses: {
    201: { description: "Created; `token` is shown only here", content: json(NewUserApiTokenSchema) },
    ...errorResponses(400, 409, 413, 415),
  },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/me/api-tokens/{id}/revoke",
  operationId: "revokeMyApiToken",
  tags: TAGS,
  summary: "Revoke one of my user API tokens",
  description: "Stops the token on its very next request. Idempotent: revoking a revoked token returns it unchanged.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 200: { description: "The revoked token", content: json(UserApiTokenSchema) }, ...errorResponses(404, 409) },
});

/** Only members hold user tokens; a service user asking about them is refused outright. */
function requireMember(subject: Subject): void {
  if (subject.type !== "user") {
    throw new ApiError("forbidden", "Service users have no user API tokens; manage service tokens under /service-tokens.");
  }
}

export function registerMeApiTokens(app: ManagementApp): void {
  app.openapi(listRoute, async (c) => {
    const subject = c.get("subject");
    requireMember(subject);
    const { limit, cursor } = c.req.valid("query");
    const afterId = decodeCursor(cursor);
    const config = c.get("config");
    const rows = await guard(
      () => listUserTokens(orm(c.env.DB), { orgId: subject.orgId, userId: subject.id, afterId, take: limit + 1 }),
      { timeoutMs: config.dbTimeoutMs, retry: true },
    );
    const now = Date.now();
    const result = paginate(rows, limit);
    return c.json({ data: result.rows.map((t) => userApiTokenResource(t, now)), next_cursor: result.nextCursor }, 200);
  });

  app.openapi(createRouteDef, async (c) => {
    const subject = c.get("subject");
    // Any API token (a service user's included) is refused with session_required (SPEC §4).
    requireSession(subject);
    const now = Date.now();
    if (!signedInWithin(subject.authTime, REAUTHENTICATION_WINDOW_SECONDS, now)) {
      throw new ApiError(
        "reauthentication_required",
        "Generating an API token needs a fresh sign-in: authenticate again with your identity provider, then retry within 5 minutes.",
      );
    }
    const { name } = c.req.valid("json");
    const config = c.get("config");
    const created = await guard(
      () =>
        createUserToken(orm(c.env.DB), {
          orgId: subject.orgId,
          userId: subject.id,
          userName: subject.name,
          name,
          pepper: config.tokenPepper,
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (!created) {
      // The INSERT also refuses a member deactivated or removed after authentication (a race
      // with PATCH/DELETE /users or SCIM); answer that as authentication would have, not as the limit.
      const active = await guard(() => isActiveMember(orm(c.env.DB), subject.orgId, subject.id), {
        timeoutMs: config.dbTimeoutMs,
        retry: true,
      });
      if (!active) throw invalidToken("session user is not an active member of this organization");
      throw new ApiError(
        "token_limit_reached",
        `You already have ${USER_TOKEN_LIMIT} active API tokens in this organization; revoke one before generating another.`,
      );
    }
    // The secret is in this body only (SPEC §1); never cache it.
    c.header("Cache-Control", "no-store");
    return c.json({ ...userApiTokenResource(created, now), token: created.secret }, 201);
  });

  app.openapi(revokeRoute, async (c) => {
    const subject = c.get("subject");
    requireMember(subject);
    const { id } = c.req.valid("param");
    const config = c.get("config");
    const now = Date.now();
    const result = await guard(
      () =>
        revokeToken(orm(c.env.DB), {
          orgId: subject.orgId,
          tokenId: id,
          kind: "user",
          ownerUserId: subject.id,
          actor: actorOf(subject),
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    if (result.outcome === "not_found") throw new ApiError("not_found", "No such API token of yours in this organization.");
    if (result.outcome === "invalid_state") throw new ApiError("invalid_state", "The token changed while it was being revoked; try again.");
    if (result.outcome === "revoked") invalidateCached({ tokenIds: [id] });
    return c.json(userApiTokenResource(result.token, now), 200);
  });
}
