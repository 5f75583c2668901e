/** The Worker: fetch → app (proxy + management API), scheduled → cron jobs (SPEC §6). */
import { appFor } from "./app";
import { getConfig } from "./config";
import { runScheduled } from "./cron";
import type { Env } from "./env";
import { toErrorResponse } from "./errors";

export default {
  async fetch(request, env, ctx) {
    let prefix: string;
    try {
      prefix = getConfig(env).managementPrefix;
    } catch (err) {
      return toErrorResponse(err);
    }
    return appFor(prefix).fetch(request, env, ctx);
  },
  async scheduled(controller, env, ctx) {
    await runScheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<Env>;
