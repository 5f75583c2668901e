/**
 * SCIM error responses (RFC 7644 §3.12): `{"schemas": [Error URN], "status": "409",
 * "scimType": "uniqueness", "detail": "…"}` as `application/scim+json`.
 *
 * SCIM handlers throw the usual ApiError (so the one error table decides the status) with a
 * `scim_type` detail where RFC 7644 defines one; `scimErrorShape()` rewrites every JSON error
 * under /scim/v2 — including authentication failures and 503s raised before any SCIM handler
 * runs — into the SCIM shape, keeping status and headers (WWW-Authenticate, Retry-After).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError, type ErrorCode } from "../errors";

export const SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";

/** RFC 7644 §3.12 Table 9. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

export function scimError(code: ErrorCode, detail: string, scimType?: ScimType): ApiError {
  return new ApiError(code, detail, {}, scimType ? { scim_type: scimType } : undefined);
}

export function notFound(resource: "User" | "Group", id: string): ApiError {
  return scimError("not_found", `${resource} ${JSON.stringify(id)} not found.`);
}

/** Our error codes that imply a scimType when the thrower gave none. */
const IMPLIED: Partial<Record<string, ScimType>> = { conflict: "uniqueness", invalid_request: "invalidValue" };

interface JsonError {
  error?: { code?: unknown; message?: unknown; scim_type?: unknown };
}

export function scimErrorShape(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const res = c.res;
    if (res.status < 400 || !(res.headers.get("content-type") ?? "").startsWith("application/json")) return;
    let body: JsonError;
    try {
      body = (await res.clone().json()) as JsonError;
    } catch {
      return;
    }
    const code = typeof body.error?.code === "string" ? body.error.code : "";
    const scimType = typeof body.error?.scim_type === "string" ? body.error.scim_type : IMPLIED[code];
    const detail = typeof body.error?.message === "string" ? body.error.message : "The request failed.";
    const headers = new Headers(res.headers);
    headers.set("content-type", SCIM_CONTENT_TYPE);
    headers.delete("content-length");
    c.res = new Response(
      JSON.stringify({ schemas: [SCIM_ERROR_SCHEMA], status: String(res.status), ...(scimType ? { scimType } : {}), detail }),
      { status: res.status, headers },
    );
  };
}
