/**
 * GET /seats (SPEC §4; seeds: user tokens count toward the user's seat, service users never do):
 * the number of active human members. Deactivated and removed members and service users are
 * not seats. Needs platform_management.users.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { orm } from "../../db/client";
import { countSeats } from "../../db/directory";
import { BEARER_SECURITY, errorResponses, json, type ManagementApp } from "../common";
import { read } from "../directory-resource";
import { PERMISSION } from "../../domain/permissions";
import { protect, under } from "../../http/authorize";

const SeatsSchema = z
  .object({ seats: z.number().int().min(0).openapi({ example: 12 }) })
  .openapi("Seats", { description: "Active human members; service users never count." });

const route = createRoute({
  method: "get",
  path: "/seats",
  operationId: "countSeats",
  tags: ["Users"],
  summary: "Count billable seats",
  security: BEARER_SECURITY,
  // No parameters; an unknown one is a 400 like everywhere else.
  request: { query: z.object({}).strict() },
  responses: { 200: { description: "The seat count", content: json(SeatsSchema) }, ...errorResponses(400) },
});

export function registerSeats(app: ManagementApp): void {
  protect(app, under("/seats"), { permissions: [PERMISSION.users] });
  app.openapi(route, async (c) => {
    const subject = c.get("subject");
    const seats = await read(c, () => countSeats(orm(c.env.DB), subject.orgId));
    return c.json({ seats }, 200);
  });
}
