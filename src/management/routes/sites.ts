/**
 * /sites (SPEC §4): the organization's sites. A member's site ids travel to the upstream in
 * X-Portcullis-Sites (SPEC §3.4) and are read live. Site names need not be unique. Needs
 * platform_management.sites.
 */
import { PERMISSION } from "../../domain/permissions";
import type { ManagementApp } from "../common";
import { registerCollectionRoutes } from "../directory-resource";

export function registerSites(app: ManagementApp): void {
  registerCollectionRoutes(app, {
    kind: "site",
    path: "/sites",
    tag: "Sites",
    permission: PERMISSION.sites,
    schemaName: "Site",
    noun: "site",
    example: { id: "site_01JABCDEFGHJKMNPQRSTVWXYZ0", name: "Melbourne warehouse" },
  });
}
