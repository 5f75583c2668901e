/**
 * SCIM Users (RFC 7643 §4.1, RFC 7644 §3): the organization's human members. userName is the
 * member's email (unique per org, case-insensitively); displayName / name.formatted is the
 * member's name; `active` is the membership status. Service users never appear here.
 *
 * This file only translates: a POST becomes `createMember`, a PUT or PATCH one `updateMember`
 * (name, email and status together, one D1 batch), a DELETE `setMemberStatus(removed)` — the
 * writes the management API's /users makes. So deprovisioning is the directory's one path: the
 * member's tokens end in the batch that deactivates or removes them, and reactivation does not
 * revive them (SPEC §1).
 */
import { z } from "@hono/zod-openapi";
import { invalidateCached } from "../auth/cache";
import { createMember, findScimMember, listScimMembers, updateMember, type MemberWriteResult, type ScimMemberRecord } from "../db/directory";
import { setMemberStatus } from "../db/members";
import { actorOf } from "../http/actor";
import type { ApiApp } from "../http/router";
import { notFound, scimError } from "./errors";
import { memberFilter } from "./filter";
import { db, leftOut, listWindow, read, readObject, scimBase, scimJson, write, type ScimContext } from "./http";
import { applyPatch, looseBoolean, patchOperations } from "./patch";
import { listResponse, userResource, type ScimUser } from "./resources";

const Email = z.string().trim().email().max(254);
const MAX_NAME = 100;

interface DesiredMember {
  email: string;
  name: string;
  /** Undefined: leave the status as it is. */
  active: boolean | undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function emailFrom(userName: unknown): string {
  const parsed = Email.safeParse(userName);
  if (!parsed.success) throw scimError("invalid_request", "userName must be the member's email address.", "invalidValue");
  return parsed.data;
}

function checkedName(name: string): string {
  if (name.length > MAX_NAME) throw scimError("invalid_request", `The member's name is longer than ${MAX_NAME} characters.`, "invalidValue");
  return name;
}

/** displayName, else name.formatted, else "givenName familyName" when both are given. */
function nameFrom(doc: Record<string, unknown>): string | undefined {
  const name = (doc["name"] ?? {}) as Record<string, unknown>;
  const given = text(name["givenName"]);
  const family = text(name["familyName"]);
  return text(doc["displayName"]) ?? text(name["formatted"]) ?? (given && family ? `${given} ${family}` : undefined);
}

function activeFrom(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  const active = looseBoolean(value);
  if (typeof active !== "boolean") throw scimError("invalid_request", "active must be true or false.", "invalidValue");
  return active;
}

/** The member a POST or PUT body describes. */
function desiredFromBody(body: Record<string, unknown>, fallbackName?: string): DesiredMember {
  const email = emailFrom(body["userName"]);
  const name = nameFrom(body) ?? fallbackName ?? email.split("@")[0]!.slice(0, MAX_NAME);
  return { email, name: checkedName(name), active: activeFrom(body["active"]) };
}

/**
 * The member after a PATCH, from what the patch changed in the rendered resource. Only our
 * attributes count; others (emails, enterprise extension, …) are accepted and not stored.
 */
function desiredFromPatch(before: ScimUser, after: Record<string, unknown>, current: ScimMemberRecord): DesiredMember {
  if (after["id"] !== before.id) throw scimError("invalid_request", "id cannot be changed.", "mutability");
  const email = after["userName"] === before.userName ? current.email : emailFrom(after["userName"]);
  const afterName = (after["name"] ?? {}) as Record<string, unknown>;
  const given = text(afterName["givenName"]);
  const family = text(afterName["familyName"]);
  let name = current.name;
  if (after["displayName"] !== before.displayName && text(after["displayName"])) name = text(after["displayName"])!;
  else if (afterName["formatted"] !== before.name.formatted && text(afterName["formatted"])) name = text(afterName["formatted"])!;
  else if (given && family) name = `${given} ${family}`;
  const active = after["active"] === before.active ? undefined : activeFrom(after["active"]);
  return { email, name: checkedName(name), active };
}

async function loadMember(c: ScimContext, id: string): Promise<ScimMemberRecord> {
  const member = await read(c, () => findScimMember(db(c), c.get("subject").orgId, id));
  if (!member) throw notFound("User", id);
  return member;
}

/** The member as stored after a write, or the SCIM error its result calls for (`id`: the member an update was for). */
async function written(c: ScimContext, result: MemberWriteResult, email: string, id = ""): Promise<ScimMemberRecord> {
  if (result.ok) {
    invalidateCached({ tokenIds: result.endedTokenIds, subjectIds: [result.member.id] });
    return loadMember(c, result.member.id);
  }
  if (result.reason === "conflict") throw scimError("conflict", `Another member already has the userName ${JSON.stringify(email)}.`, "uniqueness");
  if (result.reason === "not_found") throw notFound("User", id);
  // SCIM sends no permission sets, groups or sites with a member.
  throw scimError("invalid_request", "The member refers to ids that are not in this organization.", "invalidValue");
}

/** Writes the difference between `current` and `next` in one batch; returns the member as stored afterwards. */
async function applyMember(c: ScimContext, current: ScimMemberRecord, next: DesiredMember): Promise<ScimMemberRecord> {
  const subject = c.get("subject");
  const status = next.active === undefined ? undefined : next.active ? "active" : "deactivated";
  const result = await write(c, () =>
    updateMember(db(c), {
      orgId: subject.orgId,
      userId: current.id,
      changes: { name: next.name, email: next.email, status },
      source: "scim",
      actor: actorOf(subject),
    }),
  );
  return written(c, result, next.email, current.id);
}

function render(c: ScimContext, member: ScimMemberRecord): Record<string, unknown> {
  const resource: Record<string, unknown> = { ...userResource(member, scimBase(c)) };
  if (leftOut(c, "groups")) delete resource["groups"];
  return resource;
}

export function registerScimUsers(app: ApiApp): void {
  app.get("/scim/v2/Users", async (c) => {
    const filter = memberFilter(c.req.query("filter"));
    const window = listWindow(c);
    const { total, members } = await read(c, () => listScimMembers(db(c), c.get("subject").orgId, filter, window));
    return scimJson(listResponse(members.map((m) => render(c, m)), total, window.startIndex));
  });

  app.post("/scim/v2/Users", async (c) => {
    const subject = c.get("subject");
    const desired = desiredFromBody(await readObject(c));
    const result = await write(c, () =>
      createMember(db(c), {
        orgId: subject.orgId,
        email: desired.email,
        name: desired.name,
        status: desired.active === false ? "deactivated" : "active",
        source: "scim",
        actor: actorOf(subject),
      }),
    );
    const resource = render(c, await written(c, result, desired.email));
    return scimJson(resource, 201, { location: (resource["meta"] as { location: string }).location });
  });

  app.get("/scim/v2/Users/:id", async (c) => scimJson(render(c, await loadMember(c, c.req.param("id")))));

  app.put("/scim/v2/Users/:id", async (c) => {
    const current = await loadMember(c, c.req.param("id"));
    const body = await readObject(c);
    if (body["id"] !== undefined && body["id"] !== current.id) throw scimError("invalid_request", "id cannot be changed.", "mutability");
    const updated = await applyMember(c, current, desiredFromBody(body, current.name));
    return scimJson(render(c, updated));
  });

  app.patch("/scim/v2/Users/:id", async (c) => {
    const current = await loadMember(c, c.req.param("id"));
    const operations = patchOperations(await readObject(c));
    const before = userResource(current, scimBase(c));
    const after = applyPatch(before, operations, ["emails", "groups"]) as unknown as Record<string, unknown>;
    const updated = await applyMember(c, current, desiredFromPatch(before, after, current));
    return scimJson(render(c, updated));
  });

  app.delete("/scim/v2/Users/:id", async (c) => {
    const subject = c.get("subject");
    const id = c.req.param("id");
    const result = await write(c, () => setMemberStatus(db(c), { orgId: subject.orgId, userId: id, status: "removed", actor: actorOf(subject) }));
    if (!result.found) throw notFound("User", id);
    invalidateCached({ tokenIds: result.endedTokenIds, subjectIds: [id] });
    return c.body(null, 204);
  });
}
