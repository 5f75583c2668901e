/**
 * Management API authentication: `Authorization: Bearer` holding an API token (checked by the
 * same authenticateRequest() as the proxy) or a session JWT. Sets `subject` on the context;
 * never lets an unauthenticated request reach a handler.
 */
import type { MiddlewareHandler } from "hono";
import type { Subject } from "../domain/subject";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { authenticateRequest, noteTokenUse } from "./authenticate";
import { consoleSubjectOf } from "./console-subject";

/** An API token or, where the credential is not one, a session JWT. */
const MANAGEMENT_AUTHENTICATION = { sessions: true } as const;

export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = c.get("config");
    // A request the web console made in-process for a signed-in member (SPEC §8), recognised
    // by actAsConsoleMember() before anything could replace the Request object.
    if (c.get("subject")) return next();
    const check = await authenticateRequest(c.req.raw, c.env, config, MANAGEMENT_AUTHENTICATION);
    c.set("subject", check.subject);
    noteTokenUse(c.executionCtx, c.env, config, check);
    return next();
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
