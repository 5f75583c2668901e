/**
 * POST /introspect: OAuth 2.0 Token Introspection (RFC 7662) for Portcullis API tokens, for
 * holders of `integrations.manage`. The token is judged by verifyApiToken, exactly as the proxy
 * judges it, so "active" here means "the proxy would forward a request with it now".
 *
 * RFC 7662 §2.2: anything not active — malformed, unknown, revoked, expired, deleted, a member
 * no longer active, or a token of another organization — is `{"active": false}` and nothing
 * else, so the answer never tells a caller more than whether the token works in its own org.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { verifyApiToken } from "../../auth/api-token";
import { orm } from "../../db/client";
import { tokenCreatedAt } from "../../db/tokens";
import { PERMISSION } from "../../domain/permissions";
import { protect } from "../../http/authorize";
import { read } from "../../http/storage";
import { BEARER_SECURITY, errorResponses, json, type ManagementApp } from "../common";

// RFC 7662 §2.1: other parameters (e.g. token_type_hint) may be sent and are ignored.
const IntrospectionRequest = z
  .object({
    token: z.string().min(1).max(4_096).openapi({ description: "The API token to introspect (pcu_… or pcs_…)." }),
    token_type_hint: z.string().max(100).optional(),
  })
  .openapi("IntrospectionRequest");

const IntrospectionResponse = z
  .object({
    active: z.boolean(),
    sub: z.string().optional().openapi({ description: "The subject: user id or service user id." }),
    token_type: z.enum(["user", "service_user"]).optional(),
    scope: z.string().optional().openapi({ description: "The subject's current permissions, space-separated." }),
    iat: z.number().int().optional().openapi({ description: "When the token was created (seconds since the epoch)." }),
    exp: z.number().int().optional().openapi({
      description:
        "The idle deadline: when the token expires if it is not used before (seconds). For the previous secret of a rolled token, " +
        "the end of its grace when that comes first.",
    }),
    org: z.string().optional().openapi({ description: "The organization the token belongs to." }),
    username: z.string().optional().openapi({ description: "The subject's display name." }),
    token_id: z.string().optional().openapi({ description: "The token's id in the management API." }),
  })
  .openapi("IntrospectionResponse");

const route = createRoute({
  method: "post",
  path: "/introspect",
  operationId: "introspectToken",
  tags: ["Introspection"],
  summary: "Introspect an API token (RFC 7662)",
  description:
    "Needs `integrations.manage`. Form body `token=<api token>`. Answers `{\"active\": false}` alone for any token that would not " +
    "be accepted now, or that belongs to another organization; for an active token, its subject, kind, permissions, creation time " +
    "and idle deadline.",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: { "application/x-www-form-urlencoded": { schema: IntrospectionRequest } } } },
  responses: {
    200: { description: "The token's state", content: json(IntrospectionResponse) },
    ...errorResponses(400, 413, 415),
  },
});

const seconds = (ms: number) => Math.floor(ms / 1000);

export function registerIntrospect(app: ManagementApp): void {
  // Checked before the body is read, so a caller without the permission learns nothing.
  protect(app, ["/introspect"], { permissions: [PERMISSION.integrationsManage] });
  app.openapi(route, async (c) => {
    const { token } = c.req.valid("form");
    const subject = c.get("subject");
    const config = c.get("config");
    const check = await verifyApiToken(c.env.DB, config, token.trim());
    if (!check.ok || check.token.orgId !== subject.orgId) return c.json({ active: false }, 200);
    const resolved = check.token;
    const createdAt = await read(c, () => tokenCreatedAt(orm(c.env.DB), resolved.tokenId));
    // Deleted between the two reads: not active any more.
    if (createdAt === null) return c.json({ active: false }, 200);
    return c.json(
      {
        active: true,
        sub: resolved.subjectId,
        token_type: resolved.kind,
        scope: resolved.permissions.join(" "),
        iat: seconds(createdAt),
        // The previous secret of a rolled token stops at its grace deadline if not sooner (SPEC §9).
        exp: seconds(resolved.previousExpiresAt === null ? resolved.expiresAt : Math.min(resolved.expiresAt, resolved.previousExpiresAt)),
        org: resolved.orgId,
        username: resolved.subjectName,
        token_id: resolved.tokenId,
      },
      200,
    );
  });
}
