// Global setup of the browser suite (SPEC §8): the Worker under `wrangler dev` with a fresh local
// D1 in a temp directory, the echo upstream and the demo IdP, all on ephemeral ports.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM script without types
import { createEchoServer, listen } from "../../scripts/echo-upstream.mjs";
// @ts-expect-error plain ESM script without types
import { startDemoIdp } from "../../scripts/demo-idp.mjs";
import { freePort } from "../helpers/free-port";

declare module "vitest" {
  export interface ProvidedContext {
    consoleBase: string;
    persistDir: string;
    adminSecret: string;
  }
}

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

async function waitFor(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`wrangler dev did not start in time:\n${log()}`);
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "portcullis-console-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" };
  const migrate = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], { cwd: ROOT, env, encoding: "utf8" });
  if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}`);

  const { server: upstream } = createEchoServer();
  const upstreamPort: number = await listen(upstream);
  const workerPort = await freePort();
  const base = `http://127.0.0.1:${workerPort}/_portcullis/v1/console`;
  const adminSecret = "browser-admin-secret";

  let child: ChildProcess | undefined;
  let output = "";
  const idp = await startDemoIdp({ port: 0, host: "127.0.0.1", issuerHost: "127.0.0.1", redirectUris: [`${base}/callback`] });
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const vars: Record<string, string> = {
    ADMIN_SECRET: adminSecret,
    SESSION_SECRET: "browser-session-secret",
    UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
    ASSERTION_PRIVATE_KEY: JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)),
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: "portcullis-console",
    OIDC_CLIENT_SECRET: "portcullis-console-demo-secret",
  };
  const envFile = path.join(dir, "test.env");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n"));
  child = spawn(
    process.execPath,
    [WRANGLER, "dev", "--local", "--ip", "127.0.0.1", "--port", String(workerPort), "--persist-to", dir, "--env-file", envFile, "--show-interactive-dev-session=false", "--log-level", "warn"],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  await waitFor(`http://127.0.0.1:${workerPort}/_portcullis/v1/.well-known/jwks.json`, child, () => output);

  project.provide("consoleBase", base);
  project.provide("persistDir", dir);
  project.provide("adminSecret", adminSecret);
  return async () => {
    if (process.env.CONSOLE_DEBUG) console.log(output);
    child?.kill("SIGTERM");
    await idp.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
}
