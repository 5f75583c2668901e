/**
 * Calls the Worker's own fetch handler inside workerd, with optional env overrides (a failing
 * D1, another upstream, a fake limiter), and waits for its waitUntil work.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import type { Env } from "../../src/env";

export const PREFIX = "/_portcullis/v1";
export const ORIGIN = "https://portcullis.test";

export interface CallOptions extends RequestInit {
  env?: Partial<Env>;
  /** Wait for ctx.waitUntil work (last-use writes) before returning. Default true. */
  settle?: boolean;
  /** Send no CF-Connecting-IP at all (SPEC §9: a request with no client address). */
  noClientAddress?: boolean;
}

/**
 * A client address of its own for every call that names none (an IPv6 /64 from the
 * documentation range, RFC 3849): the real AUTH_FAILURE_LIMITER and LEAK_REPORT_LIMITER
 * ([[ratelimits]] in wrangler.toml, simulated by miniflare) count per address, so unrelated
 * tests' failures never add up to a 429, and the real bindings stay on in every test.
 */
export function freshClientAddress(): string {
  const [a, b] = crypto.getRandomValues(new Uint16Array(2));
  return `2001:db8:${a!.toString(16)}:${b!.toString(16)}::1`;
}

export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const { env: overrides, settle = true, noClientAddress = false, ...init } = options;
  const ctx = createExecutionContext();
  const headers = new Headers(init.headers);
  if (!noClientAddress && !headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", freshClientAddress());
  const request = new Request(ORIGIN + path, { ...init, headers }) as Parameters<typeof worker.fetch>[0];
  const response = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  if (settle) await waitOnExecutionContext(ctx);
  return response;
}

/**
 * Runs `attempts` from a fresh address; if a one-minute window boundary of the limiter fell
 * inside the run (a loaded machine can take seconds), its counts were split, so it runs once
 * more from another address: a loop of a few seconds cannot straddle two boundaries.
 */
export async function inOneWindow<T>(attempts: (ip: string) => Promise<T>): Promise<T> {
  for (let run = 0; ; run++) {
    const window = Math.floor(Date.now() / 60_000);
    const result = await attempts(freshClientAddress());
    if (Math.floor(Date.now() / 60_000) === window || run === 1) return result;
  }
}

export function bearer(credential: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${credential}`, ...extra };
}

/** Management API call with a JSON body. */
export async function api(
  method: string,
  path: string,
  credential: string | null,
  body?: unknown,
  options: CallOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = credential ? bearer(credential) : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  return call(PREFIX + path, {
    ...options,
    method,
    headers: { ...headers, ...(options.headers as Record<string, string> | undefined) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** What the fake upstream received on paths containing `marker`. */
export async function upstreamRequests(marker: string): Promise<UpstreamRequest[]> {
  const res = await fetch(`${env.UPSTREAM_URL}/__control/requests?marker=${encodeURIComponent(marker)}`);
  return (await res.json()) as UpstreamRequest[];
}

export interface UpstreamRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | null;
  body_bytes: number;
  body_sha256: string;
}

export function marker(): string {
  return crypto.randomUUID();
}

/**
 * A proxied GET with `secret` to a fresh path below `prefix` (the demo policy: /inspections
 * needs inspections.view, any path it does not name only a valid token). Returns the response,
 * the path's marker, and the request the upstream received (null when nothing was forwarded).
 */
export async function proxied(
  secret: string,
  prefix = "/widgets",
  options: CallOptions = {},
): Promise<{ res: Response; marker: string; seen: UpstreamRequest | null }> {
  const m = marker();
  const res = await call(`${prefix}/${m}`, { ...options, headers: bearer(secret, options.headers as Record<string, string> | undefined) });
  const [seen] = await upstreamRequests(m);
  return { res, marker: m, seen: seen ?? null };
}

/** The status of a proxied GET with `secret` (its body read to the end); 200 means the secret is live. */
export async function proxiedStatus(secret: string, prefix = "/widgets", options: CallOptions = {}): Promise<number> {
  const { res } = await proxied(secret, prefix, options);
  await res.arrayBuffer();
  return res.status;
}
