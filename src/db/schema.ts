/**
 * Portcullis storage schema (D1 / SQLite). See `db/README.md` for the invariants.
 *
 * Times are integer milliseconds since the epoch (UTC); the API renders them as ISO 8601.
 * Ids are prefixed and time-sortable (`db/ids.ts`), so `ORDER BY id` is creation order and a
 * cursor is just the last id seen.
 *
 * Never store a token secret: `api_tokens.digest` holds SHA-256 (or HMAC-SHA-256 with
 * TOKEN_PEPPER) of the whole token, and `hint` holds prefix + last four characters.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, sqliteView, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { TOKEN_STATUSES } from "../domain/tokens";

export const organizations = sqliteTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** A membership's states; the token row's subject copy holds the same values. */
const MEMBER_STATUSES = ["active", "deactivated", "removed"] as const;

/**
 * A human member of one organization. The row is the membership: a person in two
 * organizations is two rows (one per org), each with its own tokens (SPEC §1).
 * `removed` keeps the row for the activity log's names; the API shows it as 404.
 */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    name: text("name").notNull(),
    email: text("email").notNull(),
    status: text("status", { enum: MEMBER_STATUSES }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("users_org_id_idx").on(t.orgId, t.id),
    // The cron's inactive-member sweep reads only these rows (few, compared with all members).
    index("users_inactive_idx")
      .on(t.id)
      .where(sql`status <> 'active'`),
    // One live membership per email per org; removed rows do not block re-invitation.
    uniqueIndex("users_org_email_live_uq")
      .on(t.orgId, t.email)
      .where(sql`status <> 'removed'`),
  ],
);

/** Created together with its token, 1:1 (SPEC §1). Never listed in /users, never a seat. */
export const serviceUsers = sqliteTable(
  "service_users",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("service_users_org_id_idx").on(t.orgId)],
);

export const permissionSets = sqliteTable(
  "permission_sets",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    name: text("name").notNull(),
    /** JSON array of permission strings, e.g. ["inspections.view"]. */
    permissions: text("permissions").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("permission_sets_org_id_idx").on(t.orgId, t.id)],
);

export const groups = sqliteTable(
  "groups",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("groups_org_id_idx").on(t.orgId, t.id)],
);

export const sites = sqliteTable(
  "sites",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("sites_org_id_idx").on(t.orgId, t.id)],
);

export const userPermissionSets = sqliteTable(
  "user_permission_sets",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    permissionSetId: text("permission_set_id")
      .notNull()
      .references(() => permissionSets.id),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.permissionSetId] }),
    index("user_permission_sets_set_idx").on(t.permissionSetId),
  ],
);

export const serviceUserPermissionSets = sqliteTable(
  "service_user_permission_sets",
  {
    serviceUserId: text("service_user_id")
      .notNull()
      .references(() => serviceUsers.id),
    permissionSetId: text("permission_set_id")
      .notNull()
      .references(() => permissionSets.id),
  },
  (t) => [
    primaryKey({ columns: [t.serviceUserId, t.permissionSetId] }),
    index("service_user_permission_sets_set_idx").on(t.permissionSetId),
  ],
);

export const userGroups = sqliteTable(
  "user_groups",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    groupId: text("group_id")
      .notNull()
      .references(() => groups.id),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index("user_groups_group_idx").on(t.groupId)],
);

export const userSites = sqliteTable(
  "user_sites",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    siteId: text("site_id")
      .notNull()
      .references(() => sites.id),
  },
  (t) => [primaryKey({ columns: [t.userId, t.siteId] }), index("user_sites_site_idx").on(t.siteId)],
);

/**
 * Both token kinds. Exactly one of `user_id` / `service_user_id` is set, matching `kind`.
 *
 * `last_active_at` is when the inactivity clock last restarted (creation, regeneration or a
 * recorded use); `expires_at` = last_active_at + inactivity_days, kept in the row so the expiry
 * sweep and the limit checks are index range scans rather than computations over every row.
 */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    kind: text("kind", { enum: ["user", "service_user"] }).notNull(),
    userId: text("user_id").references(() => users.id),
    serviceUserId: text("service_user_id").references(() => serviceUsers.id),
    name: text("name").notNull(),
    digest: text("digest").notNull(),
    hint: text("hint").notNull(),
    status: text("status", { enum: TOKEN_STATUSES }).notNull(),
    inactivityDays: integer("inactivity_days").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    lastActiveAt: integer("last_active_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    expiredAt: integer("expired_at"),
    deletedAt: integer("deleted_at"),
    /*
     * Rotation without downtime (SPEC §9): after a roll, the secret it replaced keeps working,
     * as this same token, until `previous_expires_at`. Its digest stays on the row after that
     * (one per token, overwritten by the next roll, cleared by regenerate) so a late use is told
     * why it stopped working; the resolve reads it through its own unique index.
     */
    previousDigest: text("previous_digest"),
    previousExpiresAt: integer("previous_expires_at"),
    /**
     * Service tokens only: JSON array of normalised CIDRs the token may be used from, or null
     * for any address (SPEC §9). On the row so the proxy decides it from the same single read.
     */
    allowedCidrs: text("allowed_cidrs"),
    /*
     * The token's subject as the proxy needs it, copied onto the row so that authenticating a
     * request is one single-table read by digest (SPEC §5). Written only by the triggers of
     * migration 0004, never by application code: inside the writing statement's own
     * transaction they recompute these columns whenever the member or service user, their
     * permission sets, groups or sites, or a permission set's contents change.
     */
    /** users.name or service_users.name. */
    subjectName: text("subject_name"),
    /** users.status for user tokens; null for service users (they have no membership). */
    subjectStatus: text("subject_status", { enum: MEMBER_STATUSES }),
    /** JSON arrays: the distinct permissions of the subject's sets, its group ids, its site ids. */
    subjectPermissions: text("subject_permissions"),
    subjectGroups: text("subject_groups"),
    subjectSites: text("subject_sites"),
  },
  (t) => [
    // The hot path: one indexed lookup per proxied request (SPEC §3.2, §5).
    uniqueIndex("api_tokens_digest_uq").on(t.digest),
    // The previous secret of a rolled token, resolved by the same statement (SPEC §9). Partial:
    // most rows were never rolled, and `previous_digest = ?` implies the index's condition.
    uniqueIndex("api_tokens_previous_digest_uq")
      .on(t.previousDigest)
      .where(sql`previous_digest IS NOT NULL`),
    // Limits (10 active per user per org, 20 active service tokens per org) and lists.
    index("api_tokens_user_idx").on(t.userId, t.status, t.expiresAt),
    index("api_tokens_org_kind_idx").on(t.orgId, t.kind, t.status, t.expiresAt),
    // Cursor pages of an org's service tokens in id order, without sorting the whole org.
    index("api_tokens_org_kind_id_idx").on(t.orgId, t.kind, t.id),
    index("api_tokens_service_user_idx").on(t.serviceUserId),
    // Expiry sweep: active tokens ordered by deadline (SPEC §6).
    index("api_tokens_expiry_idx").on(t.status, t.expiresAt),
  ],
);

/** Append-only audit trail (SPEC §4 activity log), pruned by the retention cron. */
export const activityEvents = sqliteTable(
  "activity_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    occurredAt: integer("occurred_at").notNull(),
    type: text("type").notNull(),
    actorId: text("actor_id"),
    actorType: text("actor_type", { enum: ["user", "service_user", "system", "operator"] }).notNull(),
    actorName: text("actor_name").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    targetName: text("target_name"),
    /** JSON object with event-specific details; never a secret. */
    details: text("details"),
  },
  (t) => [
    index("activity_events_org_idx").on(t.orgId, t.id),
    index("activity_events_org_actor_idx").on(t.orgId, t.actorId, t.id),
    index("activity_events_org_type_idx").on(t.orgId, t.type, t.id),
    index("activity_events_occurred_idx").on(t.occurredAt),
  ],
);

/**
 * The subject of each token, computed from the normalized tables (db/subject-copy.ts defines
 * it; migration 0004 creates it). `.existing()`: drizzle-kit neither creates nor drops it.
 * The triggers copy it onto api_tokens' subject_* columns, which the resolve query reads.
 */
export const tokenSubjectsLive = sqliteView("token_subjects_live", {
  tokenId: text("token_id").notNull(),
  subjectName: text("subject_name"),
  subjectStatus: text("subject_status"),
  subjectPermissions: text("subject_permissions"),
  subjectGroups: text("subject_groups"),
  subjectSites: text("subject_sites"),
}).existing();

/**
 * Lifecycle signals (SPEC §10). A webhook endpoint of one organization; `secret` is the
 * Standard Webhooks signing key (`whsec_…`). Unlike a token it cannot be kept as a digest,
 * because every delivery is signed with it; the API shows it only in the create response.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    url: text("url").notNull(),
    /** JSON array of the SPEC §10 event types this endpoint receives. */
    events: text("events").notNull(),
    secret: text("secret").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_endpoints_org_idx").on(t.orgId, t.id)],
);

/**
 * The outbox: one row per webhook-worthy activity event of an organization that has an
 * endpoint, written by a trigger on activity_events inside the transaction that records the
 * change (custom migration `webhook_outbox_trigger`). A rolled-back change leaves no row; the
 * dispatcher (signals/dispatch.ts) turns each row into deliveries and deletes it.
 */
export const webhookOutbox = sqliteTable("webhook_outbox", {
  eventId: text("event_id").primaryKey(),
  orgId: text("org_id").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * One message to one endpoint. `message_id` is the `webhook-id` header (the API's
 * `event_id`), stable across retries so receivers can deduplicate; `payload` is the exact
 * body, fixed when the message is made. Retry state lives here, not in the queue.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    messageId: text("message_id").notNull(),
    type: text("type").notNull(),
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    /** A consumer holds the delivery until then, so two queue messages never send it twice at once. */
    leaseUntil: integer("lease_until"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_message_uq").on(t.endpointId, t.messageId),
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.id),
    // The cron's backstop reads only pending deliveries that are due.
    index("webhook_deliveries_due_idx")
      .on(t.nextAttemptAt)
      .where(sql`status = 'pending'`),
  ],
);

/**
 * Expiry warnings already sent (SPEC §10): one row per token, level and deadline. A use moves
 * the deadline, so the next warning has a new key: that is the re-arming.
 */
export const tokenExpiryWarnings = sqliteTable(
  "token_expiry_warnings",
  {
    tokenId: text("token_id").notNull(),
    level: text("level", { enum: ["7d", "1d"] }).notNull(),
    deadline: integer("deadline").notNull(),
    /** The batch that wrote the row, so its events are inserted from exactly these rows. */
    runId: text("run_id").notNull(),
    warnedAt: integer("warned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.level, t.deadline] }), index("token_expiry_warnings_run_idx").on(t.runId), index("token_expiry_warnings_warned_idx").on(t.warnedAt)],
);

/** Progress marks of cron scans (e.g. how far the expiry-warning scan has looked ahead). */
export const signalCursors = sqliteTable("signal_cursors", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});

/** The one token row type; db/token-row.ts derives every view of a token from it. */
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type ServiceUserRow = typeof serviceUsers.$inferSelect;
export type ActivityEventRow = typeof activityEvents.$inferSelect;

/**
 * Web console sessions (SPEC §8), kept server-side so that sign-out, deactivation and removal
 * end them at once. `id` is the SHA-256 (hex) of the random session id in the cookie; the raw id
 * is never stored. `org_id`/`user_id` are null until a person in several organizations picks one.
 * `auth_time` is the ID token's (seconds), for the fresh-authentication rule.
 */
export const consoleSessions = sqliteTable(
  "console_sessions",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    orgId: text("org_id"),
    userId: text("user_id"),
    authTime: integer("auth_time").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("console_sessions_expiry_idx").on(t.expiresAt), index("console_sessions_user_idx").on(t.userId)],
);

/**
 * OpenID Connect sign-ins in flight (SPEC §8): `id` is the SHA-256 (hex) of the random value in
 * the browser's login cookie, which binds the callback to the browser that started it. Holds the
 * state, nonce and PKCE verifier for at most 10 minutes; used once.
 */
export const consoleLogins = sqliteTable(
  "console_logins",
  {
    id: text("id").primaryKey(),
    state: text("state").notNull(),
    nonce: text("nonce").notNull(),
    codeVerifier: text("code_verifier").notNull(),
    returnTo: text("return_to").notNull(),
    maxAge: integer("max_age"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("console_logins_expiry_idx").on(t.expiresAt)],
);
