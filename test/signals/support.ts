/**
 * Helpers for the lifecycle-signals tests (SPEC §10): the test receiver started by the global
 * setup (it verifies every delivery with the `standardwebhooks` package), a queue that records
 * what is sent so a test decides when each delivery is attempted, and calls that use it.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Env, WebhookMessage } from "../../src/env";
import { attemptDelivery, type DeliveryResult } from "../../src/signals/deliver";
import { dispatchOutbox } from "../../src/signals/dispatch";
import { adminSession, db, seedOrg, type SeededOrg } from "../helpers/seed";
import { api, call, type CallOptions } from "../helpers/worker";

/** The receiver's origin (the global setup put it in SECRET_SCANNING_KEYS_URL). */
export const RECEIVER = new URL(env.SECRET_SCANNING_KEYS_URL!).origin;

/** A WEBHOOK_QUEUE stand-in: records delivery ids instead of handing them to the consumer. */
export function recordingQueue() {
  const sent: { id: string; delaySeconds?: number }[] = [];
  const queue = {
    async send(body: WebhookMessage, options?: QueueSendOptions) {
      sent.push({ id: body.delivery_id, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: Iterable<MessageSendRequest<WebhookMessage>>) {
      for (const m of messages) sent.push({ id: m.body.delivery_id, delaySeconds: m.delaySeconds });
    },
  } as unknown as Queue<WebhookMessage>;
  /** Ids sent and not yet taken by `take()`. */
  let taken = 0;
  const take = () => {
    const ids = sent.slice(taken).map((s) => s.id);
    taken = sent.length;
    return ids;
  };
  return { queue, sent, take };
}

export type RecordingQueue = ReturnType<typeof recordingQueue>;

export interface SignalsOrg extends SeededOrg {
  session: string;
  queue: RecordingQueue;
  /** Env overrides for `call()`: the recording queue. */
  env: Partial<Env>;
}

export async function signalsOrg(name = "Signals"): Promise<SignalsOrg> {
  const org = await seedOrg(name);
  const queue = recordingQueue();
  return { ...org, session: await adminSession(org), queue, env: { WEBHOOK_QUEUE: queue.queue } };
}

/** A management call as `org`'s admin, with the recording queue. */
export function adminApi(org: SignalsOrg, method: string, path: string, body?: unknown, options: CallOptions = {}) {
  return api(method, path, org.session, body, { ...options, env: { ...org.env, ...options.env } });
}

/** A service token created through the management API as `org`'s admin (so it makes its events). */
export async function createServiceToken(org: SignalsOrg, name = "Nightly export") {
  const res = await adminApi(org, "POST", "/service-tokens", { name });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string; hint: string; expires_at: string };
}

export function callWith(org: SignalsOrg, path: string, options: CallOptions = {}) {
  return call(path, { ...options, env: { ...org.env, ...options.env } });
}

export type ReceiverMode = "ok" | "fail" | "hang";

export interface Endpoint {
  id: string;
  secret: string;
  name: string;
  url: string;
}

/** Registers a webhook endpoint for `org` pointing at a fresh receiver path in `mode`. */
export async function receiverEndpoint(org: SignalsOrg, options: { mode?: ReceiverMode; events?: string[] } = {}): Promise<Endpoint> {
  const name = crypto.randomUUID();
  const url = `${RECEIVER}/hooks/${name}`;
  const res = await adminApi(org, "POST", "/webhooks", { url, ...(options.events ? { events: options.events } : {}) });
  if (res.status !== 201) throw new Error(`webhook create failed: ${res.status} ${await res.text()}`);
  const created = (await res.json()) as { id: string; secret: string };
  await setReceiver(name, created.secret, options.mode ?? "ok");
  return { id: created.id, secret: created.secret, name, url };
}

export async function setReceiver(name: string, secret: string, mode: ReceiverMode): Promise<void> {
  const res = await fetch(`${RECEIVER}/__control/endpoints/${name}`, { method: "PUT", body: JSON.stringify({ secret, mode }) });
  if (res.status !== 204) throw new Error(`receiver control failed: ${res.status}`);
}

export interface Received {
  verified: boolean;
  error: string | null;
  headers: Record<string, string>;
  body: string;
  received_at: number;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
}

export async function received(endpoint: Endpoint): Promise<Received[]> {
  const res = await fetch(`${RECEIVER}/__control/deliveries/${endpoint.name}`);
  const list = (await res.json()) as Omit<Received, "payload">[];
  return list.map((r) => ({ ...r, payload: JSON.parse(r.body) as Received["payload"] }));
}

export const OPTIONS = { allowInsecure: true, timeoutMs: 1_000 };

/**
 * Drains the outbox into the recording queue (as the waitUntil after a change does) and
 * attempts every queued delivery at `now`, as the consumer would.
 */
export async function deliverAll(org: SignalsOrg, now = Date.now()): Promise<DeliveryResult[]> {
  await dispatchOutbox(db(), org.queue.queue, now);
  const results: DeliveryResult[] = [];
  for (const id of org.queue.take()) results.push(await attemptDelivery(db(), id, now, OPTIONS));
  return results;
}

export async function deliveryRows(endpointId: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, message_id, type, payload, status, attempts, last_status_code, next_attempt_at, created_at FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY id",
  )
    .bind(endpointId)
    .all<{
      id: string;
      message_id: string;
      type: string;
      payload: string;
      status: string;
      attempts: number;
      last_status_code: number | null;
      next_attempt_at: number;
      created_at: number;
    }>();
  return results;
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
