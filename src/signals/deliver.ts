/**
 * Delivering one webhook (SPEC §10): Standard Webhooks headers signed with the
 * `standardwebhooks` package, a 10 s deadline, and on a non-2xx answer or none, a retry on an
 * exponential schedule for up to 24 h after the event, then `failed`.
 *
 * Queues delay a message by at most 12 h and count retries themselves, so the schedule lives
 * in D1 (`attempts`, `next_attempt_at`): each attempt acknowledges its message and sends a new,
 * delayed one for the next attempt. A message that arrives early (or twice) finds the delivery
 * not yet due, or leased by another consumer, and only re-schedules itself.
 */
import { Webhook } from "standardwebhooks";
import { claimDelivery, recordAttempt } from "../db/webhooks";
import type { Orm } from "../db/client";
import { checkWebhookUrl } from "./url-rules";

/** Wait after the n-th failed attempt: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h. */
export const RETRY_DELAYS_MS = [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000] as const;
/** No attempt is scheduled later than this after the delivery was made. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
/** Longest delay Queues accept for one message (12 h). */
export const MAX_QUEUE_DELAY_S = 43_200;
/** A claimed delivery is held this long: the receiver's deadline plus room to record the outcome. */
const LEASE_MS = 60_000;

/** When to try again after `attempts` failed attempts, or null when the 24 h are used up. */
export function nextAttemptAfter(createdAt: number, attempts: number, now: number): number | null {
  const delay = RETRY_DELAYS_MS[Math.min(attempts, RETRY_DELAYS_MS.length) - 1] ?? RETRY_DELAYS_MS[0];
  const at = now + delay;
  return at - createdAt > GIVE_UP_AFTER_MS ? null : at;
}

export interface DeliveryOptions {
  allowInsecure: boolean;
  timeoutMs: number;
}

export type DeliveryResult =
  | { outcome: "delivered"; statusCode: number }
  | { outcome: "retry"; at: number; statusCode: number | null }
  | { outcome: "failed"; statusCode: number | null }
  /** Not due yet or held by another consumer: look again at `at`. */
  | { outcome: "later"; at: number }
  | { outcome: "done" };

/** Sends the signed request; the status code, or null for no answer within the deadline. */
async function send(url: URL, secret: string, messageId: string, payload: string, timeoutMs: number): Promise<{ status: number | null; error: string | null }> {
  // The signing time is the real clock even under a test's controlled `now`: receivers reject
  // timestamps outside their tolerance (Standard Webhooks: 5 minutes).
  const signedAt = new Date();
  const signature = new Webhook(secret).sign(messageId, signedAt, payload);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Portcullis-Webhooks/1",
        "webhook-id": messageId,
        "webhook-timestamp": String(Math.floor(signedAt.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body: payload,
      // A redirect could lead anywhere, including where the URL rules forbid: not followed.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return { status: response.status, error: null };
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    return { status: null, error: name === "TimeoutError" || name === "AbortError" ? `no answer within ${timeoutMs} ms` : "connection failed" };
  }
}

/** One attempt at delivery `id` as of `now` (the queue consumer's and the tests' entry point). */
export async function attemptDelivery(db: Orm, id: string, now: number, options: DeliveryOptions): Promise<DeliveryResult> {
  const claim = await claimDelivery(db, id, now, LEASE_MS);
  if (claim.kind === "done") return { outcome: "done" };
  if (claim.kind === "later") return { outcome: "later", at: claim.at };
  const delivery = claim.delivery;
  if (delivery.url === null || delivery.secret === null) {
    await recordAttempt(db, id, { status: "failed", statusCode: null, error: "endpoint deleted", nextAttemptAt: now }, now);
    return { outcome: "failed", statusCode: null };
  }
  // The rules again at delivery time: they may have tightened since the endpoint was made.
  const check = checkWebhookUrl(delivery.url, options.allowInsecure);
  if (!check.ok) {
    await recordAttempt(db, id, { status: "failed", statusCode: null, error: check.reason, nextAttemptAt: now }, now);
    return { outcome: "failed", statusCode: null };
  }
  const { status, error } = await send(check.url, delivery.secret, delivery.messageId, delivery.payload, options.timeoutMs);
  if (status !== null && status >= 200 && status < 300) {
    await recordAttempt(db, id, { status: "delivered", statusCode: status, error: null, nextAttemptAt: now }, now);
    return { outcome: "delivered", statusCode: status };
  }
  const next = nextAttemptAfter(delivery.createdAt, delivery.attempts + 1, now);
  const reason = error ?? `answered ${status}`;
  if (next === null) {
    await recordAttempt(db, id, { status: "failed", statusCode: status, error: reason, nextAttemptAt: now }, now);
    return { outcome: "failed", statusCode: status };
  }
  await recordAttempt(db, id, { status: "pending", statusCode: status, error: reason, nextAttemptAt: next }, now);
  return { outcome: "retry", at: next, statusCode: status };
}

/** Seconds to delay the queue message that should arrive at `at`. */
export function queueDelaySeconds(at: number, now: number): number {
  return Math.min(MAX_QUEUE_DELAY_S, Math.max(0, Math.ceil((at - now) / 1000)));
}
