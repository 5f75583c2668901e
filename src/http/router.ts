/**
 * The router type every HTTP surface (management API, SCIM) is registered on: an OpenAPIHono
 * whose validation failures go through the one error shape (400 invalid_request, issues listed).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

export type ApiApp = OpenAPIHono<AppEnv>;

export function createRouter(): ApiApp {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
        const first = issues[0];
        throw new ApiError(
          "invalid_request",
          first ? `Invalid request: ${first.path ? `${first.path}: ` : ""}${first.message}.` : "Invalid request.",
          {},
          { issues },
        );
      }
      return undefined;
    },
  });
}
