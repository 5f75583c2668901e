import { createRoute, z } from "@hono/zod-openapi";
import { jwks } from "../../proxy/assertion";
import { json, type ManagementApp } from "../common";

const JwksSchema = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .openapi("JWKS", { description: "Public keys that verify X-Portcullis-Assertion (RFC 7517)." });

const route = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  operationId: "getAssertionKeys",
  security: [],
  summary: "Assertion signing keys",
  description: "Public keys for verifying the X-Portcullis-Assertion JWT attached to proxied requests. Public.",
  responses: { 200: { description: "JWK Set", content: json(JwksSchema) } },
});

export function registerJwks(app: ManagementApp) {
  app.openapi(route, async (c) => {
    c.header("cache-control", "public, max-age=300");
    return c.json(await jwks(c.get("config").assertionPrivateKey), 200);
  });
}
