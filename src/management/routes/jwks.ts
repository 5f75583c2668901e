/**
 * The assertion public keys (SPEC §3 step 4): the current signing key's, then any previous ones
 * from ASSERTION_PREVIOUS_PUBLIC_KEYS, so upstreams keep accepting assertions signed before a
 * key rotation (SPEC §11). A previous key without `kid` is named by its RFC 7638 thumbprint,
 * as the current one is.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { calculateJwkThumbprint, type JWK } from "jose";
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
    const config = c.get("config");
    const current = await jwks(config.assertionPrivateKey);
    const currentKids = new Set(current.keys.map((k) => k.kid));
    const previous = await Promise.all(
      config.assertionPreviousPublicKeys.map(async (key) => {
        const jwk = key as JWK;
        return jwk.kid ? jwk : { ...jwk, kid: await calculateJwkThumbprint(jwk, "sha256") };
      }),
    );
    return c.json({ keys: [...current.keys, ...previous.filter((k) => !currentKids.has(k.kid))] }, 200);
  });
}
