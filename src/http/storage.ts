/**
 * D1 access from a request, through `guard` with the configured timeout: reads may retry once;
 * writes never (a retried write could apply twice).
 */
import type { Context } from "hono";
import { guard } from "../db/client";
import type { AppEnv } from "../env";

export function read<T>(c: Context<AppEnv>, op: () => Promise<T>): Promise<T> {
  return guard(op, { timeoutMs: c.get("config").dbTimeoutMs, retry: true });
}

export function write<T>(c: Context<AppEnv>, op: () => Promise<T>): Promise<T> {
  return guard(op, { timeoutMs: c.get("config").dbTimeoutMs, retry: false });
}
