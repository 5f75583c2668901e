/**
 * SCIM 2.0 provisioning at `<prefix>/scim/v2` (RFC 7643, RFC 7644 core; SPEC §4): Users and
 * Groups with create, get, filtered and paged list, replace (PUT), PATCH and delete, plus the
 * discovery endpoints. Registered behind authenticate(); only a service user API token holding
 * platform_management.users and platform_management.groups may call it (the seeds' rule).
 * Responses and errors are `application/scim+json`.
 */
import type { ApiApp } from "../http/router";
import { registerScimDiscovery } from "./discovery";
import { scimErrorShape } from "./errors";
import { registerScimGroups } from "./groups";
import { protect } from "../http/authorize";
import { PROVISIONER } from "./http";
import { registerScimUsers } from "./users";

export function registerScim(app: ApiApp): void {
  // Errors are rewritten to SCIM's shape by scimErrorShape(), installed in createApiApp
  // before the body guard and authenticate(), so every failure on /scim/v2 is covered.
  protect(app, ["/scim/v2/*"], PROVISIONER);
  registerScimDiscovery(app);
  registerScimUsers(app);
  registerScimGroups(app);
}

/**
 * How the app mounts SCIM under the management prefix: SCIM clients expect SCIM-shaped errors
 * for every failure on /scim/v2 (RFC 7644 §3.12), so the error shape is installed before the
 * body guard and authenticate(); the routes come after authenticate().
 */
export const SCIM_API = { path: "/scim/v2/*", errorShape: scimErrorShape(), register: registerScim } as const;
