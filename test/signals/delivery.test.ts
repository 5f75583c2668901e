/**
 * SPEC §10 delivery: through the real WEBHOOK_QUEUE end to end, Standard Webhooks signatures the
 * receiver verifies with the library, retries on the exponential schedule after 5xx and after no
 * answer, `failed` after 24 h, nothing for a rolled-back change, no secret in any payload.
 */
import { createMessageBatch, getQueueResult, createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, WebhookMessage } from "../../src/env";
import { handleWebhookBatch } from "../../src/signals/consumer";
import { attemptDelivery, GIVE_UP_AFTER_MS, RETRY_DELAYS_MS } from "../../src/signals/deliver";
import { dispatchOutbox } from "../../src/signals/dispatch";
import { adminSession, db } from "../helpers/seed";
import { api } from "../helpers/worker";
import {
  adminApi,
  createServiceToken,
  deliverAll,
  deliveryRows,
  OPTIONS,
  received,
  receiverEndpoint,
  setReceiver,
  signalsOrg,
  waitFor,
  type SignalsOrg,
} from "./support";

describe("delivery through WEBHOOK_QUEUE", () => {
  it("delivers a signed token.created to the receiver promptly, and the deliveries view shows it", async () => {
    const org = await signalsOrg("Queue");
    const realQueue = { ...org, env: {} } as SignalsOrg;
    const endpoint = await receiverEndpoint(realQueue);
    const started = Date.now();
    const res = await api("POST", "/service-tokens", await adminSession(org), { name: "Queue path" });
    const token = (await res.json()) as { id: string; token: string; hint: string };
    const [delivery] = await waitFor(async () => {
      const list = await received(endpoint);
      return list.length > 0 && list;
    });
    const latency = delivery!.received_at - started;
    console.log(`webhook latency through the local queue: ${latency} ms (change request start → receiver)`);
    expect(delivery!.verified).toBe(true);
    expect(delivery!.headers["content-type"]).toBe("application/json");
    expect(delivery!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(delivery!.payload).toEqual({
      type: "token.created",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: {
        org_id: org.orgId,
        token_id: token.id,
        token_kind: "service_user",
        name: "Queue path",
        hint: token.hint,
        expires_at: expect.stringMatching(/Z$/),
      },
    });
    expect(delivery!.body).not.toContain(token.token);

    const view = await waitFor(async () => {
      const body = (await (await adminApi(org, "GET", `/webhooks/${endpoint.id}/deliveries`)).json()) as { data: Record<string, unknown>[] };
      return body.data[0]?.["status"] === "delivered" && body;
    });
    expect(view.data[0]).toMatchObject({
      event_id: delivery!.headers["webhook-id"],
      type: "token.created",
      status: "delivered",
      attempts: 1,
      last_status_code: 204,
    });
  });

  it("the consumer attempts each message once and queues the next attempt with the backoff delay", async () => {
    const org = await signalsOrg("Consumer");
    const endpoint = await receiverEndpoint(org, { mode: "fail" });
    await createServiceToken(org);
    await dispatchOutbox(db(), org.queue.queue, Date.now());
    const [id] = org.queue.take();
    const batch = createMessageBatch<WebhookMessage>("portcullis-webhooks", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { delivery_id: id! } }]);
    const ctx = createExecutionContext();
    await handleWebhookBatch(batch, { ...env, ...org.env } as Env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect(org.queue.sent.at(-1)).toEqual({ id, delaySeconds: RETRY_DELAYS_MS[0] / 1000 });
    const [row] = await deliveryRows(endpoint.id);
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_status_code: 500 });
  });
});

describe("retries", () => {
  it("retries a 5xx on the schedule 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then marks it failed within 24 h", async () => {
    const org = await signalsOrg("Retry");
    const endpoint = await receiverEndpoint(org, { mode: "fail" });
    await createServiceToken(org);
    const t0 = Date.now();
    const [first] = await deliverAll(org, t0);
    expect(first).toEqual({ outcome: "retry", at: t0 + RETRY_DELAYS_MS[0], statusCode: 500 });
    const [row] = await deliveryRows(endpoint.id);
    const id = row!.id;

    // A message that arrives before the attempt is due only learns when to come back.
    expect(await attemptDelivery(db(), id, t0 + 5_000, OPTIONS)).toEqual({ outcome: "later", at: t0 + RETRY_DELAYS_MS[0] });

    const attemptTimes = [t0];
    let result = first!;
    while (result.outcome === "retry") {
      attemptTimes.push(result.at);
      result = await attemptDelivery(db(), id, result.at, OPTIONS);
    }
    expect(result).toEqual({ outcome: "failed", statusCode: 500 });
    const offsets = attemptTimes.map((t) => t - t0);
    let expected = 0;
    expect(offsets).toEqual([0, ...RETRY_DELAYS_MS.map((d) => (expected += d))]);
    expect(offsets.at(-1)!).toBeLessThanOrEqual(GIVE_UP_AFTER_MS);

    const [final] = await deliveryRows(endpoint.id);
    expect(final).toMatchObject({ status: "failed", attempts: 8, last_status_code: 500 });
    const view = (await (await adminApi(org, "GET", `/webhooks/${endpoint.id}/deliveries`)).json()) as { data: Record<string, unknown>[] };
    expect(view.data[0]).toMatchObject({ status: "failed", attempts: 8, last_status_code: 500, next_attempt_at: null });
    // Every attempt was the same signed message.
    const got = await received(endpoint);
    expect(got).toHaveLength(8);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(got.every((r) => r.verified)).toBe(true);
    // Nothing more happens to a failed delivery.
    expect(await attemptDelivery(db(), id, t0 + GIVE_UP_AFTER_MS, OPTIONS)).toEqual({ outcome: "done" });
  });

  it("treats no answer within the deadline as a failed attempt, and delivers on a later attempt", async () => {
    const org = await signalsOrg("Timeout");
    const endpoint = await receiverEndpoint(org, { mode: "hang" });
    await createServiceToken(org);
    const t0 = Date.now();
    const started = performance.now();
    const [first] = await deliverAll(org, t0);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(first).toEqual({ outcome: "retry", at: t0 + RETRY_DELAYS_MS[0], statusCode: null });
    const [row] = await deliveryRows(endpoint.id);
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_status_code: null });

    await setReceiver(endpoint.name, endpoint.secret, "ok");
    expect(await attemptDelivery(db(), row!.id, t0 + RETRY_DELAYS_MS[0], OPTIONS)).toEqual({ outcome: "delivered", statusCode: 204 });
    expect((await deliveryRows(endpoint.id))[0]).toMatchObject({ status: "delivered", attempts: 2, last_status_code: 204 });
  });

  it("re-checks the URL rules at delivery time", async () => {
    const org = await signalsOrg("Rules");
    const endpoint = await receiverEndpoint(org);
    await createServiceToken(org);
    await dispatchOutbox(db(), org.queue.queue, Date.now());
    const [id] = org.queue.take();
    // Without the local-development exception, the receiver's http://127.0.0.1 URL is refused.
    expect(await attemptDelivery(db(), id!, Date.now(), { ...OPTIONS, allowInsecure: false })).toEqual({ outcome: "failed", statusCode: null });
    expect(await received(endpoint)).toEqual([]);
  });
});

describe("the outbox", () => {
  it("sends nothing for a change whose batch was rolled back", async () => {
    const org = await signalsOrg("Rollback");
    const endpoint = await receiverEndpoint(org);
    const token = await createServiceToken(org);
    await deliverAll(org);
    // Every D1 batch fails at its last statement, so the whole transaction is rolled back.
    const failingBatches = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return (statements: D1PreparedStatement[]) => target.batch([...statements, target.prepare("INSERT INTO no_such_table VALUES (1)")]);
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await adminApi(org, "POST", `/service-tokens/${token.id}/revoke`, undefined, { env: { DB: failingBatches } });
    expect(res.status).toBe(503);
    await deliverAll(org);
    const types = (await received(endpoint)).map((r) => r.payload.type);
    expect(types).toEqual(["token.created"]);
    expect((await deliveryRows(endpoint.id)).map((r) => r.type)).toEqual(["token.created"]);
    const status = await env.DB.prepare("SELECT status FROM api_tokens WHERE id = ?1").bind(token.id).first<{ status: string }>();
    expect(status!.status).toBe("active");
  });

  it("makes each delivery once even when dispatch runs twice over the same events", async () => {
    const org = await signalsOrg("Twice");
    const endpoint = await receiverEndpoint(org);
    await createServiceToken(org);
    await Promise.all([dispatchOutbox(db(), org.queue.queue, Date.now()), dispatchOutbox(db(), org.queue.queue, Date.now())]);
    expect(await deliveryRows(endpoint.id)).toHaveLength(1);
    const pending = await env.DB.prepare("SELECT count(*) AS n FROM webhook_outbox WHERE org_id = ?1").bind(org.orgId).first<{ n: number }>();
    expect(pending!.n).toBe(0);
  });

  it("records nothing in the outbox for an organization without endpoints", async () => {
    const org = await signalsOrg("Quiet");
    await createServiceToken(org);
    const pending = await env.DB.prepare("SELECT count(*) AS n FROM webhook_outbox WHERE org_id = ?1").bind(org.orgId).first<{ n: number }>();
    expect(pending!.n).toBe(0);
  });

  it("never puts a token secret in a payload", async () => {
    const org = await signalsOrg("Secrets");
    const endpoint = await receiverEndpoint(org);
    const token = await createServiceToken(org);
    await adminApi(org, "POST", `/service-tokens/${token.id}/revoke`);
    const regenerated = (await (await adminApi(org, "POST", `/service-tokens/${token.id}/regenerate`)).json()) as { token: string };
    await deliverAll(org);
    const got = await received(endpoint);
    expect(got.map((r) => r.payload.type)).toEqual(["token.created", "token.revoked", "token.regenerated"]);
    for (const r of got) {
      expect(r.verified).toBe(true);
      expect(r.body).not.toContain(token.token);
      expect(r.body).not.toContain(regenerated.token);
      expect(r.body).not.toMatch(/pc[su]_[0-9A-Za-z]{49}/);
      expect(r.body).not.toContain(endpoint.secret);
    }
  });
});
