/**
 * RFC 6750 §3 challenges. A request with no bearer credential gets the bare challenge; a bad
 * credential gets error="invalid_token"; a missing permission gets error="insufficient_scope"
 * with the scope that would have sufficed.
 */
import { ApiError } from "../errors";

const REALM = 'Bearer realm="portcullis"';

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

export function missingCredential(message = "This request needs an API token: Authorization: Bearer <token>."): ApiError {
  return new ApiError("unauthorized", message, { "www-authenticate": REALM });
}

export function invalidToken(description: string): ApiError {
  return new ApiError("invalid_token", `The credential was rejected: ${description}.`, {
    "www-authenticate": `${REALM}, error="invalid_token", error_description=${quoted(description)}`,
  });
}

export function insufficientScope(missing: readonly string[], message?: string): ApiError {
  const scope = missing.join(" ");
  return new ApiError("insufficient_permissions", message ?? `This request needs the permission ${missing.join(", ")}.`, {
    "www-authenticate": `${REALM}, error="insufficient_scope", error_description=${quoted("missing permission")}, scope=${quoted(scope)}`,
  }, { required_permissions: missing });
}

export function multipleCredentials(): ApiError {
  return new ApiError("invalid_request", "Send exactly one credential in one Authorization header.", {
    "www-authenticate": `${REALM}, error="invalid_request"`,
  });
}

/**
 * A valid token used from an address outside its `allowed_cidrs` (SPEC §9): 403 with code
 * `ip_not_allowed`; the challenge is RFC 6750's insufficient_scope, as the proxy answers it.
 */
export function addressNotAllowed(): ApiError {
  return new ApiError("ip_not_allowed", "This API token may not be used from this client address.", {
    "www-authenticate": `${REALM}, error="insufficient_scope", error_description=${quoted("client address not allowed for this token")}`,
  });
}
