/**
 * SCIM Groups (RFC 7643 §4.2, RFC 7644 §3): the organization's groups (`groups`) and their
 * members (`user_groups`). Members are users of this organization; an unknown member id (or
 * another organization's) is 400 invalidValue. Membership changes apply to the members' user
 * tokens on their next request (the proxy forwards group ids, SPEC §3.4).
 *
 * This file only translates: POST, PUT/PATCH and DELETE become the directory's group writes
 * (db/directory/collections.ts), the ones the management API's /groups makes, so the name rule
 * is the same for both: displayName is unique in the organization, ignoring letter case (409
 * uniqueness), on create and on rename.
 */
import { invalidateCached } from "../auth/cache";
import {
  createInCollection,
  deleteFromCollection,
  findScimGroup,
  listScimGroups,
  updateInCollection,
  type CollectionWriteResult,
  type ScimGroupRecord,
} from "../db/directory";
import { actorOf } from "../http/actor";
import type { ApiApp } from "../http/router";
import { notFound, scimError } from "./errors";
import { groupFilter } from "./filter";
import { db, leftOut, listWindow, read, readObject, scimBase, scimJson, write, type ScimContext } from "./http";
import { applyPatch, patchOperations } from "./patch";
import { groupResource, listResponse } from "./resources";

const MAX_NAME = 100;

function displayNameFrom(value: unknown): string {
  const name = typeof value === "string" ? value.trim() : "";
  if (name === "" || name.length > MAX_NAME) {
    throw scimError("invalid_request", `displayName is required and at most ${MAX_NAME} characters.`, "invalidValue");
  }
  return name;
}

/** Member ids from a `members` value: `[{"value": "usr_…"}, …]`; absent means none. */
function memberIdsFrom(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw scimError("invalid_request", "members must be an array.", "invalidValue");
  const ids = value.map((m) => {
    const id = (m as { value?: unknown } | null)?.value;
    if (typeof id !== "string" || id === "") throw scimError("invalid_request", 'Each member needs a "value" holding a user id.', "invalidValue");
    return id;
  });
  return [...new Set(ids)];
}

async function loadGroup(c: ScimContext, id: string, withMembers = true): Promise<ScimGroupRecord> {
  const group = await read(c, () => findScimGroup(db(c), c.get("subject").orgId, id, withMembers));
  if (!group) throw notFound("Group", id);
  return group;
}

/** The group as stored after a write, or the SCIM error its result calls for. */
async function written(c: ScimContext, result: CollectionWriteResult, name: string, id = ""): Promise<ScimGroupRecord> {
  if (result.ok) return loadGroup(c, result.item.id);
  if (result.reason === "conflict") throw scimError("conflict", `A group named ${JSON.stringify(name)} already exists.`, "uniqueness");
  if (result.reason === "not_found") throw notFound("Group", id);
  const { unknown } = result;
  throw scimError("invalid_request", `Unknown user(s) in members: ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ", …" : ""}.`, "invalidValue");
}

/** Renames and sets the members to `memberIds`; returns the group as stored afterwards. */
async function applyGroup(c: ScimContext, current: ScimGroupRecord, name: string, memberIds: string[]): Promise<ScimGroupRecord> {
  const subject = c.get("subject");
  const before = new Set((current.members ?? []).map((m) => m.id));
  const after = new Set(memberIds);
  const add = memberIds.filter((id) => !before.has(id));
  const remove = [...before].filter((id) => !after.has(id));
  const result = await write(c, () =>
    updateInCollection(db(c), "group", { orgId: subject.orgId, id: current.id, name, add, remove, source: "scim", actor: actorOf(subject) }),
  );
  if (result.ok && add.length + remove.length > 0) invalidateCached({ subjectIds: [...add, ...remove] });
  return written(c, result, name, current.id);
}

function render(c: ScimContext, group: ScimGroupRecord) {
  const resource = groupResource(group, scimBase(c));
  if (leftOut(c, "members")) delete resource.members;
  return resource;
}

export function registerScimGroups(app: ApiApp): void {
  app.get("/scim/v2/Groups", async (c) => {
    const filter = groupFilter(c.req.query("filter"));
    const window = listWindow(c);
    const withMembers = !leftOut(c, "members");
    const { total, groups } = await read(c, () => listScimGroups(db(c), c.get("subject").orgId, filter, window, withMembers));
    return scimJson(listResponse(groups.map((g) => render(c, g)), total, window.startIndex));
  });

  app.post("/scim/v2/Groups", async (c) => {
    const subject = c.get("subject");
    const body = await readObject(c);
    const name = displayNameFrom(body["displayName"]);
    const memberIds = memberIdsFrom(body["members"]);
    const result = await write(c, () =>
      createInCollection(db(c), "group", { orgId: subject.orgId, name, memberIds, source: "scim", actor: actorOf(subject) }),
    );
    if (result.ok) invalidateCached({ subjectIds: memberIds });
    const resource = render(c, await written(c, result, name));
    return scimJson(resource, 201, { location: resource.meta.location });
  });

  app.get("/scim/v2/Groups/:id", async (c) => scimJson(render(c, await loadGroup(c, c.req.param("id"), !leftOut(c, "members")))));

  app.put("/scim/v2/Groups/:id", async (c) => {
    const current = await loadGroup(c, c.req.param("id"));
    const body = await readObject(c);
    if (body["id"] !== undefined && body["id"] !== current.id) throw scimError("invalid_request", "id cannot be changed.", "mutability");
    const updated = await applyGroup(c, current, displayNameFrom(body["displayName"]), memberIdsFrom(body["members"]));
    return scimJson(render(c, updated));
  });

  app.patch("/scim/v2/Groups/:id", async (c) => {
    const current = await loadGroup(c, c.req.param("id"));
    const operations = patchOperations(await readObject(c));
    const before = groupResource(current, scimBase(c));
    const after = applyPatch({ ...before, members: before.members ?? [] }, operations, ["members"]) as unknown as Record<string, unknown>;
    if (after["id"] !== before.id) throw scimError("invalid_request", "id cannot be changed.", "mutability");
    const updated = await applyGroup(c, current, displayNameFrom(after["displayName"]), memberIdsFrom(after["members"]));
    return scimJson(render(c, updated));
  });

  app.delete("/scim/v2/Groups/:id", async (c) => {
    const subject = c.get("subject");
    const id = c.req.param("id");
    const deleted = await write(c, () => deleteFromCollection(db(c), "group", { orgId: subject.orgId, id, source: "scim", actor: actorOf(subject) }));
    if (!deleted) throw notFound("Group", id);
    // As for the management API's delete: every member's resolved groups change.
    invalidateCached({ orgId: subject.orgId });
    return c.body(null, 204);
  });
}
