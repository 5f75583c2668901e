/**
 * The dispatcher (SPEC §10): turns outbox entries (webhook-worthy activity events, written in
 * the same transaction as their change) into one delivery per matching endpoint, and puts the
 * new deliveries on WEBHOOK_QUEUE. It runs right after each management write (`ctx.waitUntil`,
 * for latency) and from the cron (a backstop), and is idempotent: an entry is turned into
 * deliveries and deleted in one transaction, and (endpoint, message id) is unique.
 *
 * `data` is built from the event and, for what the event does not carry, from the token row as
 * dispatch finds it (kind, hint, deadline); never from anything holding a secret.
 */
import type { Orm } from "../db/client";
import {
  dropOrphanedOutbox,
  endpointsOfOrg,
  outboxEvents,
  overdueDeliveryIds,
  settleOutboxEntry,
  tokenById,
  tokensEndedWithMember,
  type EndpointTarget,
  type NewDelivery,
  type OutboxEvent,
} from "../db/webhooks";
import type { TokenRecord } from "../db/token-row";
import type { WebhookMessage } from "../env";
import { WEBHOOK_TYPE_OF_ACTIVITY, type WebhookData, type WebhookEventType, type WebhookPayload } from "./events";

/** Outbox entries one dispatch pass takes; the rest wait for the next pass. */
export const DISPATCH_BATCH = 100;
/** A pending delivery this late is re-enqueued by the cron (its queue message was lost). */
export const OVERDUE_GRACE_MS = 2 * 60_000;
/** Queues' sendBatch accepts at most 100 messages. */
const SEND_BATCH = 100;

interface Message {
  id: string;
  payload: WebhookPayload;
}

function parseDetails(raw: string | null): Record<string, unknown> {
  if (!raw) return {};
  try {
    const value = JSON.parse(raw) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/** Events whose `data` carries the token's (new) idle deadline. */
const WITH_DEADLINE = new Set<WebhookEventType>(["token.created", "token.regenerated", "token.rolled", "token.expired", "token.expiring"]);

function tokenData(event: OutboxEvent, type: WebhookEventType, token: TokenRecord | null, details: Record<string, unknown>): WebhookData {
  const kind = str(details["kind"]) ?? token?.kind ?? null;
  const data: WebhookData = {
    org_id: event.orgId,
    token_id: event.targetId,
    token_kind: kind === "user" || kind === "service_user" ? kind : null,
    name: event.targetName ?? token?.name ?? null,
    hint: str(details["hint"]) ?? token?.hint ?? null,
  };
  if (WITH_DEADLINE.has(type)) data.expires_at = str(details["expires_at"]) ?? iso(token?.expiresAt);
  if (token?.userId) data.member_id = token.userId;
  return data;
}

/** The messages one activity event makes (before fan-out to endpoints). */
async function messagesFor(db: Orm, event: OutboxEvent, type: WebhookEventType): Promise<Message[]> {
  const timestamp = new Date(event.occurredAt).toISOString();
  const details = parseDetails(event.details);
  if (type === "member.deactivated") {
    // One message per token the change ended (each says which token stopped), or one about
    // the member alone when they held none.
    const memberId = event.targetId ?? "";
    const ended = event.targetId ? await tokensEndedWithMember(db, event.orgId, event.targetId, event.occurredAt) : [];
    if (ended.length === 0) {
      return [{ id: event.id, payload: { type, timestamp, data: { org_id: event.orgId, token_id: null, token_kind: null, name: null, hint: null, member_id: memberId } } }];
    }
    return ended.map((token) => ({
      id: `${event.id}.${token.id}`,
      payload: {
        type,
        timestamp,
        data: { org_id: event.orgId, token_id: token.id, token_kind: token.kind, name: token.name, hint: token.hint, member_id: memberId },
      },
    }));
  }
  const token = event.targetId ? await tokenById(db, event.targetId) : null;
  return [{ id: event.id, payload: { type, timestamp, data: tokenData(event, type, token, details) } }];
}

function subscribed(endpoint: EndpointTarget, type: WebhookEventType): boolean {
  try {
    return (JSON.parse(endpoint.events) as string[]).includes(type);
  } catch {
    return false;
  }
}

export async function enqueueDeliveries(queue: Queue<WebhookMessage> | undefined, ids: string[]): Promise<void> {
  if (!queue || ids.length === 0) return;
  for (let i = 0; i < ids.length; i += SEND_BATCH) {
    await queue.sendBatch(ids.slice(i, i + SEND_BATCH).map((id) => ({ body: { delivery_id: id } })));
  }
}

export interface DispatchReport {
  events: number;
  deliveries: number;
}

/** One pass over the outbox: at most `limit` events. */
export async function dispatchOutbox(db: Orm, queue: Queue<WebhookMessage> | undefined, now: number, limit = DISPATCH_BATCH): Promise<DispatchReport> {
  const events = await outboxEvents(db, limit);
  const endpointsByOrg = new Map<string, EndpointTarget[]>();
  const report: DispatchReport = { events: 0, deliveries: 0 };
  for (const event of events) {
    const type = WEBHOOK_TYPE_OF_ACTIVITY[event.type];
    let deliveries: NewDelivery[] = [];
    if (type) {
      let endpoints = endpointsByOrg.get(event.orgId);
      if (!endpoints) {
        endpoints = await endpointsOfOrg(db, event.orgId);
        endpointsByOrg.set(event.orgId, endpoints);
      }
      const targets = endpoints.filter((e) => subscribed(e, type));
      if (targets.length > 0) {
        const messages = await messagesFor(db, event, type);
        deliveries = targets.flatMap((endpoint) =>
          messages.map((m) => ({ endpointId: endpoint.id, messageId: m.id, type, payload: JSON.stringify(m.payload) })),
        );
      }
    }
    const created = await settleOutboxEntry(db, event.orgId, event.id, deliveries, now);
    await enqueueDeliveries(queue, created);
    report.events++;
    report.deliveries += created.length;
  }
  return report;
}

/**
 * The cron's backstop: outbox entries whose event retention already deleted are dropped, and
 * deliveries whose queue message never arrived go on the queue again.
 */
export async function requeueOverdue(db: Orm, queue: Queue<WebhookMessage> | undefined, now: number, limit = 500): Promise<number> {
  await dropOrphanedOutbox(db);
  if (!queue) return 0;
  const ids = await overdueDeliveryIds(db, now - OVERDUE_GRACE_MS, now, limit);
  await enqueueDeliveries(queue, ids);
  return ids.length;
}
