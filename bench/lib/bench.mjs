// The pieces bench/run.mjs and scripts/scale.mjs share: start the Workers under test against one
// upstream, seed their D1 from one token plan, and measure scenarios in alternating rounds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { assertionKey, buildBundle, cpuMs, startWorker } from "./runtime.mjs";
import { withD1Latency } from "./d1-latency.mjs";
import { applyMigrations, seedPlan } from "./seed.mjs";
import { credentialsFile, runWrk } from "./wrk.mjs";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");

/** The path every scenario requests: the demo policy requires inspections.view for it (SPEC §7). */
export const BENCH_PATH = "/inspections/42";

/**
 * The Workers of the benchmark. Portcullis runs from the bundle `wrangler deploy` would upload,
 * with wrangler.toml's defaults; only what a deployment must supply is set (upstream, signing key)
 * plus AUTH_CACHE_TTL_MS for the cached variant.
 *
 * The AUTH_FAILURE_LIMITER binding is left out on purpose: miniflare simulates it with a Durable
 * Object that writes SQLite on disk for every call, nothing like the in-memory counter of the
 * real binding, and with the shipped limit (60 failures/min per IP) every reject scenario would
 * measure 429s after the first second. Without the binding the code path skips the call.
 */
export const WORKERS = {
  bare: { script: "bench/workers/bare.js", d1: false },
  reference: { script: "bench/workers/reference.js", d1: true },
  proxy: { script: "portcullis", d1: true, vars: { AUTH_CACHE_TTL_MS: "0" } },
  "proxy-cached": { script: "portcullis", d1: true, vars: { AUTH_CACHE_TTL_MS: "5000" } },
  // The same bundle with a fresh, request-bound assertion per request (SPEC §3.1), compared with
  // reference-signed: the reference plus exactly that signature.
  "proxy-request": { script: "portcullis", d1: true, vars: { AUTH_CACHE_TTL_MS: "0", ASSERTION_MODE: "request" } },
  // Informational: the steps the SPEC makes unavoidable for Portcullis, from its own functions
  // (see the file's comment), without and with the in-isolate cache.
  "spec-floor": { script: "spec-floor", d1: true, vars: { FLOOR_CACHE_TTL_MS: "0" } },
  "spec-floor-cached": { script: "spec-floor", d1: true, vars: { FLOOR_CACHE_TTL_MS: "5000" } },
  // Informational: the same floor in request mode (a fresh assertion bound to htm/htu per request).
  "spec-floor-request": { script: "spec-floor", d1: true, vars: { FLOOR_CACHE_TTL_MS: "0", FLOOR_ASSERTION_MODE: "request" } },
  // Informational: bare + the per-request ES256 assertion alone (see the file's comment).
  "signing-floor": { script: "signing-floor", d1: false },
  // Informational: reference + the same assertion and identity headers (see the file's comment).
  "reference-signed": { script: "reference-signed", d1: true },
};

let baselineRoot = null;

/**
 * Development A/B (`--baseline DIR`): Portcullis built from another checkout (an older commit,
 * with its own node_modules), run beside the current one on the current schema as
 * `proxy-baseline` and `proxy-baseline-cached`.
 */
export function addBaseline(dir) {
  baselineRoot = path.resolve(dir);
  WORKERS["proxy-baseline"] = { script: "portcullis-baseline", d1: true, vars: { AUTH_CACHE_TTL_MS: "0" } };
  WORKERS["proxy-baseline-cached"] = { script: "portcullis-baseline", d1: true, vars: { AUTH_CACHE_TTL_MS: "5000" } };
}

/** The bundles the Workers need: Portcullis as deployed, and the signing floor (same bundler). */
export async function buildBundles(names, log = () => {}) {
  const bundles = {};
  if (names.some((n) => WORKERS[n].script === "portcullis")) bundles.portcullis = await buildBundle(ROOT);
  if (baselineRoot && names.some((n) => WORKERS[n].script === "portcullis-baseline")) bundles["portcullis-baseline"] = await buildBundle(baselineRoot);
  for (const script of ["signing-floor", "reference-signed", "spec-floor"]) {
    if (names.some((n) => WORKERS[n].script === script)) bundles[script] = await buildBundle(ROOT, { entry: `bench/workers/${script}.ts` });
  }
  log(`  built ${Object.keys(bundles).join(", ") || "nothing"}`);
  return bundles;
}

/** Remove temporary directories (bundles, credential files) once a run is over. */
export function removeTemporary(...dirs) {
  for (const dir of dirs) if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * `d1LatencyMs` > 0 starts every Worker that has a D1 through bench/lib/d1-latency.mjs, which
 * adds that round trip to each of its D1 calls (seeding goes to the database directly).
 */
export async function startWorkers({ names, bundles, upstreamUrl, plan, filler = 0, fillerOrgs = 1, d1LatencyMs = 0, log = () => {} }) {
  const key = await assertionKey();
  const started = {};
  for (const name of names) {
    const spec = WORKERS[name];
    const built = bundles[spec.script];
    const scriptPath = built ? built.main : path.join(ROOT, spec.script);
    let latencyDir = null;
    let modules;
    if (spec.d1 && d1LatencyMs > 0) ({ dir: latencyDir, modules } = withD1Latency(scriptPath, d1LatencyMs));
    const bindings = built ? { UPSTREAM_URL: upstreamUrl, ASSERTION_PRIVATE_KEY: key, ...spec.vars } : { UPSTREAM_URL: upstreamUrl };
    const worker = await startWorker({ root: ROOT, name: name.replace(/[^a-z]/g, ""), scriptPath, modules, bindings, d1: spec.d1, persistDir: mkdtempSync(path.join(tmpdir(), `portcullis-${name}-`)) });
    if (worker.db) {
      log(`  seeding ${name}: migrations + ${filler + plan.validUser.length + plan.validService.length + plan.revoked.length} tokens`);
      await applyMigrations(worker.db, ROOT);
      await seedPlan(worker.db, plan, { filler, fillerOrgs });
    }
    if (latencyDir) {
      const dispose = worker.dispose;
      worker.dispose = async () => {
        await dispose();
        removeTemporary(latencyDir);
      };
    }
    started[name] = worker;
    log(`  ${name} listening on ${worker.url}`);
  }
  return started;
}

/** The credentials each scenario rotates through and the one status it must see. */
export function scenarioCredentials(plan) {
  return {
    valid: { credentials: [...plan.validUser, ...plan.validService], expect: 200 },
    malformed: { credentials: plan.malformed, expect: 401 },
    unknown: { credentials: plan.unknown, expect: 401 },
    revoked: { credentials: plan.revoked, expect: 401 },
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs every combo ({id, url, scenario}) once per round. The caller lists the two sides of each
 * ratio next to each other, so they always run back to back, and every other round runs the
 * list backwards (A B C D, D C B A, …), so neither side of a pair always goes first and each
 * round starts where the last one ended. A short unrecorded warm-up run of each combo comes
 * first (JIT, SQLite page cache, connection pools).
 */
export async function measureRounds({ combos, scenarios, credentialsDir, rounds, seconds, warmupSeconds, connections, threads, log = () => {} }) {
  const files = {};
  for (const [name, s] of Object.entries(scenarios)) files[name] = credentialsFile(credentialsDir, name, s.credentials);
  const run = (combo, secs) => runWrk({ url: combo.url + BENCH_PATH, credentials: files[combo.scenario], seconds: secs, connections, threads });
  if (warmupSeconds > 0) {
    for (const combo of combos) await run(combo, warmupSeconds);
  }
  const results = Object.fromEntries(combos.map((c) => [c.id, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? combos : [...combos].reverse();
    for (const combo of order) {
      const cpuBefore = cpuMs(combo.pid);
      const result = await run(combo, seconds);
      const cpuAfter = cpuMs(combo.pid);
      // CPU the Worker's workerd process spent per request: steadier than rps on a shared machine.
      result.cpu_us_per_request = cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / result.requests;
      const expected = scenarios[combo.scenario]?.expect ?? 200;
      result.unexpected = result.socketErrors + Object.entries(result.statuses).reduce((n, [status, count]) => (Number(status) === expected ? n : n + count), 0);
      results[combo.id].push(result);
      const cpu = result.cpu_us_per_request === null ? "" : `  cpu ${Math.round(result.cpu_us_per_request)} µs/req`;
      log(`  round ${r + 1}/${rounds} ${combo.id.padEnd(28)} ${Math.round(result.rps).toString().padStart(7)} rps  p50 ${result.p50_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms${cpu}${result.unexpected ? `  UNEXPECTED ${result.unexpected} ${JSON.stringify(result.statuses)}` : ""}`);
    }
  }
  return results;
}

/** Median of each figure over the rounds. */
export function summarize(runs) {
  const round2 = (x) => Math.round(x * 100) / 100;
  return {
    rps: Math.round(median(runs.map((r) => r.rps))),
    p50_ms: round2(median(runs.map((r) => r.p50_ms))),
    p99_ms: round2(median(runs.map((r) => r.p99_ms))),
    non2xx: Math.round(median(runs.map((r) => Object.entries(r.statuses).reduce((n, [s, c]) => (Number(s) >= 200 && Number(s) < 300 ? n : n + c), 0)))),
    unexpected: runs.reduce((n, r) => n + r.unexpected, 0),
    cpu_us_per_request: runs.every((r) => r.cpu_us_per_request !== null) ? Math.round(median(runs.map((r) => r.cpu_us_per_request))) : null,
    rounds: runs.length,
  };
}

/** Median over rounds of the per-round ratio a/b (pairs measured minutes apart at most). */
export function pairedRatio(a, b) {
  const n = Math.min(a.length, b.length);
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(a[i].rps / b[i].rps);
  return Math.round(median(ratios) * 1000) / 1000;
}
