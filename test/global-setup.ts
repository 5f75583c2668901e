// Starts the fake upstream (scripts/echo-upstream.mjs) and the webhook receiver
// (scripts/webhook-receiver.mjs) in Node before the workerd tests run; code inside workerd
// reaches both on 127.0.0.1.
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM script without types
import { createEchoServer, listen } from "../scripts/echo-upstream.mjs";
// @ts-expect-error plain ESM script without types
import { createWebhookReceiver } from "../scripts/webhook-receiver.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamPort: number;
    receiverPort: number;
  }
}

export default async function setup(project: TestProject) {
  const { server } = createEchoServer();
  const port: number = await listen(server);
  project.provide("upstreamPort", port);
  const receiver = createWebhookReceiver();
  project.provide("receiverPort", await listen(receiver.server));
  return async () => {
    await receiver.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
