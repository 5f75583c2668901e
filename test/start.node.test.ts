/**
 * `npm start` (SPEC §7) from a clean copy of the repository, on free ports beside any demo
 * already running: it prints credentials that work (a public route, a user token through the
 * proxy, a service token and a session JWT on the management API), and a second start reuses
 * the same demo organization and tokens.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/free-port";

const ROOT = path.resolve(import.meta.dirname, "..");
const PREFIX = "/_portcullis/v1";
const STARTUP_MS = 150_000;

/** The tracked files as they are in this working tree (a fresh clone's worth), plus node_modules. */
function cleanCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "portcullis-start-"));
  const files = spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    try {
      cpSync(path.join(ROOT, file), path.join(dir, file));
    } catch {
      // A tracked file deleted in this working tree is not part of the copy.
    }
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

interface Demo {
  reused: boolean;
  orgId: string;
  sessionJwt: string;
  userToken: string;
  serviceToken: string;
}

let dir: string;
let ports: { proxy: number; upstream: number; inspector: number; idp: number; secretScanning: number };
let running: ChildProcess | null = null;

/** Runs `npm start`'s script until it prints its banner; returns what it printed. */
function start(): Promise<Demo> {
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: dir,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      PORTCULLIS_PORT: String(ports.proxy),
      PORTCULLIS_UPSTREAM_PORT: String(ports.upstream),
      PORTCULLIS_INSPECTOR_PORT: String(ports.inspector),
      DEMO_IDP_PORT: String(ports.idp),
      PORTCULLIS_SECRET_SCANNING_PORT: String(ports.secretScanning),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running = child;
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no banner in time:\n${output.slice(-3000)}`)), STARTUP_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes("Press Ctrl-C to stop.")) return;
      clearTimeout(timer);
      const field = (label: string) => new RegExp(`${label}\\s+(\\S+)`).exec(output)?.[1] ?? "";
      resolve({
        reused: output.includes("Reusing the demo data"),
        orgId: field("Org id"),
        sessionJwt: field("Session JWT"),
        userToken: field("User API token"),
        serviceToken: field("Service token"),
      });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
}

/** Stops the start script this test started (it stops its own wrangler dev and upstream). */
async function stop(): Promise<void> {
  const child = running;
  running = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

async function check(demo: Demo) {
  const base = `http://127.0.0.1:${ports.proxy}`;
  expect((await fetch(`${base}/health`)).status).toBe(200);

  const inspection = await fetch(`${base}/inspections/42?verbose=1`, { headers: { authorization: `Bearer ${demo.userToken}` } });
  expect(inspection.status).toBe(200);
  const echoed = (await inspection.json()) as { path: string; headers: Record<string, string> };
  expect(echoed.path).toBe("/inspections/42");
  expect(echoed.headers["x-portcullis-org-id"]).toBe(demo.orgId);
  expect(echoed.headers["authorization"]).toBeUndefined();

  const asService = await fetch(`${base}${PREFIX}/me`, { headers: { authorization: `Bearer ${demo.serviceToken}` } });
  expect(asService.status).toBe(200);
  const asSession = await fetch(`${base}${PREFIX}/me`, { headers: { authorization: `Bearer ${demo.sessionJwt}` } });
  expect(asSession.status).toBe(200);
  expect((await fetch(`${base}/inspections/42`)).status).toBe(401);
}

beforeAll(async () => {
  dir = cleanCopy();
  ports = {
    proxy: await freePort(),
    upstream: await freePort(),
    inspector: await freePort(),
    idp: await freePort(),
    secretScanning: await freePort(),
  };
});

afterAll(async () => {
  await stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm start (SPEC §7)", () => {
  it("seeds a demo whose printed credentials work, and a second start reuses it", { timeout: 2 * STARTUP_MS + 60_000 }, async () => {
    const first = await start();
    expect(first.reused).toBe(false);
    expect(first.userToken).toMatch(/^pcu_/);
    expect(first.serviceToken).toMatch(/^pcs_/);
    expect(first.sessionJwt.split(".")).toHaveLength(3);
    await check(first);
    await stop();

    const second = await start();
    expect(second.reused).toBe(true);
    expect(second).toMatchObject({ orgId: first.orgId, userToken: first.userToken, serviceToken: first.serviceToken });
    await check(second);
  });
});
