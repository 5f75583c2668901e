// `npm run bench:profile`: where does Portcullis spend its CPU? Starts the shipped bundle in
// workerd, puts wrk load on one scenario while V8's sampling profiler runs (through workerd's
// inspector), and prints the functions with the most self and inclusive time, mapped back to
// src/ through the bundle's source map.
//
// Options: --scenario valid|malformed|unknown|revoked (valid)  --cache-ttl MS (0)
//          --duration S (10)  --connections C (32)  --top N (30)  --out FILE (.cpuprofile)
//          --root DIR (build the bundle from another checkout)
//          --worker portcullis|spec-floor (portcullis; spec-floor profiles bench/workers/spec-floor.ts,
//          the SPEC's floor, with --cache-ttl as its FLOOR_CACHE_TTL_MS, to compare the two)
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT, BENCH_PATH, removeTemporary, scenarioCredentials } from "./lib/bench.mjs";
import { assertionKey, buildBundle, startUpstream, startWorker } from "./lib/runtime.mjs";
import { applyMigrations, planTokens, seedPlan } from "./lib/seed.mjs";
import { credentialsFile, requireWrk, runWrk } from "./lib/wrk.mjs";

const { values: opts } = parseArgs({
  options: {
    scenario: { type: "string", default: "valid" },
    "cache-ttl": { type: "string", default: "0" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    top: { type: "string", default: "30" },
    out: { type: "string" },
    port: { type: "string", default: "9329" },
    // Build from another checkout (to profile an experiment without touching this tree).
    root: { type: "string", default: ROOT },
    worker: { type: "string", default: "portcullis" },
  },
});

/** A minimal Chrome DevTools Protocol client over the inspector WebSocket. */
async function inspector(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data));
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message));
      else resolve(msg.result);
    }
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        pending.set(n, { resolve, reject });
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self and inclusive sample counts per function, mapped to original sources. */
function aggregate(profile, map) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (frame) => {
    let where = frame.url ? path.basename(frame.url) : "(native)";
    if (map && frame.url && frame.lineNumber >= 0) {
      const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
      if (entry?.originalSource) {
        where = `${entry.originalSource.replace(/^.*?(src\/|node_modules\/)/, "$1")}:${entry.originalLine + 1}`;
      }
    }
    return `${frame.functionName || "(anonymous)"} ${where}`;
  };
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  for (const n of profile.nodes) {
    if (!n.hitCount) continue;
    total += n.hitCount;
    const name = label(n.callFrame);
    self.set(name, (self.get(name) ?? 0) + n.hitCount);
    // Walk up the stack once per sample node; count each function once per stack.
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id).callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + n.hitCount);
    }
  }
  return { self, inclusive, total };
}

async function main() {
  requireWrk();
  if (opts.worker !== "portcullis" && opts.worker !== "spec-floor") throw new Error("--worker must be portcullis or spec-floor");
  const floor = opts.worker === "spec-floor";
  const { main, outdir } = await buildBundle(path.resolve(opts.root), floor ? { entry: "bench/workers/spec-floor.ts" } : undefined);
  const map = new SourceMap(JSON.parse(readFileSync(`${main}.map`, "utf8")));
  const upstream = await startUpstream();
  const port = Number(opts.port);
  const worker = await startWorker({
    root: ROOT,
    name: "proxy",
    scriptPath: main,
    bindings: { UPSTREAM_URL: upstream.url, ASSERTION_PRIVATE_KEY: await assertionKey(), [floor ? "FLOOR_CACHE_TTL_MS" : "AUTH_CACHE_TTL_MS"]: opts["cache-ttl"] },
    d1: true,
    inspectorPort: port,
  });
  const credentialsDir = mkdtempSync(path.join(tmpdir(), "portcullis-prof-"));
  try {
    const plan = planTokens({ pool: 100 });
    await applyMigrations(worker.db, ROOT);
    await seedPlan(worker.db, plan, { filler: 700 });
    const scenario = scenarioCredentials(plan)[opts.scenario];
    const file = credentialsFile(credentialsDir, opts.scenario, scenario.credentials);
    const load = { url: worker.url + BENCH_PATH, credentials: file, connections: Number(opts.connections), threads: 1 };
    await runWrk({ ...load, seconds: 3 });
    const cdp = await inspector(`ws://127.0.0.1:${port}/core:user:proxy`);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
    const result = await runWrk({ ...load, seconds: Number(opts.duration) });
    const { profile } = await cdp.send("Profiler.stop");
    cdp.close();
    if (opts.out) writeFileSync(opts.out, JSON.stringify(profile));
    console.log(`${opts.worker} ${opts.scenario}, cache TTL ${opts["cache-ttl"]} ms: ${Math.round(result.rps)} rps, statuses ${JSON.stringify(result.statuses)}`);
    const { self, inclusive, total } = aggregate(profile, map);
    const top = Number(opts.top);
    const print = (title, m) => {
      console.log(`\n${title} (% of ${total} samples in the Worker's isolate)`);
      for (const [name, n] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * n) / total).toFixed(1).padStart(6)}%  ${name}`);
    };
    print("Self time", self);
    print("Inclusive time", inclusive);
  } finally {
    await worker.dispose();
    upstream.stop();
    removeTemporary(credentialsDir, outdir);
  }
}

await main();
