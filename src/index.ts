/**
 * The Worker: fetch → the management API (Hono) for paths under MANAGEMENT_PREFIX, the proxy for
 * every other path; scheduled → cron jobs (SPEC §6); queue → webhook deliveries (SPEC §10).
 *
 * The proxy is called directly rather than through a Hono route: it is the per-request path and
 * needs none of the router. The prefix test reads the path exactly as Hono's router does
 * (`getPath`: percent-decoded except reserved characters), so "under the prefix" means the same
 * thing here as in `app.mount` and a management path can never be proxied.
 */
import { getPath } from "hono/utils/url";
import { appFor } from "./app";
import { getConfig, type Config } from "./config";
import { runScheduled } from "./cron";
import type { Env, WebhookMessage } from "./env";
import { toErrorResponse } from "./errors";
import { handleProxy } from "./proxy/handler";
import { handleWebhookBatch } from "./signals/consumer";

function isManagementPath(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* "/" */);
}

export default {
  async fetch(request, env, ctx) {
    let config: Config;
    try {
      config = getConfig(env);
    } catch (err) {
      return toErrorResponse(err);
    }
    if (isManagementPath(getPath(request), config.managementPrefix)) {
      return appFor(config.managementPrefix).fetch(request, env, ctx);
    }
    return handleProxy(request, env, ctx, config);
  },
  async scheduled(controller, env, ctx) {
    await runScheduled(controller, env, ctx);
  },
  // WEBHOOK_QUEUE's consumer: webhook deliveries (SPEC §10).
  async queue(batch, env) {
    await handleWebhookBatch(batch as MessageBatch<WebhookMessage>, env);
  },
} satisfies ExportedHandler<Env>;
