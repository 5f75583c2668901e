// Not one of the four Workers the targets compare: the floor that SPEC §3.4 itself sets. It is
// bare.js plus the X-Portcullis-Assertion signed exactly as Portcullis signs it (jose, ES256,
// fresh jti and iat per request) and the identity headers, built by Portcullis's own functions
// on a constant subject. Portcullis cannot be cheaper than this without dropping the per-request
// signature, so the table shows how much of the gap to bare is the signature and how much is
// everything else.
import { signAssertion } from "../../src/proxy/assertion";
import { attachIdentity, upstreamRequestHeaders } from "../../src/proxy/headers";
import { BENCH_SUBJECT as SUBJECT } from "./subject";

interface FloorEnv {
  UPSTREAM_URL: string;
  ASSERTION_PRIVATE_KEY: string;
}

let privateJwk: JsonWebKey | undefined;

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    privateJwk ??= JSON.parse(env.ASSERTION_PRIVATE_KEY) as JsonWebKey;
    const url = new URL(request.url);
    const assertion = await signAssertion(privateJwk, SUBJECT, SUBJECT.tokenId!, { issuer: "portcullis", audience: new URL(env.UPSTREAM_URL).origin });
    const headers = upstreamRequestHeaders(request.headers);
    attachIdentity(headers, SUBJECT, SUBJECT.tokenId!, assertion);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual" });
  },
};
