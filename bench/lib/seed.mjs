// Test data for the benchmark and the scale script: the real migrations, one organization with
// users and service users holding real tokens (valid and revoked pools the load generator
// rotates through), and filler tokens so the table has a realistic size around them.
// Tokens follow SPEC §2 exactly (prefix, 43 base62, CRC-32 checksum in base62) and are stored
// only as their SHA-256 digest, as Portcullis stores them.
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DAY_MS = 86_400_000;

function base62Checksum(body) {
  let n = crc32(Buffer.from(body, "ascii"));
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function randomBase62(length) {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(64)) if (byte < 248 && out.length < length) out += BASE62[byte % 62];
  }
  return out;
}

/** A well-formed token of SPEC §2 (`pcu_` or `pcs_`, 53 characters). */
export function generateToken(prefix = "pcs_") {
  const body = prefix + randomBase62(43);
  return body + base62Checksum(body);
}

/** Right shape, wrong checksum: rejected by the format check, never reaches D1. */
export function malformedToken() {
  const token = generateToken();
  const last = token.at(-1) === "0" ? "1" : "0";
  return token.slice(0, -1) + last;
}

export function digestOf(token) {
  return createHash("sha256").update(token).digest("hex");
}

const hintOf = (token) => token.slice(0, 4) + "…" + token.slice(-4);

/** The drizzle-kit migrations, in order, split into single statements. */
export function migrationStatements(root) {
  const dir = path.join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), "utf8").split("--> statement-breakpoint"))
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function applyMigrations(db, root) {
  for (const sql of migrationStatements(root)) await db.prepare(sql).run();
}

/**
 * The credentials each scenario sends (pool of Authorization values) plus the rows behind them.
 * Generate once and seed every database from the same plan, so all Workers see identical data.
 */
export function planTokens({ pool = 100 } = {}) {
  const half = Math.floor(pool / 2);
  return {
    validUser: Array.from({ length: half }, () => generateToken("pcu_")),
    validService: Array.from({ length: pool - half }, () => generateToken("pcs_")),
    revoked: Array.from({ length: pool }, () => generateToken("pcs_")),
    unknown: Array.from({ length: pool }, () => generateToken("pcs_")),
    malformed: Array.from({ length: pool }, () => malformedToken()),
  };
}

/**
 * Ids shaped like src/db/ids.ts output (prefix, "_", 26 characters of [0-9A-Z]), so the
 * management API's cursors and id checks accept them: `benchId("tok", "BS", 7)` is
 * "tok_BS000000000000000000000007".
 */
export function benchId(prefix, tag, n = 0) {
  return `${prefix}_${tag}${String(n).padStart(26 - tag.length, "0")}`;
}

export const ORG_ID = benchId("org", "BENCH");
const PS_INSPECTORS = benchId("ps", "BINSP");
const PS_INTEGRATIONS = benchId("ps", "BINT");
const SITE_HQ = benchId("site", "BHQ");
const groupId = (g) => benchId("grp", `B${g.toUpperCase()}`);

async function inBatches(db, statements, size = 50) {
  for (let i = 0; i < statements.length; i += size) await db.batch(statements.slice(i, i + size));
}

/**
 * Seed one organization: a user or service user per token of the plan (users with groups and
 * sites, both with a permission set granting inspections.view), the valid and revoked tokens,
 * then `filler` more tokens with random digests spread over `fillerOrgs` other organizations.
 */
export async function seedPlan(db, plan, { filler = 0, fillerOrgs = 1, now = Date.now() } = {}) {
  const created = now - DAY_MS;
  const lastUsed = now - 10 * 60_000;
  const s = [];
  const q = (sql, ...args) => s.push(db.prepare(sql).bind(...args));
  q("INSERT INTO organizations (id, name, created_at) VALUES (?1, 'Bench Org', ?2)", ORG_ID, created);
  const permissionSet = (id, name, permissions) =>
    q("INSERT INTO permission_sets (id, org_id, name, permissions, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", id, ORG_ID, name, JSON.stringify(permissions), created);
  permissionSet(PS_INSPECTORS, "Inspectors", ["inspections.edit", "inspections.view"]);
  permissionSet(PS_INTEGRATIONS, "Integrations", ["integrations.manage"]);
  for (const g of ["north", "south"]) q("INSERT INTO groups (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)", groupId(g), ORG_ID, g, created);
  q("INSERT INTO sites (id, org_id, name, created_at) VALUES (?1, ?2, 'HQ', ?3)", SITE_HQ, ORG_ID, created);

  const token = (id, kind, subjectId, secret, status, days) =>
    q(
      `INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status, inactivity_days,
        created_at, updated_at, last_used_at, last_active_at, expires_at, revoked_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?12, ?13, ?14)`,
      id,
      ORG_ID,
      kind,
      kind === "user" ? subjectId : null,
      kind === "service_user" ? subjectId : null,
      `bench ${id}`,
      digestOf(secret),
      hintOf(secret),
      status,
      days,
      created,
      lastUsed,
      lastUsed + days * DAY_MS,
      status === "revoked" ? now - 60_000 : null,
    );

  plan.validUser.forEach((secret, i) => {
    const id = benchId("usr", "BU", i);
    q("INSERT INTO users (id, org_id, name, email, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?5)", id, ORG_ID, `Bench User ${i}`, `user${i}@bench.test`, created);
    q("INSERT INTO user_permission_sets (user_id, permission_set_id) VALUES (?1, ?2)", id, PS_INSPECTORS);
    for (const g of ["north", "south"]) q("INSERT INTO user_groups (user_id, group_id) VALUES (?1, ?2)", id, groupId(g));
    q("INSERT INTO user_sites (user_id, site_id) VALUES (?1, ?2)", id, SITE_HQ);
    token(benchId("tok", "BU", i), "user", id, secret, "active", 30);
  });
  const serviceUser = (id, name) => {
    q("INSERT INTO service_users (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)", id, ORG_ID, name, created);
    q("INSERT INTO service_user_permission_sets (service_user_id, permission_set_id) VALUES (?1, ?2)", id, PS_INSPECTORS);
    q("INSERT INTO service_user_permission_sets (service_user_id, permission_set_id) VALUES (?1, ?2)", id, PS_INTEGRATIONS);
  };
  plan.validService.forEach((secret, i) => {
    serviceUser(benchId("svc", "BS", i), `Bench Integration ${i}`);
    token(benchId("tok", "BS", i), "service_user", benchId("svc", "BS", i), secret, "active", 45);
  });
  plan.revoked.forEach((secret, i) => {
    serviceUser(benchId("svc", "BR", i), `Revoked Integration ${i}`);
    token(benchId("tok", "BR", i), "service_user", benchId("svc", "BR", i), secret, "revoked", 45);
  });
  await inBatches(db, s);
  if (filler > 0) await seedFiller(db, { count: filler, orgs: fillerOrgs, now });
}

/**
 * `count` service user tokens with random digests (secrets nobody knows), one service user per
 * ten tokens, spread over `orgs` organizations. Generated inside SQLite with recursive CTEs, in
 * chunks, so a million rows take seconds rather than a million round trips.
 */
/** SQL for a filler id shaped like newId() output: prefix + "_F" + the number, 26 characters. */
const fillId = (prefix, expr) => `'${prefix}_F' || printf('%025d', ${expr})`;

export async function seedFiller(db, { count, orgs, now = Date.now(), chunk = 100_000, onProgress = () => {} }) {
  const created = now - DAY_MS;
  const subjects = Math.max(1, Math.ceil(count / 10));
  const series = (from, to) => `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${to})`;
  for (let from = 0; from < orgs; from += chunk) {
    const to = Math.min(orgs, from + chunk);
    await db.prepare(`${series(from, to)} INSERT INTO organizations (id, name, created_at) SELECT ${fillId("org", "i")}, 'Filler ' || i, ${created} FROM n`).run();
  }
  for (let from = 0; from < subjects; from += chunk) {
    const to = Math.min(subjects, from + chunk);
    await db
      .prepare(`${series(from, to)} INSERT INTO service_users (id, org_id, name, created_at) SELECT ${fillId("svc", "i")}, ${fillId("org", `i % ${orgs}`)}, 'Filler ' || i, ${created} FROM n`)
      .run();
  }
  for (let from = 0; from < count; from += chunk) {
    const to = Math.min(count, from + chunk);
    await db
      .prepare(
        `${series(from, to)}
        INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status, inactivity_days,
          created_at, updated_at, last_used_at, last_active_at, expires_at)
        SELECT ${fillId("tok", "i")}, ${fillId("org", `(i / 10) % ${orgs}`)}, 'service_user', NULL, ${fillId("svc", "i / 10")},
          'filler ' || i, lower(hex(randomblob(32))), 'pcs_…fill', 'active', 45,
          ${created}, ${created}, NULL, ${created}, ${created + 45 * DAY_MS}
        FROM n`,
      )
      .run();
    onProgress(to);
  }
}
