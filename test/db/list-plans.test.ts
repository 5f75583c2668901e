/**
 * Management lists stay cursor range scans at any size (issue 5): the statements the list
 * routes actually run use an index for both the filter and the order, with no OFFSET and no
 * temporary sort of the whole organization.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminSession, seedOrg, seedServiceToken } from "../helpers/seed";
import { api } from "../helpers/worker";

/** A D1 binding that records every statement's SQL and bound values. */
function recordingDb() {
  const seen: { sql: string; params: unknown[] }[] = [];
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const stmt = target.prepare(sql);
          return new Proxy(stmt, {
            get(s, p) {
              if (p === "bind") {
                return (...params: unknown[]) => {
                  seen.push({ sql, params });
                  return s.bind(...params);
                };
              }
              const v = Reflect.get(s, p);
              return typeof v === "function" ? v.bind(s) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { db, seen };
}

async function planOf(sql: string, params: unknown[]): Promise<string> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail).join(" | ");
}

describe("management list query plans", () => {
  it("GET /service-tokens pages through an index in id order, with no temporary sort", async () => {
    const org = await seedOrg();
    for (let i = 0; i < 3; i++) await seedServiceToken(org.orgId);
    const session = await adminSession(org);
    const { db, seen } = recordingDb();
    const first = await api("GET", "/service-tokens?limit=2", session, undefined, { env: { DB: db } });
    expect(first.status).toBe(200);
    const cursor = ((await first.json()) as { next_cursor: string }).next_cursor;
    const second = await api("GET", `/service-tokens?limit=2&cursor=${cursor}`, session, undefined, { env: { DB: db } });
    expect(second.status).toBe(200);
    const lists = seen.filter((s) => /kind = 'service_user'/.test(s.sql) && /ORDER BY t\.id/.test(s.sql));
    expect(lists.length).toBe(2);
    for (const list of lists) {
      const plan = await planOf(list.sql, list.params);
      expect(plan).toMatch(/SEARCH t USING INDEX api_tokens_org_kind_id_idx/);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN t\b/);
    }
  });
});
