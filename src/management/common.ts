/**
 * Shared pieces of the management API: the OpenAPIHono factory wired to our error shape,
 * cursor pagination, ISO times, the actor of a change, and no-store JSON responses.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Actor } from "../db/activity";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import type { Subject } from "../auth/subject";
import { hasTokenPrefix, tokenHint } from "../token/format";

export type ManagementApp = OpenAPIHono<AppEnv>;

/** Validation failures go through the one error shape (400 invalid_request) with the issues listed. */
export function createRouter(): ManagementApp {
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

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** The actor recorded in the activity log for a change made by `subject`. */
export function actorOf(subject: Subject): Actor {
  return { id: subject.id, type: subject.type, name: subject.name };
}

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

/** `?limit=&cursor=` (SPEC §4). Cursors are opaque; they encode the last id returned. */
export const PaginationQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ example: 50 }),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export function encodeCursor(lastId: string): string {
  return btoa(lastId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  try {
    const id = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    if (!/^[a-z]+_[0-9A-Z]{26}$/.test(id)) throw new Error("bad cursor");
    return id;
  } catch {
    throw new ApiError("invalid_request", "Invalid request: cursor is not one this API returned.");
  }
}

/** Given `limit + 1` rows, the page and the cursor for the next one. */
export function page<T extends { id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const pageRows = rows.slice(0, limit);
  return { rows: pageRows, nextCursor: encodeCursor(pageRows[pageRows.length - 1]!.id) };
}

export const NameSchema = z.string().trim().min(1).max(100);
export const IdParam = z.object({ id: z.string().min(1).max(100) });

/**
 * How a caller-supplied id is named in an error. A token secret pasted into an id field is
 * never repeated back (issue 6 §18: no secret in an error message), only its hint.
 */
export function shownId(id: string): string {
  return hasTokenPrefix(id) ? `${tokenHint(id)} (an API token secret, not an id)` : id;
}
