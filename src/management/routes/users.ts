/**
 * /users (SPEC §4): the organization's human members, with their permission sets, groups and
 * sites, which the proxy resolves live. Deactivating or removing a member ends all of their
 * tokens in this organization in the same batch (db/members.ts); reactivation revives none.
 * Needs platform_management.users. Service users never appear here.
 */
import { createRoute } from "@hono/zod-openapi";
import { invalidateCached } from "../../auth/cache";
import { orm } from "../../db/client";
import { createMember, findMember, listMembers, updateMember, type MemberWriteResult } from "../../db/directory";
import { setMemberStatus } from "../../db/members";
import { PERMISSION } from "../../domain/permissions";
import { ApiError } from "../../errors";
import { protect, under } from "../../http/authorize";
import { actorOf, BEARER_SECURITY, errorResponses, IdParam, json, paginate, PaginationQuery, type ManagementApp } from "../common";
import {
  CreateUserBody,
  notFound,
  pageAfter,
  read,
  serializeUser,
  unique,
  unknownRefsError,
  UpdateUserBody,
  UserListSchema,
  UserSchema,
  write,
} from "../directory-resource";

const tags = ["Users"];

const listRoute = createRoute({
  method: "get",
  path: "/users",
  operationId: "listUsers",
  tags,
  summary: "List members",
  description: "Active and deactivated members in creation order. Removed members and service users are never listed.",
  security: BEARER_SECURITY,
  request: { query: PaginationQuery },
  responses: { 200: { description: "A page of members", content: json(UserListSchema) }, ...errorResponses(400) },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/users",
  operationId: "createUser",
  tags,
  summary: "Add a member",
  security: BEARER_SECURITY,
  request: { body: { required: true, content: json(CreateUserBody) } },
  responses: {
    201: { description: "The new member", content: json(UserSchema) },
    ...errorResponses(400, 409, 413, 415),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/users/{id}",
  operationId: "getUser",
  tags,
  summary: "View a member",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 200: { description: "The member", content: json(UserSchema) }, ...errorResponses(404) },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/users/{id}",
  operationId: "updateUser",
  tags,
  summary: "Edit a member",
  description:
    "Any of name, email, the three id lists (each replaces the whole list) and status. Permission changes apply to the member's existing tokens on their next request. `status: \"deactivated\"` ends every token of the member in this organization for good.",
  security: BEARER_SECURITY,
  request: { params: IdParam, body: { required: true, content: json(UpdateUserBody) } },
  responses: {
    200: { description: "The member after the change", content: json(UserSchema) },
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/users/{id}",
  operationId: "deleteUser",
  tags,
  summary: "Remove a member",
  description: "Removes the member from this organization and ends all of their tokens here for good. Afterwards the id is 404.",
  security: BEARER_SECURITY,
  request: { params: IdParam },
  responses: { 204: { description: "Removed" }, ...errorResponses(404, 409) },
});

/** Locking oneself out is never what the caller meant; another admin (or SCIM) can do it. */
function refuseSelf(subjectId: string, userId: string, action: string): void {
  if (subjectId === userId) throw new ApiError("invalid_state", `You cannot ${action} yourself.`);
}

function unwrap(result: MemberWriteResult, email?: string) {
  if (result.ok) return result;
  if (result.reason === "not_found") throw notFound("user");
  if (result.reason === "conflict") throw new ApiError("conflict", `A member with the email ${email ?? ""} already exists in this organization.`);
  throw unknownRefsError(result.unknown);
}

export function registerUsers(app: ManagementApp): void {
  protect(app, under("/users"), { permissions: [PERMISSION.users] });

  app.openapi(listRoute, async (c) => {
    const subject = c.get("subject");
    const query = c.req.valid("query");
    const after = pageAfter(query);
    const rows = await read(c, () => listMembers(orm(c.env.DB), subject.orgId, after));
    const { rows: members, nextCursor } = paginate(rows, query.limit);
    return c.json({ data: members.map(serializeUser), next_cursor: nextCursor }, 200);
  });

  app.openapi(createRouteDef, async (c) => {
    const subject = c.get("subject");
    const body = c.req.valid("json");
    const result = unwrap(
      await write(c, () =>
        createMember(orm(c.env.DB), {
          orgId: subject.orgId,
          name: body.name,
          email: body.email,
          refs: { permissionSetIds: unique(body.permission_set_ids), groupIds: unique(body.group_ids), siteIds: unique(body.site_ids) },
          actor: actorOf(subject),
        }),
      ),
      body.email,
    );
    return c.json(serializeUser(result.member), 201);
  });

  app.openapi(getRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const member = await read(c, () => findMember(orm(c.env.DB), subject.orgId, id));
    if (!member) throw notFound("user");
    return c.json(serializeUser(member), 200);
  });

  app.openapi(updateRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.status === "deactivated") refuseSelf(subject.id, id, "deactivate");
    const result = unwrap(
      await write(c, () =>
        updateMember(orm(c.env.DB), {
          orgId: subject.orgId,
          userId: id,
          changes: {
            name: body.name,
            email: body.email,
            status: body.status,
            permissionSetIds: unique(body.permission_set_ids),
            groupIds: unique(body.group_ids),
            siteIds: unique(body.site_ids),
          },
          actor: actorOf(subject),
        }),
      ),
      body.email,
    );
    // Permissions, groups and sites are read live; a cached resolution must not outlive this.
    invalidateCached({ orgId: subject.orgId, tokenIds: result.endedTokenIds });
    return c.json(serializeUser(result.member), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    refuseSelf(subject.id, id, "remove");
    const result = await write(c, () =>
      setMemberStatus(orm(c.env.DB), { orgId: subject.orgId, userId: id, status: "removed", actor: actorOf(subject) }),
    );
    if (!result.found) throw notFound("user");
    invalidateCached({ orgId: subject.orgId, tokenIds: result.endedTokenIds });
    return c.body(null, 204);
  });
}
