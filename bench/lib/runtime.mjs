// Starts the Workers under test, each in its own workerd (through miniflare, the runtime that
// `wrangler dev` uses), with the same compatibility date and flags as wrangler.toml.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * miniflare as wrangler itself ships it (the runtime of `wrangler dev`), resolved through
 * wrangler's own dependencies so no second copy or version has to be pinned here.
 */
export async function loadMiniflare(root) {
  const fromRoot = createRequire(path.join(root, "package.json"));
  const fromWrangler = createRequire(fromRoot.resolve("wrangler/package.json"));
  return import(pathToFileURL(fromWrangler.resolve("miniflare")).href);
}

/** compatibility_date and compatibility_flags from wrangler.toml (the deployed settings). */
export function compatibility(root) {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return {
    compatibilityDate: date,
    compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
  };
}

/**
 * Bundle Portcullis exactly as `wrangler deploy` would (`--dry-run --outdir`), with the node 22
 * that package.json pins; `entry` bundles another script with the same settings instead. Returns the output directory (index.js + source map) and wrangler's own size line.
 */
export async function buildBundle(root, { entry, outdir = mkdtempSync(path.join(tmpdir(), "portcullis-bundle-")) } = {}) {
  const require = createRequire(path.join(root, "package.json"));
  const wrangler = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  const output = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir, ...(entry ? [entry] : [])], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`wrangler deploy --dry-run failed (${code}):\n${output}`))));
  });
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
  // The entry is index.js; the other .js files in outdir are Text modules (see TEXT_MODULE_NAMES).
  const files = readdirSync(outdir);
  const main = files.includes("index.js") ? "index.js" : files.find((f) => f.endsWith(".js") && !isTextModule(f));
  if (!main) throw new Error(`wrangler wrote no script to ${outdir}`);
  return { outdir, main: path.join(outdir, main), wranglerReport: upload ? { raw_kib: Number(upload[1]), gzip_kib: Number(upload[2]) } : null };
}

/** A fresh P-256 private JWK for the assertion signature (never a committed secret). */
export async function assertionKey() {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  return JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
}

/**
 * Files that `wrangler deploy` uploads as Text modules (wrangler.toml `[[rules]]`: Swagger UI's
 * bundle and stylesheet for the /docs page). In the dry-run output they are named
 * `<hash>-<file name>`, so they are recognised by the end of their name.
 */
const TEXT_MODULE_NAMES = ["swagger-ui-bundle.js", "swagger-ui.css"];
export const isTextModule = (file) => TEXT_MODULE_NAMES.some((name) => file.endsWith(`-${name}`) || file === name);

const textModulesBeside = (scriptPath) =>
  readdirSync(path.dirname(scriptPath))
    .filter(isTextModule)
    .map((file) => path.join(path.dirname(scriptPath), file));

/**
 * One Worker in its own workerd process. `d1` adds a local D1 database bound as DB;
 * `ratelimits` the rate-limit bindings. Resolves once the server accepts requests.
 */
export async function startWorker({ root, name, scriptPath, modules, bindings = {}, d1 = false, ratelimits, persistDir, inspectorPort }) {
  const { Log, LogLevel, Miniflare, convertV4MiniflareOptions } = await loadMiniflare(root);
  const before = new Set(childPids());
  // Miniflare 5 takes a new options shape and converts the long-documented one.
  const toOptions = convertV4MiniflareOptions ?? ((o) => o);
  const mf = new Miniflare(toOptions({
    name,
    // `modules`: an explicit list of ES module paths, the entry first (the D1 latency wrapper).
    ...(modules
      ? { modules: modules.map((p) => ({ type: isTextModule(path.basename(p)) ? "Text" : "ESModule", path: p })), modulesRoot: path.dirname(modules[0]) }
      : textModulesBeside(scriptPath).length > 0
        ? {
            modules: [
              { type: "ESModule", path: scriptPath },
              ...textModulesBeside(scriptPath).map((p) => ({ type: "Text", path: p })),
            ],
            modulesRoot: path.dirname(scriptPath),
          }
        : { modules: true, scriptPath, modulesRoot: path.dirname(scriptPath) }),
    ...compatibility(root),
    bindings,
    d1Databases: d1 ? { DB: `bench-${name}` } : undefined,
    ratelimits,
    // Placeholder request.cf: no network look-up, and no Cloudflare-specific data is needed.
    cf: false,
    port: 0,
    host: "127.0.0.1",
    // Load goes to a socket wired straight to the Worker, as in production: miniflare's own
    // entry Worker (dev conveniences, per-request logging to Node) would sit in front otherwise.
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    logRequests: false,
    log: new Log(LogLevel.WARN),
    resourcePersistencePath: persistDir,
    inspectorPort,
  }));
  await mf.ready;
  const url = await mf.unsafeGetDirectURL(name);
  // The workerd process this instance spawned, to read the CPU time each run costs it.
  const pid = childPids().find((p) => !before.has(p)) ?? null;
  return {
    name,
    mf,
    pid,
    url: url.toString().replace(/\/$/, ""),
    db: d1 ? await mf.getD1Database("DB") : null,
    // The local D1 of a scale run is hundreds of MB: never leave it behind.
    dispose: async () => {
      await mf.dispose();
      if (persistDir) rmSync(persistDir, { recursive: true, force: true });
    },
  };
}

/** The upstream (bench/lib/upstream.mjs) in its own Node process; resolves with its URL. */
export function startUpstream() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "upstream.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
    child.on("error", reject);
    child.stdout.once("data", (d) => {
      const { port } = JSON.parse(String(d));
      resolve({ url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill("SIGTERM") });
    });
  });
}

/** Process ids whose parent is `ppid` (read from /proc; empty where there is no /proc). */
export function childPids(ppid = process.pid) {
  try {
    return readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(statFields(Number(d))[1]) === ppid;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, …]. */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU time (user + system, all threads) a process has used so far, in ms; null without /proc. */
export function cpuMs(pid) {
  if (!pid) return null;
  try {
    const f = statFields(pid);
    // utime and stime are fields 14 and 15 of stat, in clock ticks (USER_HZ, 100 on Linux).
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}
