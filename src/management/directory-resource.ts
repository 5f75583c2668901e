/**
 * What the directory routes share (SPEC §4): the resource schemas (the same zod schemas validate
 * requests and generate the OpenAPI document), serializers from db records to the contract's
 * field names, and the mapping of data-layer results to API errors. The rules themselves (one
 * live member per email, one group per name) are decided by the directory layer (db/directory,
 * rules.ts); the routes only document and report them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { invalidateCached } from "../auth/cache";
import { orm } from "../db/client";
import {
  createInCollection,
  deleteFromCollection,
  findInCollection,
  hasUniqueNames,
  listCollection,
  updateInCollection,
  type Collection,
  type CollectionWriteResult,
  type Member,
  type UnknownRefs,
} from "../db/directory";
import { ApiError } from "../errors";
import { protect, under } from "../http/authorize";
import { pageAfter } from "../http/paging";
import { read, write } from "../http/storage";
import { PERMISSION_PATTERN, type PlatformPermission } from "../domain/permissions";
import {
  actorOf,
  BEARER_SECURITY,
  errorResponses,
  IdParam,
  json,
  NameSchema,
  paginate,
  PaginationQuery,
  shownId,
  type ManagementApp,
} from "./common";

// ---------------------------------------------------------------------------------------------
// Schemas

export const DirectoryName = NameSchema.openapi({ description: "1–100 characters, trimmed.", example: "Dana Inspector" });

export const EmailSchema = z.string().trim().max(254).email().openapi({ example: "dana@example.com" });

/** Ids are de-duplicated; an id that is not this organization's is 400 invalid_request. */
function idList(description: string, example: string) {
  return z.array(z.string().min(1).max(100)).max(500).openapi({ description, example: [example] });
}

const PermissionSetIds = idList("Permission sets the member holds (replaces the whole list).", "ps_01JABCDEFGHJKMNPQRSTVWXYZ0");
const GroupIds = idList("Groups the member belongs to (replaces the whole list).", "grp_01JABCDEFGHJKMNPQRSTVWXYZ0");
const SiteIds = idList("Sites the member belongs to (replaces the whole list).", "site_01JABCDEFGHJKMNPQRSTVWXYZ0");

export const UserSchema = z
  .object({
    id: z.string().openapi({ example: "usr_01JABCDEFGHJKMNPQRSTVWXYZ0" }),
    name: z.string().openapi({ example: "Dana Inspector" }),
    email: z.string().openapi({ example: "dana@example.com" }),
    status: z.enum(["active", "deactivated"]),
    permission_set_ids: z.array(z.string()),
    group_ids: z.array(z.string()),
    site_ids: z.array(z.string()),
  })
  .openapi("User", { description: "A human member of the organization. Service users never appear here." });

export const UserListSchema = z
  .object({ data: z.array(UserSchema), next_cursor: z.string().nullable() })
  .openapi("UserList");

export const CreateUserBody = z
  .object({
    name: DirectoryName,
    email: EmailSchema,
    permission_set_ids: PermissionSetIds.optional(),
    group_ids: GroupIds.optional(),
    site_ids: SiteIds.optional(),
  })
  .strict()
  .openapi("CreateUser");

export const UpdateUserBody = z
  .object({
    name: DirectoryName.optional(),
    email: EmailSchema.optional(),
    permission_set_ids: PermissionSetIds.optional(),
    group_ids: GroupIds.optional(),
    site_ids: SiteIds.optional(),
    status: z.enum(["active", "deactivated"]).optional().openapi({
      description: "`deactivated` ends all of the member's tokens in this organization for good; `active` does not revive them.",
    }),
  })
  .strict()
  .openapi("UpdateUser");

export const PermissionList = z
  .array(
    z
      .string()
      .max(100)
      .regex(PERMISSION_PATTERN, "must be dotted lower-case words, e.g. inspections.view"),
  )
  .max(200)
  .openapi({ description: "Permission strings; stored de-duplicated and sorted.", example: ["inspections.view", "inspections.edit"] });

export const PermissionSetSchema = z
  .object({
    id: z.string().openapi({ example: "ps_01JABCDEFGHJKMNPQRSTVWXYZ0" }),
    name: z.string().openapi({ example: "Inspectors" }),
    permissions: z.array(z.string()).openapi({ example: ["inspections.edit", "inspections.view"] }),
  })
  .openapi("PermissionSet");

export const PermissionSetListSchema = z
  .object({ data: z.array(PermissionSetSchema), next_cursor: z.string().nullable() })
  .openapi("PermissionSetList");

export const CreatePermissionSetBody = z
  .object({ name: DirectoryName.openapi({ example: "Inspectors" }), permissions: PermissionList })
  .strict()
  .openapi("CreatePermissionSet");

export const UpdatePermissionSetBody = z
  .object({ name: DirectoryName.optional().openapi({ example: "Inspectors" }), permissions: PermissionList.optional() })
  .strict()
  .openapi("UpdatePermissionSet");

// ---------------------------------------------------------------------------------------------
// Serializers and helpers

export function serializeUser(member: Member) {
  return {
    id: member.id,
    name: member.name,
    email: member.email,
    status: member.status,
    permission_set_ids: member.permissionSetIds,
    group_ids: member.groupIds,
    site_ids: member.siteIds,
  };
}

/** De-duplicated, in first-seen order. */
export function unique(ids: string[] | undefined): string[] | undefined {
  return ids === undefined ? undefined : [...new Set(ids)];
}

export function notFound(what: string): ApiError {
  return new ApiError("not_found", `No such ${what} in this organization.`);
}

export function unknownRefsError(unknown: UnknownRefs): ApiError {
  const shown = Object.fromEntries(Object.entries(unknown).map(([field, ids]) => [field, (ids as string[]).map(shownId)]));
  const parts = Object.entries(shown).map(([field, ids]) => `${field}: ${ids.join(", ")}`);
  return new ApiError(
    "invalid_request",
    `Invalid request: these ids are not in this organization: ${parts.join("; ")}.`,
    {},
    { unknown_ids: shown },
  );
}

export { pageAfter, read, write };

// ---------------------------------------------------------------------------------------------
// Groups and sites share one shape ({id, name}) and one set of routes; group names are unique.

export interface CollectionSpec {
  kind: Collection;
  /** Path below the prefix, e.g. "/groups". */
  path: string;
  tag: string;
  permission: PlatformPermission;
  /** OpenAPI component name, e.g. "Group". */
  schemaName: string;
  noun: string;
  example: { id: string; name: string };
}

function unwrapCollection(spec: CollectionSpec, result: CollectionWriteResult, name: string | undefined) {
  if (result.ok) return result.item;
  if (result.reason === "not_found") throw notFound(spec.noun);
  if (result.reason === "conflict") {
    throw new ApiError("conflict", `Another ${spec.noun} of this organization is already named ${JSON.stringify(name)} (names are compared ignoring letter case).`);
  }
  // The API sends no members; only SCIM can name unknown ones.
  throw new ApiError("invalid_request", `Invalid request: these members are not in this organization: ${result.unknown.map(shownId).join(", ")}.`);
}

export function registerCollectionRoutes(app: ManagementApp, spec: CollectionSpec): void {
  const unique = hasUniqueNames(spec.kind);
  const nameRule = `Names are unique among the organization's ${spec.noun}s, compared ignoring letter case: a name another ${spec.noun} has is 409 \`conflict\`.`;
  const conflict = unique ? [409] : [];
  const Item = z
    .object({ id: z.string().openapi({ example: spec.example.id }), name: z.string().openapi({ example: spec.example.name }) })
    .openapi(spec.schemaName);
  const List = z.object({ data: z.array(Item), next_cursor: z.string().nullable() }).openapi(`${spec.schemaName}List`);
  const Name = DirectoryName.openapi({ example: spec.example.name });
  const CreateBody = z.object({ name: Name }).strict().openapi(`Create${spec.schemaName}`);
  const UpdateBody = z.object({ name: Name.optional() }).strict().openapi(`Update${spec.schemaName}`);
  const tags = [spec.tag];
  const item = json(Item);
  const byId = `${spec.path}/{id}`;

  const list = createRoute({
    method: "get",
    path: spec.path,
    operationId: `list${spec.schemaName}s`,
    tags,
    summary: `List ${spec.noun}s`,
    security: BEARER_SECURITY,
    request: { query: PaginationQuery },
    responses: { 200: { description: `A page of ${spec.noun}s`, content: json(List) }, ...errorResponses(400) },
  });
  const create = createRoute({
    method: "post",
    path: spec.path,
    operationId: `create${spec.schemaName}`,
    tags,
    summary: `Create a ${spec.noun}`,
    ...(unique ? { description: nameRule } : {}),
    security: BEARER_SECURITY,
    request: { body: { required: true, content: json(CreateBody) } },
    responses: { 201: { description: `The new ${spec.noun}`, content: item }, ...errorResponses(400, ...conflict, 413, 415) },
  });
  const get = createRoute({
    method: "get",
    path: byId,
    operationId: `get${spec.schemaName}`,
    tags,
    summary: `View a ${spec.noun}`,
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 200: { description: `The ${spec.noun}`, content: item }, ...errorResponses(404) },
  });
  const update = createRoute({
    method: "patch",
    path: byId,
    operationId: `update${spec.schemaName}`,
    tags,
    summary: `Rename a ${spec.noun}`,
    ...(unique ? { description: `${nameRule} Its own name in another letter case is allowed.` } : {}),
    security: BEARER_SECURITY,
    request: { params: IdParam, body: { required: true, content: json(UpdateBody) } },
    responses: { 200: { description: `The ${spec.noun} after the change`, content: item }, ...errorResponses(400, 404, ...conflict, 413, 415) },
  });
  const remove = createRoute({
    method: "delete",
    path: byId,
    operationId: `delete${spec.schemaName}`,
    tags,
    summary: `Delete a ${spec.noun}`,
    description: `Deletes the ${spec.noun} and every membership in it, at once. Members' tokens stop carrying it on their next request.`,
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errorResponses(404) },
  });

  protect(app, under(spec.path), { permissions: [spec.permission] });

  app.openapi(list, async (c) => {
    const subject = c.get("subject");
    const query = c.req.valid("query");
    const after = pageAfter(query);
    const rows = await read(c, () => listCollection(orm(c.env.DB), spec.kind, subject.orgId, after));
    const { rows: items, nextCursor } = paginate(rows, query.limit);
    return c.json({ data: items, next_cursor: nextCursor }, 200);
  });

  app.openapi(create, async (c) => {
    const subject = c.get("subject");
    const { name } = c.req.valid("json");
    const result = await write(c, () => createInCollection(orm(c.env.DB), spec.kind, { orgId: subject.orgId, name, actor: actorOf(subject) }));
    return c.json(unwrapCollection(spec, result, name), 201);
  });

  app.openapi(get, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const found = await read(c, () => findInCollection(orm(c.env.DB), spec.kind, subject.orgId, id));
    if (!found) throw notFound(spec.noun);
    return c.json(found, 200);
  });

  app.openapi(update, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const { name } = c.req.valid("json");
    const result = await write(c, () => updateInCollection(orm(c.env.DB), spec.kind, { orgId: subject.orgId, id, name, actor: actorOf(subject) }));
    return c.json(unwrapCollection(spec, result, name), 200);
  });

  app.openapi(remove, async (c) => {
    const subject = c.get("subject");
    const { id } = c.req.valid("param");
    const deleted = await write(c, () => deleteFromCollection(orm(c.env.DB), spec.kind, { orgId: subject.orgId, id, actor: actorOf(subject) }));
    if (!deleted) throw notFound(spec.noun);
    // Members' resolved groups/sites change; a cached resolution must not outlive this.
    invalidateCached({ orgId: subject.orgId });
    return c.body(null, 204);
  });
}
