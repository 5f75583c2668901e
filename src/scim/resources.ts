/**
 * SCIM representations (RFC 7643 §4) of our rows. A member is a `users` row: userName and the
 * one work email are the member's email, displayName and name.formatted are the member's name,
 * active is `status = active`. A group is a `groups` row with its live members.
 */
import type { ScimGroupRecord, ScimMemberRecord } from "../db/directory";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export interface ScimMeta {
  resourceType: "User" | "Group";
  created: string;
  lastModified: string;
  location: string;
}

export interface ScimUser {
  schemas: string[];
  id: string;
  userName: string;
  name: { formatted: string };
  displayName: string;
  emails: { value: string; type: "work"; primary: true }[];
  active: boolean;
  groups: { value: string; display: string; $ref: string }[];
  meta: ScimMeta;
}

export interface ScimGroup {
  schemas: string[];
  id: string;
  displayName: string;
  members?: { value: string; display: string; type: "User"; $ref: string }[];
  meta: ScimMeta;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `base` is the absolute URL of /scim/v2 on this deployment. */
export function userResource(member: ScimMemberRecord, base: string): ScimUser {
  return {
    schemas: [USER_SCHEMA],
    id: member.id,
    userName: member.email,
    name: { formatted: member.name },
    displayName: member.name,
    emails: [{ value: member.email, type: "work", primary: true }],
    active: member.status === "active",
    groups: member.groups.map((g) => ({ value: g.id, display: g.name, $ref: `${base}/Groups/${g.id}` })),
    meta: { resourceType: "User", created: iso(member.createdAt), lastModified: iso(member.updatedAt), location: `${base}/Users/${member.id}` },
  };
}

export function groupResource(group: ScimGroupRecord, base: string): ScimGroup {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    displayName: group.name,
    ...(group.members
      ? { members: group.members.map((m) => ({ value: m.id, display: m.name, type: "User" as const, $ref: `${base}/Users/${m.id}` })) }
      : {}),
    // Groups keep no modification time; creation is the best we know.
    meta: { resourceType: "Group", created: iso(group.createdAt), lastModified: iso(group.createdAt), location: `${base}/Groups/${group.id}` },
  };
}

/** RFC 7644 §3.4.2 list response. */
export function listResponse<T>(resources: T[], total: number, startIndex: number) {
  return { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}
