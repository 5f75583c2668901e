/** Cron entry point (SPEC §6). The jobs are added by the expiry-sweep and retention work. */
import type { Env } from "../env";

export async function runScheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  void controller;
  void env;
  void ctx;
}
