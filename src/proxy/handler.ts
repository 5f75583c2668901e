/**
 * The reverse proxy (SPEC §3): authenticate, apply the route policy, attach identity, forward.
 * Every rejection is decided before the upstream is contacted; every D1 failure is a 503.
 *
 * This is the per-request path, so it is a plain function of (request, env, ctx, config) with
 * no router or framework context in between; every failure becomes the JSON error shape here.
 */
import { authenticateRequest, noteTokenUse } from "../auth/authenticate";
import { insufficientScope } from "../auth/challenge";
import type { Config } from "../config";
import { missingPermissions } from "../domain/permissions";
import type { Env } from "../env";
import { ApiError, toErrorResponse } from "../errors";
import { identityHeaders } from "./assertion";
import { forward, upstreamTarget } from "./forward";
import { methodOverrides, upstreamRequestHeaders } from "./headers";
import { decide } from "./policy";

/** API tokens only: a session JWT is for the management API and the console. */
const PROXY_AUTHENTICATION = { sessions: false } as const;

export function handleProxy(request: Request, env: Env, ctx: Pick<ExecutionContext, "waitUntil">, config: Config): Promise<Response> {
  // `proxy` is async, so whatever it throws arrives here as a rejection.
  return proxy(request, env, ctx, config).catch(toErrorResponse);
}

async function proxy(request: Request, env: Env, ctx: Pick<ExecutionContext, "waitUntil">, config: Config): Promise<Response> {
  const url = new URL(request.url);
  if (!config.upstreamUrl && !config.upstreamBinding) {
    throw new ApiError("internal_error", "Portcullis is not configured: UPSTREAM_URL or an UPSTREAM service binding is required.");
  }
  if (config.assertionMode !== "off" && (!config.assertionPrivateKey || !config.assertionAudience)) {
    throw new ApiError(
      "internal_error",
      "Portcullis is not configured: ASSERTION_PRIVATE_KEY (and ASSERTION_AUDIENCE when there is no UPSTREAM_URL) are required unless ASSERTION_MODE is off.",
    );
  }
  const target = upstreamTarget(config.upstreamUrl, url);
  const overrides = methodOverrides(request.headers, url);
  const decision = decide(config.policy, overrides.length === 0 ? request.method : [request.method, ...overrides], url.pathname);
  if (decision === null) throw new ApiError("invalid_request", "The request path is not valid percent-encoding.");
  if (decision.kind === "public") {
    return forward(request, target, upstreamRequestHeaders(request.headers), config.upstreamTimeoutMs, config.upstreamBinding);
  }

  const check = await authenticateRequest(request, env, config, PROXY_AUTHENTICATION);
  const { subject, token } = check;
  if (decision.kind === "permissions") {
    const missing = missingPermissions(decision.required, subject.permissions);
    if (missing.length > 0) throw insufficientScope(missing);
  }
  const identity = await identityHeaders(subject, token.tokenId, token, {
    mode: config.assertionMode,
    privateJwk: config.assertionPrivateKey,
    issuer: config.assertionIssuer,
    audience: config.assertionAudience,
    method: request.method,
    // RFC 9449 §4.2: htu is the target URI without query and fragment.
    htu: url.search.length > 0 ? target.slice(0, target.length - url.search.length) : target,
  });
  // Built only for requests that will be forwarded, so a rejected credential costs no header copy.
  const headers = upstreamRequestHeaders(request.headers);
  for (const pair of identity) headers.push(pair);
  noteTokenUse(ctx, env, config, check);
  return forward(request, target, headers, config.upstreamTimeoutMs, config.upstreamBinding);
}
