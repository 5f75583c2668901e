/**
 * The WEBHOOK_QUEUE consumer (SPEC §10): each message names one delivery; it is attempted and
 * acknowledged, and a follow-up message is sent for the next attempt when one is due. D1 being
 * down is the one case left to Queues' own retry; the cron's backstop covers a lost message.
 */
import { orm } from "../db/client";
import type { Env, WebhookMessage } from "../env";
import { signalsConfig } from "./config";
import { attemptDelivery, queueDelaySeconds } from "./deliver";

export async function handleWebhookBatch(batch: MessageBatch<WebhookMessage>, env: Env): Promise<void> {
  const db = orm(env.DB);
  const config = signalsConfig(env);
  const options = { allowInsecure: config.allowInsecureWebhooks, timeoutMs: config.webhookTimeoutMs };
  await Promise.all(
    batch.messages.map(async (message) => {
      const id = message.body?.delivery_id;
      if (typeof id !== "string") return message.ack();
      try {
        const now = Date.now();
        const result = await attemptDelivery(db, id, now, options);
        if ((result.outcome === "retry" || result.outcome === "later") && env.WEBHOOK_QUEUE) {
          await env.WEBHOOK_QUEUE.send({ delivery_id: id }, { delaySeconds: queueDelaySeconds(result.at, now) });
        }
        message.ack();
      } catch (err) {
        console.error(`portcullis webhooks: delivery ${id} not attempted: ${err instanceof Error ? err.message : String(err)}`);
        message.retry({ delaySeconds: 30 });
      }
    }),
  );
}
