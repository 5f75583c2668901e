// A webhook receiver that verifies every delivery with the `standardwebhooks` package (SPEC §10).
// The tests run it from their global setup; locally it is a way to watch the demo's webhooks:
//
//   node scripts/webhook-receiver.mjs --port 8791 --secret whsec_…   (see README "Webhooks")
//
// and it prints each delivery with whether its signature verified. It also serves a secret
// scanning key set for tests (PUT/GET /secret-scanning/keys).
//
// Paths (the /__control ones only matter to tests):
//   POST /hooks/<name>                  a delivery; verified with <name>'s secret; answered per its mode
//   PUT  /__control/endpoints/<name>    {"secret", "mode": "ok" | "fail" | "hang"}
//   GET  /__control/deliveries/<name>   what <name> received: [{verified, error, headers, body, received_at}]
//   PUT  /secret-scanning/keys          the key set to publish; GET serves it as GitHub does
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const BODY_LIMIT = 1024 * 1024;

export function createWebhookReceiver({ log = false } = {}) {
  const endpoints = new Map();
  const deliveries = new Map();
  let keySet = { public_keys: [] };
  const hanging = new Set();

  const server = createServer((req, res) => {
    const url = new URL(`http://receiver.local${req.url ?? "/"}`);
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const json = (status, value) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      const [, kind, name] = /^\/(hooks|__control\/endpoints|__control\/deliveries)\/([^/]+)$/.exec(url.pathname) ?? [];
      if (url.pathname === "/secret-scanning/keys") {
        if (req.method === "PUT") {
          keySet = JSON.parse(body);
          return json(204, {});
        }
        return json(200, keySet);
      }
      if (kind === "__control/endpoints" && req.method === "PUT") {
        endpoints.set(name, JSON.parse(body));
        return res.writeHead(204).end();
      }
      if (kind === "__control/deliveries") return json(200, deliveries.get(name) ?? []);
      if (kind !== "hooks" || req.method !== "POST") return json(404, { error: "not found" });

      const endpoint = endpoints.get(name) ?? { secret: process.env.WEBHOOK_SECRET, mode: "ok" };
      const headers = {
        "content-type": req.headers["content-type"],
        "webhook-id": req.headers["webhook-id"],
        "webhook-timestamp": req.headers["webhook-timestamp"],
        "webhook-signature": req.headers["webhook-signature"],
      };
      let verified = false;
      let error = null;
      try {
        new Webhook(endpoint.secret).verify(body, headers);
        verified = true;
      } catch (err) {
        error = err.message;
      }
      const record = { verified, error, headers, body, received_at: Date.now() };
      if (!deliveries.has(name)) deliveries.set(name, []);
      deliveries.get(name).push(record);
      if (log) console.log(`${verified ? "verified" : `NOT VERIFIED (${error})`} ${headers["webhook-id"]} ${body}`);
      if (endpoint.mode === "hang") {
        // Never answer; the sender's deadline ends the request.
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      if (endpoint.mode === "fail") return json(500, { error: "receiver failing on purpose" });
      return res.writeHead(204).end();
    });
  });
  const close = () =>
    new Promise((resolve) => {
      for (const res of hanging) res.destroy();
      server.close(() => resolve());
    });
  return { server, close };
}

export function listen(server, port = 0, host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

// Run directly: a receiver that logs what it gets.
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (flag, fallback) => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const secret = arg("--secret", process.env.WEBHOOK_SECRET);
  if (!secret) {
    console.error("usage: node scripts/webhook-receiver.mjs --port 8791 --secret whsec_…");
    process.exit(1);
  }
  process.env.WEBHOOK_SECRET = secret;
  const { server } = createWebhookReceiver({ log: true });
  const port = await listen(server, Number(arg("--port", "8791")));
  console.log(`Webhook receiver on http://127.0.0.1:${port}/hooks/demo (verifying with the secret given)`);
}
