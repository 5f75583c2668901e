/**
 * Shared pieces of the management hardening tests (issue 6 §13, §15–18): a snapshot of every
 * D1 table, D1 wrappers that break a write batch, a never-limiting auth-failure limiter, and
 * small callers for the management API and the proxy.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { bearer, call, marker, type CallOptions } from "../helpers/worker";

export { errorOf, type ErrorBody } from "../helpers/errors";

/** Every application table, in a stable order (D1's and SQLite's own tables left out). */
async function applicationTables(): Promise<string[]> {
  const { results } = await env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table'
       AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'
     ORDER BY name`,
  ).all<{ name: string }>();
  return results.map((r) => r.name);
}

/**
 * Every row of every application table, as JSON text: equal snapshots mean D1 holds exactly the
 * same data. `usedTokens`: tokens used as the caller's credential, whose last-use bookkeeping
 * (SPEC §3.5: last_used_at, the idle clock, the first-use event) is left out.
 */
export async function snapshot(options: { usedTokens?: string[] } = {}): Promise<Record<string, string>> {
  const used = new Set(options.usedTokens ?? []);
  const out: Record<string, string> = {};
  for (const table of await applicationTables()) {
    const { results } = await env.DB.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all<Record<string, unknown>>();
    const rows = results
      .filter((r) => !(table === "activity_events" && r["type"] === "token.first_used" && used.has(String(r["target_id"]))))
      .map((r) => {
        if (table !== "api_tokens" || !used.has(String(r["id"]))) return r;
        const { last_used_at: _u, last_active_at: _a, expires_at: _e, ...rest } = r;
        return rest;
      });
    out[table] = JSON.stringify(rows);
  }
  return out;
}

/** Rows of every table as one string, for scanning for a secret anywhere in D1. */
export async function everythingStored(): Promise<string> {
  return Object.values(await snapshot()).join("\n");
}

const WRITE = /^\s*(insert|update|delete|replace)\b/i;

/**
 * env.DB with a broken `batch()`. Reads (prepare/first/all/raw) reach the real database, so a
 * route gets as far as its write. Two ways to break it:
 * - "reject": the batch is refused before D1 runs any of it (a lost connection);
 * - "midway": the batch's own statements run on the real D1, then a statement placed after the
 *   first one fails, so D1 must roll back what already ran (a change interrupted between statements).
 * Writes sent outside a batch are recorded in `strayWrites`: a change must never need one.
 */
export function batchFailingDb(mode: "reject" | "midway", message = "D1_ERROR: Network connection lost.") {
  const real = env.DB;
  const strayWrites: string[] = [];
  const batches: number[] = [];
  const track = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") {
          return (...args: unknown[]) => track(target.bind(...args), sql);
        }
        if (prop === "run" || prop === "all" || prop === "first" || prop === "raw") {
          return (...args: unknown[]) => {
            if (WRITE.test(sql)) strayWrites.push(sql);
            return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        if (prop === "__target") return target;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const unwrap = (stmt: D1PreparedStatement): D1PreparedStatement =>
    ((stmt as unknown as { __target?: D1PreparedStatement }).__target ?? stmt);
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => track(target.prepare(sql), sql);
      }
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          batches.push(statements.length);
          if (mode === "reject") throw new Error(message);
          const failing = target.prepare("INSERT INTO injected_failure_no_such_table (x) VALUES (1)");
          const inner = statements.map(unwrap);
          return target.batch([...inner.slice(0, 1), failing, ...inner.slice(1)]);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: db as D1Database, strayWrites, batches };
}

/** An auth-failure limiter that never limits: the races check dead secrets many times on purpose. */
export const permissiveLimiter: RateLimit = {
  async limit() {
    return { success: true };
  },
};

/** A proxied GET with `secret`; 200 means the secret is live (the demo policy lets any valid token through). */
export async function proxiedStatus(secret: string, options: CallOptions = {}): Promise<number> {
  const res = await call(`/widgets/${marker()}`, {
    ...options,
    headers: bearer(secret),
    env: options.env,
  });
  await res.arrayBuffer();
  return res.status;
}

export { adminSession } from "../helpers/seed";
