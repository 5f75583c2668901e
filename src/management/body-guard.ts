/**
 * Request bodies on the management API (SPEC §4): at most 64 KiB (413), and of a media type the
 * route reads (415): JSON everywhere, form-encoded for /introspect (RFC 7662), SCIM JSON under
 * /scim. A body that is not valid JSON is a 400 from the validator. Checked before auth work
 * and before parsing, so an oversized body is never buffered: a declared Content-Length over
 * the limit is refused unread, and every body is read through a counter that stops at the
 * limit, so a missing, malformed or understated Content-Length cannot get more through.
 * A JSON body holding a `__proto__`, `constructor` or `prototype` key at any depth is a 400
 * before any handler walks it (SPEC §11).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { hasForbiddenKey } from "../safe-json";

export const MAX_BODY_BYTES = 64 * 1024;

function tooLarge(): ApiError {
  return new ApiError("payload_too_large", `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
}

function allowedTypes(path: string): string[] {
  if (path.endsWith("/introspect")) return ["application/x-www-form-urlencoded"];
  if (path.includes("/scim/v2")) return ["application/scim+json", "application/json"];
  return ["application/json"];
}

/** Malformed JSON is left to the route's validator (400 with its own message). */
function jsonHasForbiddenKey(bytes: Uint8Array): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return false;
  }
  return hasForbiddenKey(parsed);
}

export function bodyGuard(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "DELETE") return next();
    const request = c.req.raw;
    const length = request.headers.get("content-length");
    if (length !== null && Number(length) > MAX_BODY_BYTES) throw tooLarge();
    if (request.body === null) return next();
    const mediaType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const allowed = allowedTypes(c.req.path);
    const unsupported = () => new ApiError("unsupported_media_type", `The request body must be ${allowed.join(" or ")}.`);
    // "Content-Length: 0" declares no body, which needs no media type.
    if (length !== "0" && !allowed.includes(mediaType)) throw unsupported();
    // The header is the sender's claim; count the bytes themselves, at most the limit, and
    // re-attach them for the validator.
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > MAX_BODY_BYTES) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    if (total > 0 && !allowed.includes(mediaType)) throw unsupported();
    const body = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (mediaType.endsWith("json") && jsonHasForbiddenKey(body)) {
      throw new ApiError("invalid_request", "The request body holds a reserved key (__proto__, constructor or prototype).");
    }
    c.req.raw = new Request(request, { body });
    return next();
  };
}
