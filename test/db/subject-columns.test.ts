/**
 * The proxy authenticates with one single-table read (SPEC §5): the subject's name, status,
 * permissions, groups and sites are copied onto each token row by the triggers of migration
 * 0004. These tests hold the copy to the definition it replaced, the joins the proxy used to
 * evaluate on every request: after any sequence of directory changes, written in any order by
 * any statement, every token's copy equals a live evaluation of the normalized tables.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RESOLVE_TOKEN_SQL } from "../../src/db/auth";
import { newId } from "../../src/db/ids";
import { SUBJECT_VIEW } from "../../src/db/subject-copy";

/**
 * The subject evaluated live from the normalized tables: the view of migration 0004, whose query
 * (src/db/subject-copy.ts) is the one definition of a subject's name, status, permissions,
 * groups and sites.
 */
const LIVE_SQL = `
SELECT v.token_id, v.subject_name, v.subject_status AS user_status, v.subject_permissions AS permissions,
  v.subject_groups AS groups, v.subject_sites AS sites
FROM ${SUBJECT_VIEW} v JOIN api_tokens t ON t.id = v.token_id
WHERE t.org_id = ?1 ORDER BY v.token_id`;

/** The copy on the row, read with the proxy's own statement's columns. */
const COPY_SQL = `
SELECT id AS token_id, subject_name, subject_status AS user_status, subject_permissions AS permissions,
  subject_groups AS groups, subject_sites AS sites
FROM api_tokens WHERE org_id = ?1 ORDER BY id`;

interface SubjectRow {
  token_id: string;
  subject_name: string | null;
  user_status: string | null;
  permissions: string | null;
  groups: string | null;
  sites: string | null;
}

/** JSON arrays compared as sorted lists (aggregation order is not part of the contract). */
function normalized(rows: SubjectRow[]) {
  const list = (json: string | null) => (json === null ? null : (JSON.parse(json) as string[]).slice().sort());
  return rows.map((r) => ({ ...r, permissions: list(r.permissions), groups: list(r.groups), sites: list(r.sites) }));
}

async function rowsOf(sql: string, orgId: string): Promise<SubjectRow[]> {
  return (await env.DB.prepare(sql).bind(orgId).all<SubjectRow>()).results;
}

const PERMISSIONS = ["inspections.view", "inspections.edit", "integrations.manage", "platform_management.users", "reports.view"];

/** A small organization: 3 members, 2 service users, 3 permission sets, 3 groups, 3 sites, 8 tokens. */
async function seedDirectory() {
  const now = Date.now();
  const orgId = newId("org");
  const ids = {
    users: [0, 1, 2].map(() => newId("usr")),
    services: [0, 1].map(() => newId("svc")),
    sets: [0, 1, 2].map(() => newId("ps")),
    groups: [0, 1, 2].map(() => newId("grp")),
    sites: [0, 1, 2].map(() => newId("site")),
  };
  const s = (sql: string, ...params: unknown[]) => env.DB.prepare(sql).bind(...params);
  const statements = [s("INSERT INTO organizations (id, name, created_at) VALUES (?1, 'Prop', ?2)", orgId, now)];
  ids.users.forEach((id, i) =>
    statements.push(s("INSERT INTO users (id, org_id, name, email, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?5)", id, orgId, `Member ${i}`, `${id}@example.com`, now)),
  );
  ids.services.forEach((id, i) => statements.push(s("INSERT INTO service_users (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)", id, orgId, `Integration ${i}`, now)));
  ids.sets.forEach((id, i) =>
    statements.push(s("INSERT INTO permission_sets (id, org_id, name, permissions, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", id, orgId, `Set ${i}`, JSON.stringify(PERMISSIONS.slice(i, i + 2)), now)),
  );
  ids.groups.forEach((id, i) => statements.push(s("INSERT INTO groups (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)", id, orgId, `Group ${i}`, now)));
  ids.sites.forEach((id, i) => statements.push(s("INSERT INTO sites (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)", id, orgId, `Site ${i}`, now)));
  // Every member starts in two of each (so removals have something to remove), every service user in one set.
  ids.users.forEach((userId, i) => {
    for (const k of [i, (i + 1) % 3]) {
      statements.push(s("INSERT INTO user_permission_sets (user_id, permission_set_id) VALUES (?1, ?2)", userId, ids.sets[k]));
      statements.push(s("INSERT INTO user_groups (user_id, group_id) VALUES (?1, ?2)", userId, ids.groups[k]));
      statements.push(s("INSERT INTO user_sites (user_id, site_id) VALUES (?1, ?2)", userId, ids.sites[k]));
    }
  });
  ids.services.forEach((serviceUserId, i) => statements.push(s("INSERT INTO service_user_permission_sets (service_user_id, permission_set_id) VALUES (?1, ?2)", serviceUserId, ids.sets[i])));
  await env.DB.batch(statements);
  // Tokens are inserted after the directory exists and again later by the `token` operation.
  for (const userId of ids.users) for (let n = 0; n < 2; n++) await insertToken(orgId, { userId });
  for (const serviceUserId of ids.services) await insertToken(orgId, { serviceUserId });
  return { orgId, ...ids };
}

async function insertToken(orgId: string, owner: { userId?: string; serviceUserId?: string }) {
  const now = Date.now();
  const id = newId("tok");
  await env.DB.prepare(
    `INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status, inactivity_days,
       created_at, updated_at, last_active_at, expires_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'T', ?6, 'pcu_…abcd', 'active', 30, ?7, ?7, ?7, ?7 + 2592000000)`,
  )
    .bind(id, orgId, owner.userId ? "user" : "service_user", owner.userId ?? null, owner.serviceUserId ?? null, crypto.randomUUID() + id, now)
    .run();
  return id;
}

type Directory = Awaited<ReturnType<typeof seedDirectory>>;

/** One directory change, as any code path (management API, SCIM, cron, an operator) might write it. */
const operation = fc.oneof(
  fc.record({ op: fc.constant("rename_user" as const), u: fc.nat(2), name: fc.string({ maxLength: 12 }) }),
  fc.record({ op: fc.constant("user_status" as const), u: fc.nat(2), status: fc.constantFrom("active", "deactivated", "removed") }),
  fc.record({ op: fc.constant("rename_service" as const), s: fc.nat(1), name: fc.string({ maxLength: 12 }) }),
  fc.record({ op: fc.constant("assign_user_set" as const), u: fc.nat(2), p: fc.nat(2), on: fc.boolean() }),
  fc.record({ op: fc.constant("assign_service_set" as const), s: fc.nat(1), p: fc.nat(2), on: fc.boolean() }),
  fc.record({ op: fc.constant("group" as const), u: fc.nat(2), g: fc.nat(2), on: fc.boolean() }),
  fc.record({ op: fc.constant("site" as const), u: fc.nat(2), g: fc.nat(2), on: fc.boolean() }),
  fc.record({ op: fc.constant("edit_set" as const), p: fc.nat(2), perms: fc.subarray(PERMISSIONS) }),
  fc.record({ op: fc.constant("delete_set" as const), p: fc.nat(2) }),
  fc.record({ op: fc.constant("move_group" as const), u: fc.nat(2), from: fc.nat(2), to: fc.nat(2) }),
  fc.record({ op: fc.constant("token" as const), u: fc.nat(4) }),
);
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

async function apply(dir: Directory, op: Operation): Promise<void> {
  const run = (sql: string, ...params: unknown[]) => env.DB.prepare(sql).bind(...params).run();
  switch (op.op) {
    case "rename_user":
      return void (await run("UPDATE users SET name = ?2, updated_at = updated_at + 1 WHERE id = ?1", dir.users[op.u], op.name));
    case "user_status":
      return void (await run("UPDATE users SET status = ?2 WHERE id = ?1", dir.users[op.u], op.status));
    case "rename_service":
      return void (await run("UPDATE service_users SET name = ?2 WHERE id = ?1", dir.services[op.s], op.name));
    case "assign_user_set":
      if (op.on) await run("INSERT OR IGNORE INTO user_permission_sets (user_id, permission_set_id) SELECT ?1, id FROM permission_sets WHERE id = ?2", dir.users[op.u], dir.sets[op.p]);
      else await run("DELETE FROM user_permission_sets WHERE user_id = ?1 AND permission_set_id = ?2", dir.users[op.u], dir.sets[op.p]);
      return;
    case "assign_service_set":
      if (op.on) await run("INSERT OR IGNORE INTO service_user_permission_sets (service_user_id, permission_set_id) SELECT ?1, id FROM permission_sets WHERE id = ?2", dir.services[op.s], dir.sets[op.p]);
      else await run("DELETE FROM service_user_permission_sets WHERE service_user_id = ?1 AND permission_set_id = ?2", dir.services[op.s], dir.sets[op.p]);
      return;
    case "group":
      if (op.on) await run("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?1, ?2)", dir.users[op.u], dir.groups[op.g]);
      else await run("DELETE FROM user_groups WHERE user_id = ?1 AND group_id = ?2", dir.users[op.u], dir.groups[op.g]);
      return;
    case "site":
      if (op.on) await run("INSERT OR IGNORE INTO user_sites (user_id, site_id) VALUES (?1, ?2)", dir.users[op.u], dir.sites[op.g]);
      else await run("DELETE FROM user_sites WHERE user_id = ?1 AND site_id = ?2", dir.users[op.u], dir.sites[op.g]);
      return;
    case "edit_set":
      return void (await run("UPDATE permission_sets SET permissions = ?2 WHERE id = ?1", dir.sets[op.p], JSON.stringify(op.perms)));
    case "delete_set":
      await env.DB.batch([
        env.DB.prepare("DELETE FROM user_permission_sets WHERE permission_set_id = ?1").bind(dir.sets[op.p]),
        env.DB.prepare("DELETE FROM service_user_permission_sets WHERE permission_set_id = ?1").bind(dir.sets[op.p]),
        env.DB.prepare("DELETE FROM permission_sets WHERE id = ?1").bind(dir.sets[op.p]),
      ]);
      return;
    case "move_group":
      // An UPDATE of a join row (no code path does this today; the triggers must not care).
      return void (await run("UPDATE OR IGNORE user_groups SET group_id = ?3 WHERE user_id = ?1 AND group_id = ?2", dir.users[op.u], dir.groups[op.from], dir.groups[op.to]));
    case "token":
      await insertToken(dir.orgId, op.u < 3 ? { userId: dir.users[op.u] } : { serviceUserId: dir.services[op.u - 3] });
      return;
  }
}

describe("subject columns kept by triggers (migration 0004)", () => {
  it("equal a live evaluation of the directory after any sequence of changes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (ops) => {
        const dir = await seedDirectory();
        expect(normalized(await rowsOf(COPY_SQL, dir.orgId))).toEqual(normalized(await rowsOf(LIVE_SQL, dir.orgId)));
        for (const op of ops) {
          await apply(dir, op);
          expect(normalized(await rowsOf(COPY_SQL, dir.orgId))).toEqual(normalized(await rowsOf(LIVE_SQL, dir.orgId)));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("are what the proxy's resolve statement returns, in one single-table read by the digest index", async () => {
    const dir = await seedDirectory();
    await apply(dir, { op: "assign_user_set", u: 0, p: 1, on: true });
    await apply(dir, { op: "group", u: 0, g: 2, on: true });
    await apply(dir, { op: "site", u: 0, g: 1, on: true });
    const { digest } = (await env.DB.prepare("SELECT digest FROM api_tokens WHERE user_id = ?1 LIMIT 1").bind(dir.users[0]).first<{ digest: string }>())!;
    const row = await env.DB.prepare(RESOLVE_TOKEN_SQL).bind(digest).first<Record<string, string>>();
    expect(row).toMatchObject({ subject_id: dir.users[0], subject_name: "Member 0", user_status: "active", kind: "user", org_id: dir.orgId });
    // Seeded in sets 0 and 1 (["inspections.view", "inspections.edit"], ["inspections.edit", "integrations.manage"]), groups 0, 1 and now 2, sites 0 and 1.
    expect(JSON.parse(row!.permissions!).sort()).toEqual(["inspections.edit", "inspections.view", "integrations.manage"]);
    expect(JSON.parse(row!.groups!).sort()).toEqual([dir.groups[0], dir.groups[1], dir.groups[2]].sort());
    expect(JSON.parse(row!.sites!).sort()).toEqual([dir.sites[0], dir.sites[1]].sort());

    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${RESOLVE_TOKEN_SQL}`).bind(digest).all<{ detail: string }>();
    // By the current digest or a rolled token's previous one (SPEC §9): still one row of one table.
    expect(plan.results.map((r) => r.detail)).toEqual([
      "MULTI-INDEX OR",
      "INDEX 1",
      "SEARCH api_tokens USING INDEX api_tokens_digest_uq (digest=?)",
      "INDEX 2",
      "SEARCH api_tokens USING INDEX api_tokens_previous_digest_uq (previous_digest=?)",
    ]);
  });

  it("are recomputed by key lookups, never a scan (api_tokens may hold millions of rows)", async () => {
    const plan = await env.DB.prepare("EXPLAIN QUERY PLAN SELECT * FROM token_subjects_live WHERE token_id = ?1").bind("tok_x").all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.filter((d) => /\bSCAN\b/.test(d) && !/VIRTUAL TABLE|json_each/.test(d))).toEqual([]);
    expect(details).toContain("SEARCH t USING INDEX sqlite_autoindex_api_tokens_1 (id=?)");
  });

  it("follow a deactivation to every token of the member at once", async () => {
    const dir = await seedDirectory();
    await apply(dir, { op: "user_status", u: 1, status: "deactivated" });
    const statuses = await env.DB.prepare("SELECT subject_status FROM api_tokens WHERE user_id = ?1").bind(dir.users[1]).all<{ subject_status: string }>();
    expect(statuses.results.map((r) => r.subject_status)).toEqual(["deactivated", "deactivated"]);
  });
});
