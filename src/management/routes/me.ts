import { createRoute, z } from "@hono/zod-openapi";
import { BEARER_SECURITY, errorResponses, json, type ManagementApp } from "../common";

export const MeSchema = z
  .object({
    subject: z.object({
      id: z.string(),
      type: z.enum(["user", "service_user"]),
      name: z.string(),
    }),
    org: z.object({ id: z.string() }),
    credential: z.enum(["api_token", "session"]),
    token_id: z.string().nullable(),
    permissions: z.array(z.string()),
    groups: z.array(z.string()),
    sites: z.array(z.string()),
  })
  .openapi("Me");

const route = createRoute({
  method: "get",
  path: "/me",
  operationId: "getMe",
  summary: "The caller",
  description: "Who the credential belongs to, in which org, with the permissions, groups and sites it carries now.",
  security: BEARER_SECURITY,
  responses: { 200: { description: "The caller", content: json(MeSchema) }, ...errorResponses() },
});

export function registerMe(app: ManagementApp) {
  app.openapi(route, (c) => {
    const s = c.get("subject");
    return c.json({
      subject: { id: s.id, type: s.type, name: s.name },
      org: { id: s.orgId },
      credential: s.credential,
      token_id: s.tokenId,
      permissions: s.permissions,
      groups: s.groups,
      sites: s.sites,
    }, 200);
  });
}
