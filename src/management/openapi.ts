/**
 * GET /openapi.json (OpenAPI 3.1, generated from the same zod schemas that validate requests).
 * Public. The document is built from the registry when requested, so it includes routes
 * registered after this call.
 */
import type { ManagementApp } from "./common";

export function registerOpenApi(app: ManagementApp, prefix: string): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API token (pcu_… or pcs_…) or a session JWT from the organization's identity provider.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "operator", {
    type: "http",
    scheme: "bearer",
    description: "The operator secret ADMIN_SECRET.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Portcullis management API",
      version: "1.0.0",
      description: "Manage user and service user API tokens, the directory the proxy resolves from, and the activity log.",
    },
    servers: [{ url: prefix }],
  });
}
