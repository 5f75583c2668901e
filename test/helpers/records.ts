/**
 * What D1 holds after a request, read the same way by every test: token rows, their events,
 * and every table at once.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { activityEvents, apiTokens, users } from "../../src/db/schema";
import { db } from "./seed";
import { expect } from "vitest";

/** The api_tokens row with this id, as drizzle reads it (undefined when there is none). */
export async function tokenRow(id: string) {
  return db().query.apiTokens.findFirst({ where: eq(apiTokens.id, id) });
}

/** The activity events about this target (a token, member or group), oldest first; only those of `type` when given. */
export async function eventsFor(targetId: string, type?: string) {
  return db()
    .select()
    .from(activityEvents)
    .where(and(eq(activityEvents.targetId, targetId), type === undefined ? undefined : eq(activityEvents.type, type)))
    .orderBy(activityEvents.id);
}

/** The users row (a member) with this id, as drizzle reads it (undefined when there is none). */
export async function memberRow(id: string) {
  return db().query.users.findFirst({ where: eq(users.id, id) });
}

/** The api_tokens rows of this member's user tokens, oldest first. */
export async function memberTokens(userId: string) {
  return db().select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(apiTokens.id);
}

/** The activity events of `type` in this organization. */
export async function orgEvents(orgId: string, type: string) {
  return db()
    .select()
    .from(activityEvents)
    .where(and(eq(activityEvents.orgId, orgId), eq(activityEvents.type, type)));
}

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

/**
 * Every row of every table (D1's migration record included) as one string, for scanning for a
 * secret anywhere in D1. Fails if the tables a secret could reach are not among them.
 */
export async function everythingStored(): Promise<string> {
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["api_tokens", "activity_events", "service_users", "users"]));
  const dumps: string[] = [];
  for (const { name } of tables) {
    const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    dumps.push(`${name}: ${JSON.stringify(results)}`);
  }
  return dumps.join("\n");
}
