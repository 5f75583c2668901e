// Starts the fake upstream (scripts/echo-upstream.mjs) in Node before the workerd tests run;
// code inside workerd reaches it on 127.0.0.1.
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM script without types
import { createEchoServer, listen } from "../scripts/echo-upstream.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    upstreamPort: number;
  }
}

export default async function setup(project: TestProject) {
  const { server } = createEchoServer();
  const port: number = await listen(server);
  project.provide("upstreamPort", port);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
