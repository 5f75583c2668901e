/**
 * One file per resource; each exports `registerX(app)`. Registration order matters only
 * between the two groups: public routes are registered before `authenticate()`.
 */
import type { ManagementApp } from "../common";
import { registerActivityLog } from "./activity-log";
import { registerCredentialsRevoke } from "./credentials-revoke";
import { registerDocs } from "./docs";
import { registerGroups } from "./groups";
import { registerIntrospect } from "./introspect";
import { registerMeApiTokens } from "./me-api-tokens";
import { registerPermissionSets } from "./permission-sets";
import { registerSecretScanning } from "./secret-scanning";
import { registerSeats } from "./seats";
import { registerServiceTokens } from "./service-tokens";
import { registerSites } from "./sites";
import { registerUsers } from "./users";
import { registerWebhooks } from "./webhooks";

/** Routes that authenticate by other means (none, or their own rules). */
export function registerPublicRoutes(app: ManagementApp): void {
  registerDocs(app);
  registerCredentialsRevoke(app);
  registerSecretScanning(app);
}

/** Routes behind `authenticate()`. */
export function registerProtectedRoutes(app: ManagementApp): void {
  registerMeApiTokens(app);
  registerServiceTokens(app);
  registerUsers(app);
  registerGroups(app);
  registerSites(app);
  registerPermissionSets(app);
  registerSeats(app);
  registerActivityLog(app);
  registerIntrospect(app);
  registerWebhooks(app);
}
