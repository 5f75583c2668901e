/**
 * The subject copy on `api_tokens` (migrations 0003 and 0004), defined once: the view that says
 * what the proxy needs to know about a token's subject, and for each source table the tokens
 * a change to it affects. The triggers of migration 0004 are generated from this definition
 * (test/db/subject-copy.test.ts proves the migration holds exactly this SQL), so a new source
 * of what a token may do is one more entry here, then a new custom migration with its trigger.
 * The resolve query of db/auth.ts reads the copy in one indexed read per request.
 */

export const SUBJECT_VIEW = "token_subjects_live";

/** The copied columns, in the order the triggers write them. */
export const SUBJECT_COLUMNS = ["subject_name", "subject_status", "subject_permissions", "subject_groups", "subject_sites"] as const;

/**
 * A subject's permissions (SPEC §4): the distinct permissions of every permission set assigned
 * to `subject` (a user or service user id expression), as a JSON array. The view below and the
 * session read of db/auth.ts both ask this, so there is one definition of what a subject may do.
 */
export function permissionsOf(subject: string): string {
  return `(SELECT json_group_array(DISTINCT j.value) FROM permission_sets ps, json_each(ps.permissions) j
   WHERE ps.id IN (
     SELECT permission_set_id FROM user_permission_sets WHERE user_id = ${subject}
     UNION ALL
     SELECT permission_set_id FROM service_user_permission_sets WHERE service_user_id = ${subject}))`;
}

/** A member's group ids as a JSON array (service users have none). */
export const groupsOf = (user: string) => `(SELECT json_group_array(group_id) FROM user_groups WHERE user_id = ${user})`;

/** A member's site ids as a JSON array (service users have none). */
export const sitesOf = (user: string) => `(SELECT json_group_array(site_id) FROM user_sites WHERE user_id = ${user})`;

/** The view's SELECT: one row per token, the subject's current name, status, permissions, groups and sites. */
export const SUBJECT_VIEW_QUERY = `SELECT t.id AS token_id,
  COALESCE(u.name, s.name) AS subject_name,
  u.status AS subject_status,
  ${permissionsOf("COALESCE(t.user_id, t.service_user_id)")} AS subject_permissions,
  ${groupsOf("t.user_id")} AS subject_groups,
  ${sitesOf("t.user_id")} AS subject_sites
FROM api_tokens t
LEFT JOIN users u ON u.id = t.user_id
LEFT JOIN service_users s ON s.id = t.service_user_id`;

type Event = "INSERT" | "UPDATE" | "DELETE";

/** A table the copy is computed from, and which tokens a changed row of it affects. */
interface Source {
  table: string;
  events: readonly Event[];
  /** Only these columns fire the UPDATE trigger (all when absent). */
  updateOf?: readonly string[];
  /** The `WHERE` of the recompute for a row (`row` is OLD or NEW). */
  tokens: (row: "OLD" | "NEW") => string;
  /** How the two rows of an UPDATE combine: each row's condition OR-ed, or one condition over both ids. */
  both?: (old: string, neu: string) => string;
}

const byUser = (column: string) => (row: string) => `user_id = ${row}.${column}`;
const byServiceUser = (column: string) => (row: string) => `service_user_id = ${row}.${column}`;
const setMembers = (ids: string) =>
  `user_id IN (SELECT user_id FROM user_permission_sets WHERE permission_set_id IN (${ids}))\n` +
  `    OR service_user_id IN (SELECT service_user_id FROM service_user_permission_sets WHERE permission_set_id IN (${ids}))`;

const ALL: readonly Event[] = ["INSERT", "UPDATE", "DELETE"];

export const SUBJECT_SOURCES: readonly Source[] = [
  { table: "api_tokens", events: ["INSERT", "UPDATE"], updateOf: ["user_id", "service_user_id"], tokens: () => "id = NEW.id", both: (_o, n) => n },
  { table: "users", events: ALL, tokens: byUser("id") },
  { table: "service_users", events: ALL, tokens: byServiceUser("id") },
  { table: "user_permission_sets", events: ALL, tokens: byUser("user_id") },
  { table: "service_user_permission_sets", events: ALL, tokens: byServiceUser("service_user_id") },
  { table: "user_groups", events: ALL, tokens: byUser("user_id") },
  { table: "user_sites", events: ALL, tokens: byUser("user_id") },
  {
    table: "permission_sets",
    events: ["UPDATE", "DELETE"],
    tokens: (row) => setMembers(`${row}.id`),
    both: () => setMembers("OLD.id, NEW.id"),
  },
];

const columns = SUBJECT_COLUMNS.join(", ");

/** Recompute the copy of the tokens matching `where` (every token when absent) from the view. */
export function recomputeSubjects(where?: string): string {
  const set = `UPDATE api_tokens SET (${columns}) =\n    (SELECT ${columns} FROM ${SUBJECT_VIEW} WHERE token_id = api_tokens.id)`;
  return where === undefined ? `${set};` : `${set}\n  WHERE ${where};`;
}

function trigger(source: Source, event: Event): string {
  const name = `${source.table}_subject_${event.toLowerCase()}`;
  const on = event === "UPDATE" && source.updateOf ? `UPDATE OF ${source.updateOf.join(", ")}` : event;
  const where =
    event === "INSERT"
      ? source.tokens("NEW")
      : event === "DELETE"
        ? source.tokens("OLD")
        : (source.both ?? ((o, n) => `${o} OR ${n}`))(source.tokens("OLD"), source.tokens("NEW"));
  return `CREATE TRIGGER \`${name}\` AFTER ${on} ON \`${source.table}\` FOR EACH ROW BEGIN\n  ${recomputeSubjects(where)}\nEND;`;
}

/** Migration 0004's statements: the view, one trigger per source and event, the backfill. */
export function subjectCopyStatements(): string[] {
  return [
    `CREATE VIEW \`${SUBJECT_VIEW}\` AS\n${SUBJECT_VIEW_QUERY};`,
    ...SUBJECT_SOURCES.flatMap((source) => source.events.map((event) => trigger(source, event))),
    recomputeSubjects(),
  ];
}
