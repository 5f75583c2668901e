/**
 * Management API authentication: `Authorization: Bearer` holding an API token (resolved exactly
 * as the proxy does) or a session JWT. Sets `subject` on the context; never lets an
 * unauthenticated request reach a handler.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { hasTokenPrefix } from "../token/format";
import { clientAddressAllowed, scheduleRedigest, verifyApiToken } from "./api-token";
import { readBearer } from "./bearer";
import { addressNotAllowed, invalidToken, missingCredential, multipleCredentials } from "./challenge";
import { scheduleLastUse } from "./last-use";
import { blockedResponse, clientIp, noteAuthFailure } from "./rate-limit";
import { consoleSubjectOf } from "./console-subject";
import { verifySession } from "./session";
import type { Subject } from "../domain/subject";

export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = c.get("config");
    // A request the web console made in-process for a signed-in member (SPEC §8), recognised
    // by actAsConsoleMember() before anything could replace the Request object.
    if (c.get("subject")) return next();
    const bearer = readBearer(c.req.header("authorization") ?? null);
    if (!bearer.ok) {
      if (bearer.reason === "multiple") throw multipleCredentials();
      if (bearer.reason !== "malformed") throw missingCredential("This request needs an API token or a session: Authorization: Bearer <credential>.");
    }
    const ip = clientIp(c.req.raw);
    const blocked = blockedResponse(ip);
    if (blocked) throw blocked;
    let failure: string;
    if (!bearer.ok) failure = "credential is not a well-formed bearer token";
    else if (hasTokenPrefix(bearer.credential)) {
      const check = await verifyApiToken(c.env.DB, config, bearer.credential);
      if (check.ok) {
        // SPEC §9: refused before any handler runs; a valid token, so not an auth failure.
        if (!clientAddressAllowed(check.token, c.req.raw)) throw addressNotAllowed();
        c.set("subject", check.subject);
        scheduleLastUse(c.executionCtx, c.env.DB, check.token, config.dbTimeoutMs);
        scheduleRedigest(c.executionCtx, c.env.DB, check, config.dbTimeoutMs);
        return next();
      }
      failure = check.description;
    } else {
      const check = await verifySession(c.env.DB, config, bearer.credential);
      if (check.ok) {
        c.set("subject", check.subject);
        return next();
      }
      failure = check.description;
    }
    throw (await noteAuthFailure(c.env.AUTH_FAILURE_LIMITER, ip)) ?? invalidToken(failure);
  };
}

/**
 * Runs first on the management app: a Request the console marked (auth/console-subject.ts)
 * carries the signed-in member's subject, read live from D1 by the console for this request.
 */
export function actAsConsoleMember(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const subject = consoleSubjectOf(c.req.raw);
    if (subject) c.set("subject", subject);
    return next();
  };
}

/** 403 session_required unless the caller holds a session (API tokens never do). */
export function requireSession(subject: Subject): void {
  if (subject.credential !== "session") {
    throw new ApiError("session_required", "This action needs a signed-in session; API tokens cannot perform it.");
  }
}
