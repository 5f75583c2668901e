/**
 * Low-latency webhooks (SPEC §10): after every state-changing management request (API, SCIM,
 * leak reports, the console when mounted here), the outbox is drained off the response path
 * with `ctx.waitUntil`. A successful write that made no webhook-worthy event costs one indexed
 * read of an empty outbox; the cron drains whatever this misses.
 */
import type { MiddlewareHandler } from "hono";
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

export function dispatchAfterChange(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const method = c.req.method;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return;
    // A refused request changed nothing (changes are all-or-nothing); the cron covers the rest.
    if (c.res.status >= 400) return;
    try {
      c.executionCtx.waitUntil(drainOutbox(c.env));
    } catch {
      // app.request() without an execution context: the cron drains the outbox.
    }
  };
}
