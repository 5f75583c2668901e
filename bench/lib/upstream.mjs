// The benchmark's upstream: answers every request 200 at once with a tiny body, so the numbers
// measure what sits in front of it. Run as its own process (one core of its own to use) by
// bench/run.mjs; prints {"port": N} on stdout once listening.
import { createServer } from "node:http";

const BODY = Buffer.from('{"ok":true}');

const server = createServer((req, res) => {
  // Drain any request body before answering so keep-alive connections stay usable.
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
