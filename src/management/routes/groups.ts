/**
 * /groups (SPEC §4): the organization's groups. A member's group ids travel to the upstream in
 * X-Portcullis-Groups (SPEC §3.4) and are read live. A group's name is unique in the organization,
 * compared ignoring letter case, for this API and SCIM alike (db/directory/rules.ts): a name
 * another group has is 409 `conflict`. Needs platform_management.groups.
 */
import { PERMISSION } from "../../domain/permissions";
import type { ManagementApp } from "../common";
import { registerCollectionRoutes } from "../directory-resource";

export function registerGroups(app: ManagementApp): void {
  registerCollectionRoutes(app, {
    kind: "group",
    path: "/groups",
    tag: "Groups",
    permission: PERMISSION.groups,
    schemaName: "Group",
    noun: "group",
    example: { id: "grp_01JABCDEFGHJKMNPQRSTVWXYZ0", name: "Night shift" },
  });
}
