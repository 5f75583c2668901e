// Not one of the four Workers the targets compare: what reference.js becomes once it also does
// what SPEC §3.4 requires of every forwarded request, the X-Portcullis-Assertion (jose, ES256,
// fresh jti and iat) and the identity headers, built by Portcullis's own functions on a constant
// subject. No format check, permissions, policy, timeouts or last use. It is the ceiling any
// SPEC-conforming proxy can reach against the reference, so the table shows how much of
// proxy_vs_reference the required signature takes before Portcullis does anything else.
import { signAssertion } from "../../src/proxy/assertion";
import { attachIdentity, upstreamRequestHeaders } from "../../src/proxy/headers";
import { BENCH_SUBJECT as SUBJECT } from "./subject";

interface ReferenceEnv {
  DB: D1Database;
  UPSTREAM_URL: string;
  ASSERTION_PRIVATE_KEY: string;
}

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
let privateJwk: JsonWebKey | undefined;

export default {
  async fetch(request: Request, env: ReferenceEnv): Promise<Response> {
    privateJwk ??= JSON.parse(env.ASSERTION_PRIVATE_KEY) as JsonWebKey;
    const credential = (request.headers.get("authorization") ?? "").replace(/^bearer +/i, "");
    const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(credential)));
    let digest = "";
    for (let i = 0; i < bytes.length; i++) digest += HEX[bytes[i]!];
    const row = await env.DB.prepare("SELECT id, status, expires_at FROM api_tokens WHERE digest = ?1").bind(digest).first<{ id: string; status: string; expires_at: number }>();
    if (!row || row.status !== "active" || row.expires_at <= Date.now()) {
      return new Response('{"error":{"code":"invalid_token"}}', { status: 401, headers: { "content-type": "application/json" } });
    }
    const url = new URL(request.url);
    const assertion = await signAssertion(privateJwk, SUBJECT, row.id, { issuer: "portcullis", audience: new URL(env.UPSTREAM_URL).origin });
    const headers = upstreamRequestHeaders(request.headers);
    attachIdentity(headers, SUBJECT, row.id, assertion);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual" });
  },
};
