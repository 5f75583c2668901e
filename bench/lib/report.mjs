// Markdown rendering of bench/results/latest.json, for docs/performance.md and the README.

const num = (n) => (n === null || n === undefined ? "–" : n.toLocaleString("en"));
const ms = (n) => (n === null || n === undefined ? "–" : n.toFixed(2));

export function markdownReport(result) {
  const lines = [];
  lines.push("| Worker | Scenario | req/s | p50 ms | p99 ms | non-2xx | unexpected | CPU µs/req |");
  lines.push("|---|---|--:|--:|--:|--:|--:|--:|");
  const c = result.generator_ceiling;
  if (c) lines.push(`| wrk → upstream directly | generator ceiling | ${num(c.rps)} | ${ms(c.p50_ms)} | ${ms(c.p99_ms)} | 0 | ${c.unexpected} | ${num(c.cpu_us_per_request)} (upstream) |`);
  for (const [worker, byScenario] of Object.entries(result.scenarios)) {
    for (const [scenario, s] of Object.entries(byScenario)) {
      lines.push(`| ${worker} | ${scenario} | ${num(s.rps)} | ${ms(s.p50_ms)} | ${ms(s.p99_ms)} | ${num(s.non2xx)} | ${s.unexpected} | ${num(s.cpu_us_per_request)} |`);
    }
  }
  lines.push("");
  lines.push("| Ratio (median of per-round ratios) | Value | Target |");
  lines.push("|---|--:|---|");
  for (const [name, value] of Object.entries(result.ratios)) {
    const target = result.targets[name];
    const floor = result.floor_targets?.[name];
    const judged = (min, what) => `${what}≥ ${min}: ${value !== null && value >= min ? "met" : "**missed**"}`;
    const verdict = target !== undefined && target !== null ? judged(target, "") : floor !== undefined ? judged(floor, "SPEC floor ") : "informational";
    lines.push(`| \`${name}\` | ${value === null ? "–" : value.toFixed(3)} | ${verdict} |`);
  }
  if (result.added_over_bare && Object.keys(result.added_over_bare).length > 0) {
    lines.push("");
    lines.push("| Added over `bare` (median p50 / p99 minus bare's) | p50 ms | p99 ms |");
    lines.push("|---|--:|--:|");
    for (const [worker, a] of Object.entries(result.added_over_bare)) lines.push(`| ${worker} | ${ms(a.p50_ms)} | ${ms(a.p99_ms)} |`);
  }
  const s = result.settings;
  const r = result.runtime;
  lines.push("");
  lines.push(
    `${s.rounds} rounds × ${s.duration_s} s per run, wrk -t${s.threads} -c${s.connections}, ${num(s.tokens_in_table)} tokens in api_tokens, ` +
      `${s.credentials_per_scenario} credentials rotated per scenario` +
      (s.d1_latency_ms ? `, ${s.d1_latency_ms} ms added to every D1 call` : "") +
      `; workerd ${r.workerd} (miniflare ${r.miniflare}), compatibility date ${r.compatibilityDate}, ` +
      `${r.cpus} × ${r.cpu_model}; ${result.generated_at}.`,
  );
  return lines.join("\n");
}
