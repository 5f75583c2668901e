/**
 * The one authorization middleware of the management API and SCIM: a route declares what it
 * needs (SPEC §4 table: the permission per route; the seeds' rule for SCIM) and this enforces it.
 * It runs before input validation, so a caller without the permission learns nothing about the
 * route's input (403 before 400).
 */
import type { MiddlewareHandler } from "hono";
import { insufficientScope } from "../auth/challenge";
import { missingPermissions, type PlatformPermission } from "../domain/permissions";
import type { Subject } from "../domain/subject";
import type { AppEnv } from "../env";
import type { ApiError } from "../errors";
import type { ApiApp } from "./router";

export interface Need {
  /** Platform permissions the subject's current permission sets must all hold. */
  permissions: readonly PlatformPermission[];
  /** Only this kind of caller may call at all; any other gets `refused()`, whatever it holds. */
  caller?: { type: Subject["type"]; credential: Subject["credential"]; refused: () => ApiError };
  /** The error for missing permissions; by default RFC 6750 `insufficient_scope` naming them. */
  denied?: (missing: readonly string[]) => ApiError;
}

export function requirePermission(need: Need): MiddlewareHandler<AppEnv> {
  const denied = need.denied ?? insufficientScope;
  return async (c, next) => {
    const subject = c.get("subject");
    const caller = need.caller;
    if (caller && (subject.type !== caller.type || subject.credential !== caller.credential)) throw caller.refused();
    const missing = missingPermissions(need.permissions, subject.permissions);
    if (missing.length > 0) throw denied(missing);
    return next();
  };
}

/** Declares `need` on each of `paths` (Hono patterns, e.g. `/users` and `/users/*`). */
export function protect(app: ApiApp, paths: readonly string[], need: Need): void {
  const middleware = requirePermission(need);
  for (const path of paths) app.use(path, middleware);
}

/** A collection and every item route below it. */
export const under = (base: string): string[] => [base, `${base}/*`];
