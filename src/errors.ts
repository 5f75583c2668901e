/**
 * One error class, one JSON shape, one code → status table (SPEC §4):
 * `{"error": {"code": "snake_case_code", "message": "human sentence"}}`.
 */
import { HTTPException } from "hono/http-exception";

export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  invalid_token: 401,
  forbidden: 403,
  insufficient_permissions: 403,
  session_required: 403,
  reauthentication_required: 403,
  /** SPEC §9: a token restricted by allowed_cidrs, used from elsewhere. */
  ip_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  token_limit_reached: 409,
  invalid_state: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  /** nginx's 499: the client went away; nobody reads this response, it only ends the work. */
  client_closed_request: 499,
  internal_error: 500,
  bad_gateway: 502,
  unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly status: (typeof ERROR_STATUS)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
    readonly headers: Record<string, string> = {},
    /** Extra fields placed inside the `error` object (e.g. validation issues). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_STATUS[code];
  }
}

/** Thrown by the data layer when D1 fails or times out; always answered 503 (fail closed). */
export class StorageUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super("storage unavailable");
    this.name = "StorageUnavailableError";
  }
}

export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } }), {
    status: error.status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...error.headers },
  });
}

export const RETRY_AFTER_SECONDS = "2";

/** Map any thrown value to the response the client sees; never leaks internals. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ApiError) return errorResponse(err);
  // Hono's body validators throw HTTPException(400) when the body does not parse (SPEC §4:
  // malformed JSON is 400 invalid_request, like any other invalid input).
  if (err instanceof HTTPException && err.status === 400) {
    return errorResponse(new ApiError("invalid_request", "Invalid request: the body is not valid JSON."));
  }
  if (err instanceof StorageUnavailableError) {
    // D1 messages carry no request data, so the cause is safe to log for operators.
    const cause = err.cause instanceof Error ? err.cause.message : String(err.cause);
    console.error("portcullis: storage unavailable:", cause);
    return errorResponse(
      new ApiError("unavailable", "The authorization store is unavailable; try again shortly.", {
        "retry-after": RETRY_AFTER_SECONDS,
      }),
    );
  }
  console.error("portcullis: unhandled error", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  return errorResponse(new ApiError("internal_error", "An internal error occurred."));
}
