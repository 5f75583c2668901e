/**
 * The management API (SPEC §4), mounted under MANAGEMENT_PREFIX. Public routes are registered
 * before `authenticate()`; Hono runs matching handlers in registration order, so everything
 * registered after it requires a valid API token or session.
 */
import { withConfig } from "../config";
import { actAsConsoleMember, authenticate } from "../auth/middleware";
import { scimErrorShape } from "../scim/errors";
import { bodyGuard } from "./body-guard";
import { createRouter, noStoreByDefault, type ManagementApp } from "./common";
import { registerJwks } from "./routes/jwks";
import { registerMe } from "./routes/me";
import { registerOrgs } from "./routes/orgs";
import { registerPublicRoutes, registerProtectedRoutes } from "./routes";
import { registerOpenApi } from "./openapi";

export function createManagementApp(prefix: string): ManagementApp {
  const app = createRouter();
  app.use("*", withConfig());
  app.use("*", actAsConsoleMember());
  app.use("*", noStoreByDefault());
  // SCIM clients expect SCIM-shaped errors for every failure on /scim/v2, including the body
  // guard's 413/415 and authentication's 401/403, which happen before any SCIM route runs.
  app.use("/scim/v2/*", scimErrorShape());
  app.use("*", bodyGuard());

  // Public.
  registerJwks(app);
  registerOrgs(app);
  registerPublicRoutes(app);
  // The document is generated per request from the registry, so it lists routes added below too.
  registerOpenApi(app, prefix);

  // Everything below needs a credential.
  app.use("*", authenticate());
  registerMe(app);
  registerProtectedRoutes(app);
  return app;
}
