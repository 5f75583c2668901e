/**
 * POST /orgs: bootstrap an organization and its first admin (SPEC §7), guarded by ADMIN_SECRET
 * (the operator's secret, compared in constant time). Not part of any org's API surface.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bootstrapOrganization } from "../../db/bootstrap";
import { guard, orm } from "../../db/client";
import { readBearer } from "../../auth/bearer";
import { missingCredential, invalidToken } from "../../auth/challenge";
import { blockedResponse, clientIp, noteAuthFailure } from "../../auth/rate-limit";
import { errorResponses, iso, json, NameSchema, type ManagementApp } from "../common";

const CreateOrgBody = z
  .object({
    name: NameSchema,
    admin: z.object({ name: NameSchema, email: z.string().trim().email().max(254) }).strict(),
  })
  .strict()
  .openapi("CreateOrganization");

const CreatedOrg = z
  .object({
    org: z.object({ id: z.string(), name: z.string(), created_at: z.string() }),
    admin: z.object({
      id: z.string(),
      name: z.string(),
      email: z.string(),
      status: z.literal("active"),
      permission_set_ids: z.array(z.string()),
      group_ids: z.array(z.string()),
      site_ids: z.array(z.string()),
    }),
    administrator_permission_set: z.object({ id: z.string(), name: z.string(), permissions: z.array(z.string()) }),
  })
  .openapi("CreatedOrganization");

const route = createRoute({
  method: "post",
  path: "/orgs",
  operationId: "createOrganization",
  summary: "Bootstrap an organization",
  description: "Operator only (`Authorization: Bearer <ADMIN_SECRET>`). Creates the org, its Administrator permission set and the first admin.",
  security: [{ operator: [] }],
  request: { body: { required: true, content: json(CreateOrgBody) } },
  responses: { 201: { description: "Created", content: json(CreatedOrg) }, ...errorResponses(400, 413, 415) },
});

async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}

export function registerOrgs(app: ManagementApp) {
  // The operator check runs before body validation, so an unauthenticated caller learns nothing.
  // A wrong secret is a failed authentication like any other: counted per client address, and
  // a client over the limit gets 429 before the secret is even compared (SPEC §11).
  app.use("/orgs", async (c, next) => {
    const secret = c.get("config").adminSecret;
    const bearer = readBearer(c.req.header("authorization") ?? null);
    if (!bearer.ok) throw missingCredential("This request needs the operator secret: Authorization: Bearer <ADMIN_SECRET>.");
    const ip = clientIp(c.req.raw);
    const blocked = blockedResponse(ip);
    if (blocked) throw blocked;
    if (!secret || !(await constantTimeEqual(bearer.credential, secret))) {
      throw (await noteAuthFailure(c.env.AUTH_FAILURE_LIMITER, ip)) ?? invalidToken("operator secret is wrong");
    }
    return next();
  });
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const config = c.get("config");
    const result = await guard(() => bootstrapOrganization(orm(c.env.DB), body), { timeoutMs: config.dbTimeoutMs });
    return c.json(
      {
        org: { id: result.org.id, name: result.org.name, created_at: iso(result.org.createdAt)! },
        admin: {
          id: result.admin.id,
          name: result.admin.name,
          email: result.admin.email,
          status: "active" as const,
          permission_set_ids: [result.adminPermissionSet.id],
          group_ids: [],
          site_ids: [],
        },
        administrator_permission_set: result.adminPermissionSet,
      },
      201,
    );
  });
}
