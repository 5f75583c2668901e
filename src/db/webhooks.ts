/**
 * Storage of the lifecycle signals (SPEC §10): webhook endpoints, the outbox the activity
 * trigger fills, and deliveries with their retry state. The queue only says "try delivery X
 * now"; whether it is due, how often it was tried and when to try next are kept here, so a
 * lost or duplicated queue message never loses or doubles a delivery.
 */
import { sql } from "drizzle-orm";
import { atomically, selectRows, statement, type Orm } from "./client";
import { newId } from "./ids";
import { tokenRecordColumns, type TokenRecord } from "./token-row";
import { changes } from "./tokens";

export interface WebhookEndpointRecord {
  id: string;
  orgId: string;
  url: string;
  events: string[];
  createdAt: number;
}

interface EndpointRow {
  id: string;
  orgId: string;
  url: string;
  events: string;
  createdAt: number;
}

const ENDPOINT_COLUMNS = sql.raw("id, org_id AS orgId, url, events, created_at AS createdAt");

function toEndpoint(row: EndpointRow): WebhookEndpointRecord {
  return { ...row, events: JSON.parse(row.events) as string[] };
}

export async function createWebhookEndpoint(
  db: Orm,
  input: { orgId: string; url: string; events: string[]; secret: string; now: number },
): Promise<WebhookEndpointRecord> {
  const id = newId("whk", input.now);
  await statement(
    db,
    sql`INSERT INTO webhook_endpoints (id, org_id, url, events, secret, created_at)
        VALUES (${id}, ${input.orgId}, ${input.url}, ${JSON.stringify(input.events)}, ${input.secret}, ${input.now})`,
  ).run();
  return { id, orgId: input.orgId, url: input.url, events: input.events, createdAt: input.now };
}

export async function listWebhookEndpoints(db: Orm, input: { orgId: string; afterId: string | null; take: number }): Promise<WebhookEndpointRecord[]> {
  const after = input.afterId === null ? sql`` : sql` AND id > ${input.afterId}`;
  const rows = await selectRows<EndpointRow>(
    db,
    sql`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE org_id = ${input.orgId}${after} ORDER BY id LIMIT ${input.take}`,
  );
  return rows.map(toEndpoint);
}

export async function findWebhookEndpoint(db: Orm, orgId: string, id: string): Promise<WebhookEndpointRecord | null> {
  const row = await statement(db, sql`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ${id} AND org_id = ${orgId}`).first<EndpointRow>();
  return row ? toEndpoint(row) : null;
}

/** Deletes the endpoint and its deliveries (nothing further is sent to it). False when absent. */
export async function deleteWebhookEndpoint(db: Orm, orgId: string, id: string): Promise<boolean> {
  const [deleted] = await atomically(db, [
    sql`DELETE FROM webhook_endpoints WHERE id = ${id} AND org_id = ${orgId}`,
    sql`DELETE FROM webhook_deliveries WHERE endpoint_id = ${id} AND org_id = ${orgId}`,
  ]);
  return changes(deleted) > 0;
}

export interface DeliveryRecord {
  id: string;
  messageId: string;
  type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  createdAt: number;
  nextAttemptAt: number;
}

/** An endpoint's deliveries, newest first (SPEC §10); `beforeId` is the cursor. */
export async function listDeliveries(db: Orm, input: { endpointId: string; beforeId: string | null; take: number }): Promise<DeliveryRecord[]> {
  const before = input.beforeId === null ? sql`` : sql` AND id < ${input.beforeId}`;
  return selectRows<DeliveryRecord>(
    db,
    sql`SELECT id, message_id AS messageId, type, status, attempts, last_status_code AS lastStatusCode,
          created_at AS createdAt, next_attempt_at AS nextAttemptAt
        FROM webhook_deliveries WHERE endpoint_id = ${input.endpointId}${before} ORDER BY id DESC LIMIT ${input.take}`,
  );
}

// ---------------------------------------------------------------------------------------------
// The outbox

export interface OutboxEvent {
  id: string;
  orgId: string;
  occurredAt: number;
  type: string;
  targetId: string | null;
  targetName: string | null;
  details: string | null;
}

/** Up to `limit` outbox entries with their activity events, oldest first. */
export async function outboxEvents(db: Orm, limit: number): Promise<OutboxEvent[]> {
  return selectRows<OutboxEvent>(
    db,
    sql`SELECT e.id, e.org_id AS orgId, e.occurred_at AS occurredAt, e.type, e.target_id AS targetId,
          e.target_name AS targetName, e.details
        FROM webhook_outbox o JOIN activity_events e ON e.id = o.event_id
        ORDER BY o.event_id LIMIT ${limit}`,
  );
}

/** Outbox entries whose activity event is gone (pruned by retention): nothing left to send. */
export async function dropOrphanedOutbox(db: Orm): Promise<void> {
  await statement(db, sql`DELETE FROM webhook_outbox WHERE event_id NOT IN (SELECT id FROM activity_events)`).run();
}

export interface EndpointTarget {
  id: string;
  events: string;
}

export async function endpointsOfOrg(db: Orm, orgId: string): Promise<EndpointTarget[]> {
  return selectRows<EndpointTarget>(db, sql`SELECT id, events FROM webhook_endpoints WHERE org_id = ${orgId}`);
}

/** The token an event names, as its row is now (whatever its status), for the payload's facts. */
export async function tokenById(db: Orm, tokenId: string): Promise<TokenRecord | null> {
  return statement(db, sql`SELECT ${tokenRecordColumns("t")} FROM api_tokens t WHERE t.id = ${tokenId}`).first<TokenRecord>();
}

/** The tokens a member status change ended: the member's tokens expired at that instant (db/members.ts). */
export async function tokensEndedWithMember(db: Orm, orgId: string, userId: string, at: number): Promise<TokenRecord[]> {
  return selectRows<TokenRecord>(
    db,
    sql`SELECT ${tokenRecordColumns("t")} FROM api_tokens t
        WHERE t.user_id = ${userId} AND t.org_id = ${orgId} AND t.status = 'expired' AND t.expired_at = ${at} ORDER BY t.id`,
  );
}

export interface NewDelivery {
  endpointId: string;
  messageId: string;
  type: string;
  payload: string;
}

/**
 * Turns one outbox entry into deliveries, in one transaction: the deliveries are inserted only
 * while the entry is still there, then it is deleted, so two dispatchers racing over the same
 * entry create each delivery once. Returns the ids of the deliveries created.
 */
export async function settleOutboxEntry(db: Orm, orgId: string, eventId: string, deliveries: NewDelivery[], now: number): Promise<string[]> {
  const ids = deliveries.map(() => newId("dlv", now));
  const stillQueued = sql`EXISTS (SELECT 1 FROM webhook_outbox WHERE event_id = ${eventId})`;
  const rows = deliveries.map((d, i) => ({
    id: ids[i],
    endpoint_id: d.endpointId,
    message_id: d.messageId,
    type: d.type,
    payload: d.payload,
  }));
  const results = await atomically(db, [
    sql`INSERT OR IGNORE INTO webhook_deliveries (id, org_id, endpoint_id, message_id, type, payload, status, attempts,
          created_at, next_attempt_at, updated_at)
        SELECT json_extract(value, '$.id'), ${orgId}, json_extract(value, '$.endpoint_id'), json_extract(value, '$.message_id'),
          json_extract(value, '$.type'), json_extract(value, '$.payload'), 'pending', 0, ${now}, ${now}, ${now}
        FROM json_each(${JSON.stringify(rows)})
        WHERE ${stillQueued} AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = json_extract(value, '$.endpoint_id'))
        RETURNING id`,
    sql`DELETE FROM webhook_outbox WHERE event_id = ${eventId}`,
  ]);
  return ((results[0] as D1Result<{ id: string }>).results ?? []).map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Delivery state

export interface ClaimedDelivery {
  id: string;
  orgId: string;
  endpointId: string;
  messageId: string;
  payload: string;
  attempts: number;
  createdAt: number;
  url: string | null;
  secret: string | null;
}

export type Claim =
  | { kind: "claimed"; delivery: ClaimedDelivery }
  /** Still pending but not due yet (or held by another consumer until `at`). */
  | { kind: "later"; at: number }
  /** Delivered, failed or gone: nothing to do. */
  | { kind: "done" };

/** Takes a due pending delivery for `leaseMs` (the condition is in the UPDATE, SPEC habit). */
export async function claimDelivery(db: Orm, id: string, now: number, leaseMs: number): Promise<Claim> {
  const taken = await statement(
    db,
    sql`UPDATE webhook_deliveries SET lease_until = ${now + leaseMs}
        WHERE id = ${id} AND status = 'pending' AND next_attempt_at <= ${now} AND (lease_until IS NULL OR lease_until <= ${now})`,
  ).run();
  const claimed =
    changes(taken) === 1
      ? await statement(
          db,
          sql`SELECT d.id, d.org_id AS orgId, d.endpoint_id AS endpointId, d.message_id AS messageId, d.payload, d.attempts,
                d.created_at AS createdAt, w.url, w.secret
              FROM webhook_deliveries d LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = ${id}`,
        ).first<ClaimedDelivery>()
      : null;
  if (claimed) return { kind: "claimed", delivery: claimed };
  const row = await statement(
    db,
    sql`SELECT status, next_attempt_at AS nextAttemptAt, lease_until AS leaseUntil FROM webhook_deliveries WHERE id = ${id}`,
  ).first<{ status: string; nextAttemptAt: number; leaseUntil: number | null }>();
  if (!row || row.status !== "pending") return { kind: "done" };
  return { kind: "later", at: Math.max(row.nextAttemptAt, row.leaseUntil ?? 0) };
}

export interface AttemptOutcome {
  status: "pending" | "delivered" | "failed";
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: number;
}

export async function recordAttempt(db: Orm, id: string, outcome: AttemptOutcome, now: number): Promise<void> {
  await statement(
    db,
    sql`UPDATE webhook_deliveries SET status = ${outcome.status}, attempts = attempts + 1, last_status_code = ${outcome.statusCode},
          last_error = ${outcome.error}, next_attempt_at = ${outcome.nextAttemptAt}, lease_until = NULL, updated_at = ${now}
        WHERE id = ${id} AND status = 'pending'`,
  ).run();
}

/** Pending deliveries due before `dueBefore` and not held by a consumer (the cron's backstop). */
export async function overdueDeliveryIds(db: Orm, dueBefore: number, now: number, limit: number): Promise<string[]> {
  const rows = await selectRows<{ id: string }>(
    db,
    sql`SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ${dueBefore}
          AND (lease_until IS NULL OR lease_until <= ${now}) ORDER BY next_attempt_at LIMIT ${limit}`,
  );
  return rows.map((r) => r.id);
}
