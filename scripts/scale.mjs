// `npm run bench:scale`: does Portcullis stay as fast with a million tokens as with a thousand?
//
// 1. Starts two copies of the shipped bundle (default config, no cache) in workerd: one whose D1
//    holds 1,000 tokens, one whose D1 holds 1,000,000 (generated inside SQLite in chunks, so the
//    load takes a minute rather than a million round trips), both against the same upstream.
// 2. Prints EXPLAIN QUERY PLAN of the real resolve query on the big database: an index SEARCH,
//    no SCAN of api_tokens.
// 3. Puts wrk load on both in alternating rounds (valid tokens) and reports the ratio of
//    requests/s: the target is ≥ 0.90 (within 10%).
// 4. Gives one organization 10,000 service user tokens and times GET /service-tokens, the first
//    page and the last, through the real management API (cursor pagination: a deep page must
//    cost what the first one does), with the query plan of the list query.
// Writes bench/results/scale.json. Exits 1 when a check fails, 2 without wrk.
//
// Options: --tokens N (1000000)  --rounds N (5)  --duration S (10)  --connections C (32)
//          --list-tokens N (10000)  --out FILE (bench/results/scale.json)
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ROOT, buildBundles, measureRounds, median, pairedRatio, removeTemporary, scenarioCredentials, startWorkers, summarize } from "../bench/lib/bench.mjs";
import { startUpstream } from "../bench/lib/runtime.mjs";
import { ORG_ID, planTokens, seedFiller } from "../bench/lib/seed.mjs";
import { requireWrk } from "../bench/lib/wrk.mjs";

const { values: opts } = parseArgs({
  options: {
    tokens: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    "list-tokens": { type: "string", default: "10000" },
    out: { type: "string" },
  },
});
const log = (line) => console.log(line);
const SMALL = 1000;
const DAY_MS = 86_400_000;

/**
 * The SQL Portcullis really runs, taken from src/ (bundled for Node with wrangler's esbuild): the
 * resolve query, and the list query as listServiceTokens builds it (captured by a fake D1).
 */
async function realQueries() {
  const fromWrangler = createRequire(createRequire(path.join(ROOT, "package.json")).resolve("wrangler/package.json"));
  const esbuild = await import(pathToFileURL(fromWrangler.resolve("esbuild")).href);
  const dir = mkdtempSync(path.join(tmpdir(), "portcullis-sql-"));
  const outfile = path.join(dir, "queries.mjs");
  await esbuild.build({
    stdin: {
      contents: `export { RESOLVE_TOKEN_SQL } from "./src/db/auth"; export { listServiceTokens } from "./src/db/token-lifecycle"; export { orm } from "./src/db/client";`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile,
    logLevel: "warning",
  });
  const q = await import(pathToFileURL(outfile).href);
  removeTemporary(dir);
  const captured = [];
  const fakeD1 = {
    prepare: (sqlText) => {
      const statement = { params: [], bind: (...p) => ((statement.params = p), statement), all: async () => (captured.push({ sql: sqlText, params: statement.params }), { results: [] }) };
      return statement;
    },
  };
  await q.listServiceTokens(q.orm(fakeD1), { orgId: ORG_ID, afterId: "tok_L0000000000000000000000000", take: 51 });
  return { resolve: q.RESOLVE_TOKEN_SQL, list: captured[0] };
}

async function queryPlan(db, sqlText, params) {
  const { results } = await db.prepare(`EXPLAIN QUERY PLAN ${sqlText}`).bind(...params).all();
  return results.map((r) => r.detail);
}

/** `count` service user tokens (with their service users) in the bench organization, list-style ids. */
async function seedListOrg(db, count, now = Date.now()) {
  const created = now - DAY_MS;
  const series = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${count})`;
  // Ids shaped like newId() output (prefix + 26 characters of [0-9A-Z], time-sortable), so the
  // API's own cursors accept them.
  await db.prepare(`${series} INSERT INTO service_users (id, org_id, name, created_at) SELECT 'svc_L' || printf('%025d', i), '${ORG_ID}', 'Listed ' || i, ${created} FROM n`).run();
  await db
    .prepare(
      `${series}
      INSERT INTO api_tokens (id, org_id, kind, user_id, service_user_id, name, digest, hint, status, inactivity_days,
        created_at, updated_at, last_used_at, last_active_at, expires_at, revoked_at)
      SELECT 'tok_L' || printf('%025d', i), '${ORG_ID}', 'service_user', NULL, 'svc_L' || printf('%025d', i), 'Listed ' || i,
        lower(hex(randomblob(32))), 'pcs_…list', CASE WHEN i % 500 = 0 THEN 'active' ELSE 'revoked' END, 45,
        ${created}, ${created}, NULL, ${created}, ${created + 45 * DAY_MS}, CASE WHEN i % 500 = 0 THEN NULL ELSE ${now} END
      FROM n`,
    )
    .run();
}

async function timeList(url, credential, rounds = 15) {
  const get = async (query) => {
    const started = performance.now();
    const res = await fetch(`${url}/_portcullis/v1/service-tokens${query}`, { headers: { authorization: `Bearer ${credential}` } });
    const body = await res.json();
    return { ms: performance.now() - started, status: res.status, body };
  };
  // Walk to the last page once through the API's own cursors.
  let cursor = null;
  let pages = 0;
  let listed = 0;
  let lastCursor = null;
  for (;;) {
    const page = await get(`?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    if (page.status !== 200) return { error: `GET /service-tokens answered ${page.status}: ${JSON.stringify(page.body)}` };
    pages++;
    listed += page.body.data.length;
    if (!page.body.next_cursor) break;
    lastCursor = cursor = page.body.next_cursor;
  }
  const first = [];
  const last = [];
  for (let i = 0; i < rounds; i++) {
    first.push((await get("?limit=50")).ms);
    last.push((await get(`?limit=50&cursor=${lastCursor}`)).ms);
  }
  const round2 = (x) => Math.round(x * 100) / 100;
  return { listed, pages_of_200: pages, first_page_ms: round2(median(first)), last_page_ms: round2(median(last)) };
}

async function main() {
  const wrk = requireWrk();
  const total = Number(opts.tokens);
  const listTokens = Number(opts["list-tokens"]);
  const plan = planTokens({ pool: 100 });
  const seeded = plan.validUser.length + plan.validService.length + plan.revoked.length;
  log("Building the bundle and reading the real queries from src/…");
  const bundles = await buildBundles(["proxy"]);
  const queries = await realQueries();
  const upstream = await startUpstream();
  const credentialsDir = mkdtempSync(path.join(tmpdir(), "portcullis-wrk-"));
  const workers = {};
  try {
    log(`Starting Portcullis with ${SMALL.toLocaleString("en")} tokens…`);
    Object.assign(workers, { small: (await startWorkers({ names: ["proxy"], bundles, upstreamUrl: upstream.url, plan, filler: SMALL - seeded, fillerOrgs: 10 })).proxy });
    log(`Starting Portcullis with ${total.toLocaleString("en")} tokens (generated inside SQLite, in chunks of 100,000)…`);
    const started = Date.now();
    workers.large = (await startWorkers({ names: ["proxy"], bundles, upstreamUrl: upstream.url, plan, filler: 0 })).proxy;
    await seedFiller(workers.large.db, {
      count: total - seeded - listTokens,
      orgs: 10_000,
      onProgress: (n) => log(`  ${n.toLocaleString("en")} filler tokens`),
    });
    await seedListOrg(workers.large.db, listTokens);
    const rows = (await workers.large.db.prepare("SELECT count(*) AS n FROM api_tokens").first()).n;
    const loadSeconds = (Date.now() - started) / 1000;
    log(`  api_tokens now holds ${rows.toLocaleString("en")} rows (${loadSeconds.toFixed(0)} s to load)`);

    const resolvePlan = await queryPlan(workers.large.db, queries.resolve, ["0".repeat(64)]);
    const listPlan = await queryPlan(workers.large.db, queries.list.sql, queries.list.params);
    log("\nEXPLAIN QUERY PLAN, resolve query (1M tokens):");
    for (const d of resolvePlan) log(`  ${d}`);
    log("EXPLAIN QUERY PLAN, GET /service-tokens query:");
    for (const d of listPlan) log(`  ${d}`);
    const tableScans = (details) => details.filter((d) => /\bSCAN\b/.test(d) && !/VIRTUAL TABLE/.test(d));
    const resolveIndexed = resolvePlan.some((d) => /SEARCH (t|api_tokens) USING INDEX api_tokens_digest_uq/.test(d)) && tableScans(resolvePlan).length === 0;

    const scenarios = scenarioCredentials(plan);
    const combos = [
      { id: "small/valid", url: workers.small.url, pid: workers.small.pid, scenario: "valid" },
      { id: "large/valid", url: workers.large.url, pid: workers.large.pid, scenario: "valid" },
    ];
    log(`\nMeasuring valid-token requests: ${opts.rounds} rounds × 2 × ${opts.duration} s (${wrk})`);
    const runs = await measureRounds({
      combos,
      scenarios,
      credentialsDir,
      rounds: Number(opts.rounds),
      seconds: Number(opts.duration),
      warmupSeconds: 3,
      connections: Number(opts.connections),
      threads: 1,
      log,
    });
    const ratio = pairedRatio(runs["large/valid"], runs["small/valid"]);

    const serviceCredential = plan.validService[0]; // holds integrations.manage (see seed.mjs)
    log(`\nTiming GET /service-tokens with ${listTokens.toLocaleString("en")} service tokens in one organization…`);
    const list = await timeList(workers.large.url, serviceCredential);
    if (list.error) log(`  ${list.error}`);
    else log(`  listed ${list.listed.toLocaleString("en")} through ${list.pages_of_200} pages; limit=50: first page ${list.first_page_ms} ms, last page ${list.last_page_ms} ms (median)`);

    const unexpected = Object.values(runs).flat().reduce((n, r) => n + r.unexpected, 0);
    const checks = {
      resolve_uses_index_no_scan: resolveIndexed,
      rps_within_10_percent: ratio >= 0.9,
      list_answers: !list.error,
      no_unexpected_responses: unexpected === 0,
    };
    const result = {
      generated_at: new Date().toISOString(),
      tokens: { small: SMALL, large: rows },
      load_seconds: Math.round(loadSeconds),
      resolve_query_plan: resolvePlan,
      list_query_plan: listPlan,
      valid_token: { small: summarize(runs["small/valid"]), large: summarize(runs["large/valid"]) },
      large_vs_small: ratio,
      list: { tokens_in_org: listTokens, ...list },
      checks,
      raw_runs: runs,
    };
    const file = opts.out ?? path.join(ROOT, "bench", "results", "scale.json");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
    log(`\nvalid-token rps: ${SMALL.toLocaleString("en")} tokens ${result.valid_token.small.rps}, ${rows.toLocaleString("en")} tokens ${result.valid_token.large.rps}; ratio ${ratio} (target ≥ 0.90)`);
    for (const [k, v] of Object.entries(checks)) log(`${v ? "ok  " : "FAIL"} ${k}`);
    log(`Wrote ${path.relative(ROOT, file)}`);
    return Object.values(checks).every(Boolean) ? 0 : 1;
  } finally {
    for (const w of Object.values(workers)) await w.dispose().catch(() => {});
    upstream.stop();
    removeTemporary(credentialsDir, ...Object.values(bundles).map((b) => b.outdir));
  }
}

process.exitCode = await main();
