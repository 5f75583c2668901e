/**
 * Low-latency webhooks (SPEC §10): after every state-changing management request (API, SCIM,
 * leak reports, the console when mounted here), the outbox is drained off the response path
 * with `ctx.waitUntil`. A successful write that made no webhook-worthy event costs one indexed
 * read of an empty outbox; the cron drains whatever this misses.
 */
import type { Context, MiddlewareHandler } from "hono";
import { orm } from "../db/client";
import type { AppEnv, Env } from "../env";
import { dispatchOutbox } from "./dispatch";

export async function drainOutbox(env: Env): Promise<void> {
  try {
    await dispatchOutbox(orm(env.DB), env.WEBHOOK_QUEUE, Date.now());
  } catch (err) {
    // The entries stay in the outbox for the next request or the cron.
    console.error(`portcullis webhooks: dispatch deferred: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * For public routes that often change nothing (leak reports of strings that are not live
 * tokens): skip the outbox read, so such a request costs no D1 query at all.
 */
export function nothingChanged(c: Context<AppEnv>): void {
  c.set("unchanged", true);
}

export function dispatchAfterChange(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const method = c.req.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return;
    // A refused request changed nothing (changes are all-or-nothing); the cron covers the rest.
    if (c.res.status >= 400 || c.get("unchanged")) return;
    try {
      c.executionCtx.waitUntil(drainOutbox(c.env));
    } catch {
      // app.request() without an execution context: the cron drains the outbox.
    }
  };
}
