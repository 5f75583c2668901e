/**
 * The management API (SPEC §4), mounted under MANAGEMENT_PREFIX. Public routes are registered
 * before `authenticate()`; Hono runs matching handlers in registration order, so everything
 * registered after it requires a valid API token or session.
 */
import type { MiddlewareHandler } from "hono";
import { withConfig } from "../config";
import { actAsConsoleMember, authenticate } from "../auth/middleware";
import type { AppEnv } from "../env";
import { bodyGuard } from "./body-guard";
import { createRouter, noStoreByDefault, type ManagementApp } from "./common";
import { registerJwks } from "./routes/jwks";
import { registerMe } from "./routes/me";
import { registerOrgs } from "./routes/orgs";
import { registerPublicRoutes, registerProtectedRoutes } from "./routes";
import { registerOpenApi } from "./openapi";
import { dispatchAfterChange } from "../signals/after-change";

/**
 * Another API served under the prefix (SCIM), mounted by the app: its error shape wraps every
 * failure under `path`, including the body guard's 413/415 and authentication's 401/403 that
 * happen before any of its routes run; its routes are registered behind authenticate().
 */
export interface MountedApi {
  path: string;
  errorShape: MiddlewareHandler<AppEnv>;
  register(app: ManagementApp): void;
}

export function createManagementApp(prefix: string, mounted: readonly MountedApi[] = []): ManagementApp {
  const app = createRouter();
  app.use("*", withConfig());
  app.use("*", actAsConsoleMember());
  app.use("*", noStoreByDefault());
  for (const api of mounted) app.use(api.path, api.errorShape);
  app.use("*", bodyGuard());
  app.use("*", dispatchAfterChange());

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
  for (const api of mounted) api.register(app);
  return app;
}
