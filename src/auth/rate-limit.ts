/**
 * Failed-authentication throttling per client IP (SPEC §4 `rate_limited`, §11), through the Workers rate-limit
 * binding. Only failures are counted (valid traffic never spends the budget). Once an IP is
 * over its limit, this isolate answers that IP 429 before any D1 read until the period ends,
 * so a flood of guessed tokens costs the database nothing.
 */
import { ApiError } from "../errors";

const BLOCK_MS = 60_000;
const MAX_TRACKED = 10_000;
const blockedUntil = new Map<string, number>();

/**
 * The rate-limit key for the caller: its IPv4 address, or its IPv6 /64 (one subscriber
 * usually holds a whole /64, so keying on the full address would let it rotate freely).
 * Behind Cloudflare, CF-Connecting-IP is set by the edge and cannot be forged by the client.
 */
export function clientIp(request: Request): string {
  const ip = request.headers.get("cf-connecting-ip")?.trim().toLowerCase();
  if (!ip) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) return mapped[1]!;
  return ip.includes(":") ? ipv6Prefix64(ip) : ip;
}

function ipv6Prefix64(ip: string): string {
  const [head = "", tail] = ip.split("::", 2) as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = tail === undefined ? 0 : Math.max(0, 8 - left.length - right.length);
  const groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g.replace(/^0+/, "") || "0"))
    .join(":")}::/64`;
}

export function rateLimited(retryAfterSeconds: number): ApiError {
  return new ApiError("rate_limited", "Too many failed authentication attempts from this client; slow down.", {
    "retry-after": String(retryAfterSeconds),
  });
}

/**
 * The 429 to send if the caller's IP is currently blocked, else null. The client address is
 * worked out only when some IP is blocked: on the proxy's path that is almost never.
 */
export function blockedRequest(request: Request, now = Date.now()): ApiError | null {
  return blockedUntil.size === 0 ? null : blockedResponse(clientIp(request), now);
}

/** The 429 to send if this IP is currently blocked, else null. */
export function blockedResponse(ip: string, now = Date.now()): ApiError | null {
  const until = blockedUntil.get(ip);
  if (until === undefined) return null;
  if (until <= now) {
    blockedUntil.delete(ip);
    return null;
  }
  return rateLimited(Math.ceil((until - now) / 1000));
}

/** Count one failure; returns a 429 error when this failure crossed the limit. */
export async function noteAuthFailure(limiter: RateLimit | undefined, ip: string, now = Date.now()): Promise<ApiError | null> {
  if (!limiter) return null;
  let outcome: RateLimitOutcome;
  try {
    outcome = await limiter.limit({ key: ip });
  } catch {
    // The limiter is advisory; its failure must not turn a 401 into a 5xx.
    return null;
  }
  if (outcome.success) return null;
  if (blockedUntil.size >= MAX_TRACKED) blockedUntil.clear();
  blockedUntil.set(ip, now + BLOCK_MS);
  return rateLimited(BLOCK_MS / 1000);
}

/** Test hook. */
export function clearRateLimitBlocks(): void {
  blockedUntil.clear();
}
