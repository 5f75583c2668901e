/**
 * SCIM 2.0 provisioning at `<prefix>/scim/v2` (RFC 7643, RFC 7644 core; SPEC §4): Users and
 * Groups with create, get, filtered and paged list, replace (PUT), PATCH and delete, plus the
 * discovery endpoints. Registered behind authenticate(); only a service user API token holding
 * platform_management.users and platform_management.groups may call it (the seeds' rule).
 * Responses and errors are `application/scim+json`.
 */
import type { ManagementApp } from "../management/common";
import { registerScimDiscovery } from "./discovery";
import { registerScimGroups } from "./groups";
import { requireProvisioner } from "./http";
import { registerScimUsers } from "./users";

export function registerScim(app: ManagementApp): void {
  // Errors are rewritten to SCIM's shape by scimErrorShape(), installed in createManagementApp
  // before the body guard and authenticate(), so every failure on /scim/v2 is covered.
  app.use("/scim/v2/*", requireProvisioner);
  registerScimDiscovery(app);
  registerScimUsers(app);
  registerScimGroups(app);
}
