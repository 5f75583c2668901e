/**
 * The upstream leg (SPEC §3.4, §3.6; issue 6 §9, §10): redirects handed back, 5xx passed
 * through, connection refused → 502, too slow → 504, a client that goes away stops the work,
 * and 50 MiB bodies stream both ways without being read into memory.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { seedIntegration } from "../helpers/seed";

const MiB = 1024 * 1024;
/**
 * The 50 MiB tests are about streaming, not the deadline: on a loaded 2-core machine moving
 * 50 MiB can take longer than the suite's 1.5 s UPSTREAM_TIMEOUT_MS, so they get a minute.
 */
const STREAMING_ENV = { UPSTREAM_TIMEOUT_MS: "60000" };
let secret: string;

beforeAll(async () => {
  secret = (await seedIntegration(["inspections.view"])).token.secret;
});

afterEach(() => vi.restoreAllMocks());

/**
 * Fails the test if any code reads a whole body of this exchange into memory while `run`
 * executes: the client's request or the upstream's response (both have the marker in their
 * URL; D1's own internal responses, read with text(), are not ours to judge).
 */
async function withoutBuffering<T>(m: string, run: () => Promise<T>): Promise<T> {
  const buffered: string[] = [];
  const readers = ["arrayBuffer", "text", "json", "blob", "formData", "bytes"] as const;
  for (const proto of [Request.prototype, Response.prototype] as unknown as Record<string, (...args: unknown[]) => unknown>[]) {
    for (const name of readers) {
      const original = proto[name];
      if (!original) continue;
      vi.spyOn(proto, name).mockImplementation(function (this: { url?: string }, ...args: unknown[]) {
        if (this.url?.includes(m)) buffered.push(`${name}() on ${this.url}`);
        return original.apply(this, args);
      });
    }
  }
  try {
    return await run();
  } finally {
    vi.restoreAllMocks();
    expect(buffered).toEqual([]);
  }
}

/** Deterministic upload chunks: 64 KiB blocks whose bytes depend on the block number. */
function* uploadChunks(total: number): Generator<Uint8Array> {
  const size = 64 * 1024;
  for (let i = 0; i * size < total; i++) yield new Uint8Array(Math.min(size, total - i * size)).fill(i % 251);
}

async function sha256Hex(chunks: Iterable<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  for (const chunk of chunks) await writer.write(chunk);
  await writer.close();
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("upstream responses", () => {
  it("a redirect is returned to the client, not followed", async () => {
    const m = marker();
    const res = await call(`/__redirect/${m}`, { headers: bearer(secret) });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("http://elsewhere.invalid/landing");
    expect(await upstreamRequests(m)).toHaveLength(1);
  });

  for (const status of [500, 502, 503]) {
    it(`an upstream ${status} passes through unchanged`, async () => {
      const m = marker();
      const res = await call(`/__status/${status}/${m}`, { headers: bearer(secret) });
      expect(res.status).toBe(status);
      expect(res.headers.get("x-upstream")).toBe("yes");
      expect(res.headers.get("retry-after")).toBeNull();
      expect(await res.json()).toEqual({ upstream_status: status });
    });
  }

  it("hop-by-hop headers from the upstream are not passed to the client", async () => {
    const res = await call(`/echo/${marker()}`, { headers: bearer(secret) });
    expect(res.status).toBe(200);
    expect(res.headers.get("keep-alive")).toBeNull();
    expect(res.headers.get("connection")).toBeNull();
  });

  it("headers the upstream names in Connection are removed; a value that names no valid header is ignored", async () => {
    const res = await call(`/__hop/${marker()}`, { headers: bearer(secret) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-drop-me")).toBeNull();
    expect(res.headers.get("proxy-authenticate")).toBeNull();
    expect(res.headers.get("connection")).toBeNull();
    expect(res.headers.get("x-keep-me")).toBe("1");
    expect(await res.json()).toEqual({});
  });

  it("an upstream that refuses the connection → 502 bad_gateway", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call(`/inspections/${marker()}`, { headers: bearer(secret), env: { UPSTREAM_URL: "http://127.0.0.1:1" } });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).code).toBe("bad_gateway");
  });

  it("an upstream slower than UPSTREAM_TIMEOUT_MS → 504 gateway_timeout", async () => {
    const m = marker();
    const res = await call(`/__slow/3000/${m}`, { headers: bearer(secret) });
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe("gateway_timeout");
    expect(await upstreamRequests(m)).toHaveLength(1);
  });
});

describe("a client that goes away", () => {
  it("aborting mid-request cancels the upstream call instead of waiting for it", async () => {
    const m = marker();
    const client = new AbortController();
    // Without propagation this would wait the full 3 s and answer 200 (the timeout is 20 s here).
    const pending = call(`/__slow/3000/${m}`, {
      headers: bearer(secret),
      signal: client.signal,
      env: { UPSTREAM_TIMEOUT_MS: "20000" },
    });
    while ((await upstreamRequests(m)).length === 0) await new Promise((r) => setTimeout(r, 20));
    client.abort();
    const res = await pending;
    expect(res.status).toBe(499);
    expect((await errorOf(res)).code).toBe("client_closed_request");
  });

  it("a client already gone before authentication finished never reaches the upstream", async () => {
    const m = marker();
    const client = new AbortController();
    client.abort();
    const res = await call(`/inspections/${m}`, { headers: bearer(secret), signal: client.signal });
    expect(res.status).toBe(499);
    expect(await upstreamRequests(m)).toEqual([]);
  });
});

describe("bodies stream", () => {
  it("a 50 MiB download streams through unbuffered", async () => {
    const total = 50 * MiB;
    const m = marker();
    const res = await withoutBuffering(m, () => call(`/__bytes/${total}/${m}`, { headers: bearer(secret), env: STREAMING_ENV }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(total));
    const reader = res.body!.getReader();
    let received = 0;
    let wrongBytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      for (const byte of value) if (byte !== 97) wrongBytes++;
    }
    expect(received).toBe(total);
    expect(wrongBytes).toBe(0);
  });

  it("a 50 MiB upload streams through unbuffered and arrives intact", async () => {
    const total = 50 * MiB;
    const m = marker();
    const chunks = uploadChunks(total);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
    });
    const res = await withoutBuffering(m, () =>
      call(`/uploads/${m}`, { method: "POST", headers: bearer(secret, { "content-type": "application/octet-stream" }), body, env: STREAMING_ENV }),
    );
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as { body_bytes: number; body_sha256: string; body: string | null };
    expect(echoed.body_bytes).toBe(total);
    expect(echoed.body_sha256).toBe(await sha256Hex(uploadChunks(total)));
    const [seen] = await upstreamRequests(m);
    expect(seen!.body_bytes).toBe(total);
  });
});
