/**
 * /permission-sets (SPEC §4): named lists of permissions held by members and service users.
 * The proxy reads them live (SPEC §1), so an edit applies to every holder's existing tokens on
 * their next request. Needs platform_management.permissions.
 */
import { createRoute } from "@hono/zod-openapi";
import { invalidateCached } from "../../auth/cache";
import { orm } from "../../db/client";
import { PERMISSION } from "../../domain/permissions";
import { protect, under } from "../../http/authorize";
import {
  createPermissionSet,
  deletePermissionSet,
  findPermissionSet,
  listPermissionSets,
  updatePermissionSet,
} from "../../db/directory";
import { actorOf, BEARER_SECURITY, errorResponses, IdParam, json, paginate, PaginationQuery, type ManagementApp } from "../common";
import {
  CreatePermissionSetBody,
  notFound,
  pageAfter,
  PermissionSetListSchema,
  PermissionSetSchema,
  read,
  UpdatePermissionSetBody,
  write,
} from "../directory-resource";

const tags = ["Permission sets"];

const listRoute = createRoute({
  method: "get",
  path: "/permission-sets",
  operationId: "listPermissionSets",
  tags,
  summary: "List permission sets",
  security: BEARER_SECURITY,
  request: { query: PaginationQuery },
  responses: { 200: { description: "A page of permission sets", content: json(PermissionSetListSchema) }, ...errorResponses(400) },
});

const createSetRoute = createRoute({
  method: "post",
  path: "/permission-sets",
  operationId: "createPermissionSet",
  tags,
  summary: "Create a permission set",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: json(CreatePermissionSetBody) } },
  responses: { 201: { description: "The new permission set", content: json(PermissionSetSchema) }, ...errorResponses(400, 413, 415) },
});

const getRoute = createRoute({
  method: "get",
  path: "/permission-sets/{id}",
  operationId: "getPermissionSet",
  tags,
  summary: "View a permission set",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 200: { description: "The permission set", content: json(PermissionSetSchema) }, ...errorResponses(404) },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/permission-sets/{id}",
  operationId: "updatePermissionSet",
  tags,
  summary: "Edit a permission set",
  description: "Rename it or replace its permissions. Every holder's existing tokens carry the new permissions from their next request.",
  security: BEARER_SECURITY,
  request: { params: IdParam, body: { required: true, content: json(UpdatePermissionSetBody) } },
  responses: {
    200: { description: "The permission set after the change", content: json(PermissionSetSchema) },
    ...errorResponses(400, 404, 413, 415),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/permission-sets/{id}",
  operationId: "deletePermissionSet",
  tags,
  summary: "Delete a permission set",
  description: "Deletes the set and takes it away from every member and service user holding it, at once.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(404) },
});

/** Stored de-duplicated and sorted, the order the proxy forwards them in. */
function normalize(permissions: string[]): string[] {
  return [...new Set(permissions)].sort();
}

export function registerPermissionSets(app: ManagementApp): void {
  protect(app, under("/permission-sets"), { permissions: [PERMISSION.permissions] });

  app.openapi(listRoute, async (c) => {
    const subject = c.get("subject");
    const query = c.req.valid("query");
    const after = pageAfter(query);
    const rows = await read(c, () => listPermissionSets(orm(c.env.DB), subject.orgId, after));
    const { rows: sets, nextCursor } = paginate(rows, query.limit);
    return c.json({ data: sets, next_cursor: nextCursor }, 200);
  });

  app.openapi(createSetRoute, async (c) => {
    const subject = c.get("subject");
    const body = c.req.valid("json");
    const set = await write(c, () =>
      createPermissionSet(orm(c.env.DB), { orgId: subject.orgId, name: body.name, permissions: normalize(body.permissions), actor: actorOf(subject) }),
    );
    return c.json(set, 201);
  });

  app.openapi(getRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const set = await read(c, () => findPermissionSet(orm(c.env.DB), subject.orgId, id));
    if (!set) throw notFound("permission set");
    return c.json(set, 200);
  });

  app.openapi(updateRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const set = await write(c, () =>
      updatePermissionSet(orm(c.env.DB), {
        orgId: subject.orgId,
        id,
        name: body.name,
        permissions: body.permissions === undefined ? undefined : normalize(body.permissions),
        actor: actorOf(subject),
      }),
    );
    if (!set) throw notFound("permission set");
    invalidateCached({ orgId: subject.orgId });
    return c.json(set, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const deleted = await write(c, () => deletePermissionSet(orm(c.env.DB), { orgId: subject.orgId, id, actor: actorOf(subject) }));
    if (!deleted) throw notFound("permission set");
    invalidateCached({ orgId: subject.orgId });
    return c.body(null, 204);
  });
}
