// Not one of the Workers the targets compare: the floor that the SPEC itself sets for Portcullis
// under ASSERTION_MODE=shared (or =request with FLOOR_ASSERTION_MODE=request), built from Portcullis's own functions for the steps it makes
// unavoidable, and nothing else:
//   - the credential's digest and the one D1 read of token + subject (SPEC §3 step 2), under the
//     fail-closed deadline (step 6), or the in-isolate cache when FLOOR_CACHE_TTL_MS > 0 (§5);
//   - the token's status and inactivity deadline (step 1);
//   - the client's headers minus Authorization, hop-by-hop, path-override, client-address and
//     X-Portcullis-* headers, plus X-Forwarded-* and the identity headers with the shared
//     assertion, or in request mode a fresh one bound to the request's htm/htu (step 4, §3.1);
//   - the forward with the upstream deadline and client-abort wiring, and the upstream's
//     hop-by-hop headers removed from the response (steps 4 and 6).
// Left out: the token format and checksum, the bearer syntax, the route policy and method
// overrides, the failure limiter, last-use recording and the JSON error shapes. `proxy` against
// `spec-floor` (`proxy-cached` against `spec-floor-cached`, `proxy-request` against
// `spec-floor-request`) is what Portcullis adds beyond the SPEC's own steps.
import { cachedLookup } from "../../src/auth/cache";
import { tokenSubject } from "../../src/auth/subject";
import { resolveTokenByDigest } from "../../src/db/auth";
import { guard } from "../../src/db/client";
import { identityHeaders } from "../../src/proxy/assertion";
import { forward, upstreamTarget } from "../../src/proxy/forward";
import { upstreamRequestHeaders } from "../../src/proxy/headers";
import { tokenDigest } from "../../src/token/digest";

interface FloorEnv {
  DB: D1Database;
  UPSTREAM_URL: string;
  ASSERTION_PRIVATE_KEY: string;
  FLOOR_CACHE_TTL_MS?: string;
  FLOOR_ASSERTION_MODE?: "shared" | "request";
}

let setup: { privateJwk: JsonWebKey; upstream: URL; audience: string; ttl: number; mode: "shared" | "request" } | undefined;

const unauthorized = () => new Response('{"error":{"code":"invalid_token"}}', { status: 401, headers: { "content-type": "application/json" } });

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    if (!setup) {
      const upstream = new URL(env.UPSTREAM_URL);
      setup = { privateJwk: JSON.parse(env.ASSERTION_PRIVATE_KEY) as JsonWebKey, upstream, audience: upstream.origin, ttl: Number(env.FLOOR_CACHE_TTL_MS ?? 0), mode: env.FLOOR_ASSERTION_MODE ?? "shared" };
    }
    const credential = (request.headers.get("authorization") ?? "").slice(7);
    const digest = await tokenDigest(credential, undefined);
    const token = await cachedLookup(digest, setup.ttl, (d) => guard(() => resolveTokenByDigest(env.DB, d), { timeoutMs: 5000, retry: true }));
    if (!token || token.status !== "active" || Date.now() >= token.expiresAt) return unauthorized();
    const subject = tokenSubject(token);
    const url = new URL(request.url);
    const target = upstreamTarget(setup.upstream, url);
    const identity = await identityHeaders(subject, token.tokenId, token, {
      mode: setup.mode,
      privateJwk: setup.privateJwk,
      issuer: "portcullis",
      audience: setup.audience,
      method: request.method,
      htu: target,
    });
    const headers = upstreamRequestHeaders(request.headers);
    for (const pair of identity) headers.push(pair);
    return forward(request, target, headers, 30_000);
  },
};
