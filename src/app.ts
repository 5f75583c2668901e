/**
 * Builds the Hono app: the management API (with SCIM beside its routes) is mounted under its prefix as a separate app, so a
 * path under the prefix that no management route matches is a 404 there and can never fall
 * through to the proxy; every other path is the proxy. One onError per app turns every failure
 * into the JSON error shape. The Worker (src/index.ts) sends proxied paths to the proxy directly
 * and only management paths through this app; the proxy route here serves `app.request()` users.
 */
import { Hono } from "hono";
import { withConfig } from "./config";
import type { AppEnv } from "./env";
import { ApiError, errorResponse, toErrorResponse } from "./errors";
import { createConsoleApp } from "./console";
import { createManagementApp } from "./management";
import { handleProxy } from "./proxy/handler";
import { SCIM_API } from "./scim";

export function createApp(prefix: string) {
  const management = createManagementApp(prefix, [SCIM_API]);
  management.notFound(() => errorResponse(new ApiError("not_found", "No such management route.")));
  management.onError((err) => toErrorResponse(err));

  const app = new Hono<AppEnv>();
  app.route(`${prefix}/console`, createConsoleApp(prefix, management.fetch));
  app.mount(prefix, management.fetch);
  app.use("*", withConfig());
  app.all("*", (c) => handleProxy(c.req.raw, c.env, c.executionCtx, c.get("config")));
  app.onError((err) => toErrorResponse(err));
  return app;
}

const apps = new Map<string, ReturnType<typeof createApp>>();

/** The app for a management prefix, built once per isolate (the prefix is a var). */
export function appFor(prefix: string) {
  let app = apps.get(prefix);
  if (!app) {
    app = createApp(prefix);
    apps.set(prefix, app);
  }
  return app;
}
