/**
 * One authentication for the proxy (SPEC §3) and the management API: the bearer credential
 * (RFC 6750 §2.1), the failed-authentication block, the token (or, for management, a session
 * JWT), the failure count, and the token's client-address condition (SPEC §9), in that order.
 * Every refusal is the ApiError both callers answer with, RFC 6750 §3 challenge included.
 *
 * It runs on every proxied request: no D1 read or await beyond the checks themselves, and the
 * options are the callers' module constants, so a call allocates nothing of its own.
 */
import type { Config } from "../config";
import type { Env } from "../env";
import type { ApiError } from "../errors";
import { hasTokenPrefix } from "../token/format";
import { clientAddressAllowed, scheduleRedigest, verifyApiToken, type TokenCheck } from "./api-token";
import { readBearer } from "./bearer";
import { addressNotAllowed, invalidToken, missingCredential, multipleCredentials } from "./challenge";
import { scheduleLastUse } from "./last-use";
import { blockedRequest, clientIp, noteAuthFailure } from "./rate-limit";
import { verifySession, type SessionCheck } from "./session";

/** An API token that passed every check: its subject, its row, and a pending re-digest (SPEC §11). */
export type TokenAuthentication = Extract<TokenCheck, { ok: true }>;
/** A session JWT that passed (management only); sessions carry no token row. */
export type SessionAuthentication = Extract<SessionCheck, { ok: true }>;

export interface AuthenticateOptions {
  /** Accept a session JWT where the credential is not an API token (the management API). */
  sessions: boolean;
}

const MALFORMED_BEARER = { ok: false, reason: "malformed", description: "credential is not a well-formed bearer token" } as const;

export function authenticateRequest(request: Request, env: Env, config: Config, options: { sessions: false }): Promise<TokenAuthentication>;
export function authenticateRequest(
  request: Request,
  env: Env,
  config: Config,
  options: AuthenticateOptions,
): Promise<TokenAuthentication | SessionAuthentication>;
export async function authenticateRequest(
  request: Request,
  env: Env,
  config: Config,
  options: AuthenticateOptions,
): Promise<TokenAuthentication | SessionAuthentication> {
  const bearer = readBearer(request.headers.get("authorization"));
  if (!bearer.ok) {
    if (bearer.reason === "multiple") throw multipleCredentials();
    if (bearer.reason !== "malformed") {
      throw options.sessions ? missingCredential("This request needs an API token or a session: Authorization: Bearer <credential>.") : missingCredential();
    }
  }
  const blocked = blockedRequest(request);
  if (blocked) throw blocked;
  if (bearer.ok && options.sessions && !hasTokenPrefix(bearer.credential)) {
    const session = await verifySession(env.DB, config, bearer.credential);
    if (session.ok) return session;
    throw await refused(env, request, session.description);
  }
  const check = bearer.ok ? await verifyApiToken(env.DB, config, bearer.credential) : MALFORMED_BEARER;
  if (!check.ok) throw await refused(env, request, check.description);
  // SPEC §9: a valid token from the wrong address; not a failed authentication, so not counted.
  if (!clientAddressAllowed(check.token, request)) throw addressNotAllowed();
  return check;
}

/** A wrong credential counts towards the failed-authentication block. */
async function refused(env: Env, request: Request, description: string): Promise<ApiError> {
  return (await noteAuthFailure(env.AUTH_FAILURE_LIMITER, clientIp(request))) ?? invalidToken(description);
}

/**
 * Off the response path (SPEC §3 step 5, §11): the last-use write and a pending re-digest. The
 * proxy schedules them only for a request it forwards: one the route policy refuses is no use.
 */
export function noteTokenUse(
  ctx: Pick<ExecutionContext, "waitUntil">,
  env: Env,
  config: Config,
  check: TokenAuthentication | SessionAuthentication,
): void {
  // A session has no token row, so nothing to record.
  if (!isTokenAuthentication(check)) return;
  scheduleLastUse(ctx, env.DB, check.token, config.dbTimeoutMs);
  scheduleRedigest(ctx, env.DB, check, config.dbTimeoutMs);
}

function isTokenAuthentication(check: TokenAuthentication | SessionAuthentication): check is TokenAuthentication {
  return "token" in check;
}
