// Not one of the Workers the targets compare: the floor that the SPEC itself sets for Portcullis
// under ASSERTION_MODE=shared (or =request with FLOOR_ASSERTION_MODE=request), built from
// Portcullis's own functions for each step the SPEC requires on every request, and nothing else:
//   - §3 step 1: one bearer credential read from Authorization (RFC 6750 §2.1);
//   - §2: the token's format and checksum, checked without touching D1;
//   - §3 step 2: the credential's digest and the one D1 read of token + subject, under the
//     fail-closed deadline (step 6), or the in-isolate cache when FLOOR_CACHE_TTL_MS > 0 (§5);
//     then the token's status and inactivity deadline;
//   - §3 step 3: the route policy (the demo policy, as Portcullis ships it) and the permission
//     check;
//   - §3 step 4, §3.1: the client's headers minus Authorization, hop-by-hop, path-override,
//     client-address and X-Portcullis-* headers, plus X-Forwarded-* and the identity headers
//     with the shared assertion, or in request mode a fresh one bound to the request's htm/htu;
//   - §3 step 5: the last-use write through ctx.waitUntil, at most once per token per 60 s;
//   - §3 steps 4 and 6: the forward with the upstream deadline and client-abort wiring, and the
//     upstream's hop-by-hop headers removed from the response.
// Left out, because the SPEC does not require them on this request: method-override judging, the
// failed-authentication block, the allowed-CIDR condition (these tokens have none), the
// management-prefix routing, configuration checks and the JSON error shapes (every refusal here
// is one fixed 401 or 403). `proxy` against `spec-floor` (`proxy-cached` against
// `spec-floor-cached`, `proxy-request` against `spec-floor-request`) is what Portcullis adds
// beyond the SPEC's own steps.
import { readBearer } from "../../src/auth/bearer";
import { cachedLookup } from "../../src/auth/cache";
import { scheduleLastUse } from "../../src/auth/last-use";
import { tokenSubject } from "../../src/auth/subject";
import { resolveTokenByDigest } from "../../src/db/auth";
import { guard } from "../../src/db/client";
import { DEMO_POLICY } from "../../src/domain/demo-route-policy";
import { missingPermissions } from "../../src/domain/permissions";
import { identityHeaders } from "../../src/proxy/assertion";
import { forward, upstreamTarget } from "../../src/proxy/forward";
import { upstreamRequestHeaders } from "../../src/proxy/headers";
import { decide } from "../../src/proxy/policy";
import { parseToken } from "../../src/token/format";
import { tokenDigest } from "../../src/token/digest";

interface FloorEnv {
  DB: D1Database;
  UPSTREAM_URL: string;
  ASSERTION_PRIVATE_KEY: string;
  FLOOR_CACHE_TTL_MS?: string;
  FLOOR_ASSERTION_MODE?: "shared" | "request";
}

let setup: { privateJwk: JsonWebKey; upstream: URL; audience: string; ttl: number; mode: "shared" | "request" } | undefined;

const refusal = (status: 401 | 403) => new Response('{"error":{"code":"refused"}}', { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request: Request, env: FloorEnv, ctx: ExecutionContext): Promise<Response> {
    if (!setup) {
      const upstream = new URL(env.UPSTREAM_URL);
      setup = { privateJwk: JSON.parse(env.ASSERTION_PRIVATE_KEY) as JsonWebKey, upstream, audience: upstream.origin, ttl: Number(env.FLOOR_CACHE_TTL_MS ?? 0), mode: env.FLOOR_ASSERTION_MODE ?? "shared" };
    }
    const bearer = readBearer(request.headers.get("authorization"));
    if (!bearer.ok) return refusal(401);
    const parsed = parseToken(bearer.credential);
    if (!parsed.ok) return refusal(401);
    const url = new URL(request.url);
    const decision = decide(DEMO_POLICY, request.method, url.pathname);
    if (decision === null) return refusal(401);
    const digest = await tokenDigest(parsed.token, undefined);
    const token = await cachedLookup(digest, setup.ttl, (d) => guard(() => resolveTokenByDigest(env.DB, d), { timeoutMs: 5000, retry: true }));
    if (!token || token.status !== "active" || Date.now() >= token.expiresAt) return refusal(401);
    const subject = tokenSubject(token);
    if (decision.kind === "permissions" && missingPermissions(decision.required, subject.permissions).length > 0) return refusal(403);
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
    scheduleLastUse(ctx, env.DB, token, 5000);
    return forward(request, target, headers, 30_000);
  },
};
