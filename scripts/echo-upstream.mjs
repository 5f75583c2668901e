// The demo upstream (SPEC §7) and the tests' fake upstream: answers every request with JSON
// {"method","path","query","headers","body"} describing what it received (header names
// lower-case). It also records each request so tests can ask what reached it, and offers a
// few control paths for failure tests. Plain Node, no dependencies.
import { createServer } from "node:http";
import { createHash } from "node:crypto";

const ECHO_BODY_LIMIT = 64 * 1024;

/**
 * Control paths (only for tests; harmless in the demo):
 *   /__control/requests?marker=X  → requests whose path contained X (not recorded itself)
 *   /__control/json?body=JSON     → answers with that JSON (a JWKS for session tests)
 *   /__slow/<ms>/...              → waits <ms> before answering
 *   /__status/<code>/...          → answers with that status
 *   /__redirect/...               → 302 to another origin
 *   /__hop/...                    → 200 naming headers in Connection, some not valid names
 *   /__bytes/<n>/...              → streams n bytes of body
 */
export function createEchoServer() {
  const requests = [];
  const server = createServer((req, res) => {
    // Prefix the origin rather than resolving against it: a path starting with "//" would
    // otherwise be read as another host (and an invalid one would crash the server).
    let url;
    try {
      url = new URL(`http://upstream.local${req.url ?? "/"}`);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.pathname === "/__control/json") {
      // Answers with the JSON given in ?body= (tests serve a JWKS this way).
      res.writeHead(200, { "content-type": "application/json" });
      res.end(url.searchParams.get("body") ?? "null");
      return;
    }
    if (url.pathname === "/__control/requests") {
      const marker = url.searchParams.get("marker") ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(requests.filter((r) => r.path.includes(marker))));
      return;
    }
    const hash = createHash("sha256");
    const chunks = [];
    let size = 0;
    let aborted = false;
    req.on("aborted", () => (aborted = true));
    req.on("data", (chunk) => {
      size += chunk.length;
      hash.update(chunk);
      if (size <= ECHO_BODY_LIMIT) chunks.push(chunk);
    });
    req.on("end", async () => {
      const query = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const described = {
        method: req.method,
        path: url.pathname,
        query,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : v])),
        body: size <= ECHO_BODY_LIMIT ? Buffer.concat(chunks).toString("utf8") : null,
        body_bytes: size,
        body_sha256: hash.digest("hex"),
      };
      requests.push(described);
      if (requests.length > 10_000) requests.shift();
      const [, kind, arg] = url.pathname.split("/");
      if (kind === "__slow") await new Promise((r) => setTimeout(r, Number(arg)));
      if (aborted || res.destroyed) return;
      if (kind === "__status") {
        res.writeHead(Number(arg), { "content-type": "application/json", "x-upstream": "yes" });
        res.end(JSON.stringify({ upstream_status: Number(arg) }));
        return;
      }
      if (kind === "__redirect") {
        res.writeHead(302, { location: "http://elsewhere.invalid/landing" });
        res.end();
        return;
      }
      if (kind === "__hop") {
        res.writeHead(200, {
          "content-type": "application/json",
          connection: "keep-alive, X-Drop-Me, not a name, (x)",
          "x-drop-me": "1",
          "x-keep-me": "1",
          "proxy-authenticate": "Basic",
        });
        res.end("{}");
        return;
      }
      if (kind === "__bytes") {
        let remaining = Number(arg);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(remaining) });
        const block = Buffer.alloc(64 * 1024, 97);
        const pump = () => {
          while (remaining > 0) {
            const n = Math.min(block.length, remaining);
            remaining -= n;
            if (!res.write(n === block.length ? block : block.subarray(0, n))) return res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      res.writeHead(200, { "content-type": "application/json", connection: "keep-alive", "keep-alive": "timeout=5" });
      res.end(JSON.stringify(described));
    });
  });
  return { server, requests };
}

export function listen(server, port = 0, host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}
