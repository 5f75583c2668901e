// Drives wrk (the load generator) and parses the JSON line bench/lib/wrk.lua prints.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

const SCRIPT = path.join(import.meta.dirname, "wrk.lua");

/** Exits with install instructions when wrk is not on PATH. */
export function requireWrk() {
  const probe = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  if (probe.error) {
    console.error(
      [
        "npm run bench needs wrk, the HTTP load generator (a C program, so the generator is not the bottleneck).",
        "Install it with your system's package manager, for example:",
        "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk",
        "  macOS:         brew install wrk",
      ].join("\n"),
    );
    process.exit(2);
  }
  return (probe.stdout + probe.stderr).split("\n")[0].trim();
}

/** Writes the pool of Authorization values one scenario rotates through. */
export function credentialsFile(dir, name, credentials) {
  const file = path.join(dir, `${name}.txt`);
  writeFileSync(file, credentials.map((c) => (c === null ? "" : `Bearer ${c}`)).join("\n") + "\n");
  return file;
}

/**
 * One wrk run: `threads` threads, `connections` keep-alive connections, `seconds` long.
 * Returns {requests, rps, p50_ms, p99_ms, statuses, socketErrors}.
 */
export function runWrk({ url, credentials, seconds, connections, threads }) {
  return new Promise((resolve, reject) => {
    const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", SCRIPT, url, "--", credentials];
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}):\n${out}`));
      const r = JSON.parse(line.slice("WRK_JSON ".length));
      const socketErrors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
      resolve({
        requests: r.requests,
        rps: r.requests / (r.duration_us / 1e6),
        p50_ms: r.p50_us / 1000,
        p99_ms: r.p99_us / 1000,
        statuses: r.statuses,
        socketErrors,
      });
    });
  });
}
