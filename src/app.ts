/**
 * Builds the Hono app: config first, then the management API under its prefix, then the proxy
 * for every other path. One onError turns every failure into the JSON error shape.
 */
import { Hono } from "hono";
import { getConfig } from "./config";
import type { AppEnv } from "./env";
import { ApiError, errorResponse, toErrorResponse } from "./errors";
import { createManagementApp } from "./management";
import { handleProxy } from "./proxy/handler";

export function createApp(prefix: string) {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("config", getConfig(c.env));
    return next();
  });
  const management = createManagementApp(prefix);
  management.notFound(() => errorResponse(new ApiError("not_found", "No such management route.")));
  management.onError((err) => toErrorResponse(err));
  app.route(prefix, management);
  app.all("*", handleProxy);
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
