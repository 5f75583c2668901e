// Shared helpers for the local scripts (start, seed, session). Plain Node 22, no build step.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PREFIX = "/_portcullis/v1";
export const PROXY_PORT = Number(process.env.PORTCULLIS_PORT ?? 8787);
export const UPSTREAM_PORT = Number(process.env.PORTCULLIS_UPSTREAM_PORT ?? 8788);
export const PROXY_URL = `http://localhost:${PROXY_PORT}`;
export const DEMO_FILE = path.join(ROOT, ".demo", "demo.json");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export function requireNode22() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22) {
    console.error(`Portcullis scripts need Node 22+ (found ${process.version}). Run them through npm (npm start), which uses the pinned node package.`);
    process.exit(1);
  }
}

/** KEY=value lines of .dev.vars (comments and blanks ignored). */
export function readDevVars() {
  const file = path.join(ROOT, ".dev.vars");
  if (!existsSync(file)) return {};
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (match) vars[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/** Runs wrangler with Node 22 (this process's node) and metrics off. */
export function wrangler(args, options = {}) {
  return spawn(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    stdio: options.stdio ?? "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...options.env },
  });
}

export function wranglerSync(args) {
  return new Promise((resolve, reject) => {
    const child = wrangler(args, { stdio: ["ignore", "inherit", "inherit"], env: { CI: "true" } });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args.join(" ")} exited with ${code}`))));
  });
}

export async function waitFor(url, { timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      lastError = new Error(`HTTP ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms: ${lastError?.message}`);
}
