/**
 * Pieces of the management API's routes: error responses for the OpenAPI document, no-store
 * responses, shared schemas. What SCIM shares with it (router type, paging, the acting subject)
 * lives in src/http/ and is re-exported here under the names the routes use.
 */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { hasTokenPrefix, tokenHint } from "../token/format";

export type { ApiApp as ManagementApp } from "../http/router";
export { createRouter } from "../http/router";
export { actorOf, iso } from "../http/actor";
export { decodeCursor, encodeCursor, pageAfter, paginate, PaginationQuery } from "../http/paging";

/**
 * Management responses carry secrets or identity, so none may be cached (STYLE habit 6):
 * every response without its own Cache-Control gets `no-store`.
 */
export function noStoreByDefault(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  };
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string().openapi({ example: "Invalid request: name: Too small." }),
    }),
  })
  .openapi("Error");

/** Standard error responses for a protected route, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  const description: Record<number, string> = {
    400: "Invalid input",
    401: "Missing or invalid credential",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict or wrong state",
    413: "Body too large",
    415: "Body is not JSON",
    429: "Rate limited",
    503: "Storage unavailable",
  };
  const out: Record<string, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const s of [401, 403, 503, ...statuses]) {
    out[String(s)] = { description: description[s] ?? "Error", content: { "application/json": { schema: ErrorSchema } } };
  }
  return out;
}

/** An OpenAPI `content` object for a JSON body or response with this schema. */
export const json = <T>(schema: T) => ({ "application/json": { schema } });

export const BEARER_SECURITY = [{ bearer: [] as string[] }];

export const NameSchema = z.string().trim().min(1).max(100);
export const IdParam = z.object({ id: z.string().min(1).max(100) });

/**
 * How a caller-supplied id is named in an error. A token secret pasted into an id field is
 * never repeated back (SPEC §11: no secret in an error message), only its hint.
 */
export function shownId(id: string): string {
  return hasTokenPrefix(id) ? `${tokenHint(id)} (an API token secret, not an id)` : id;
}
