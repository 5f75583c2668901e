// Not one of the four Workers the targets compare: the floor that SPEC §3.4 itself sets. It is
// bare.js plus the X-Portcullis-Assertion signed exactly as Portcullis signs it (jose, ES256,
// fresh jti and iat per request), on a constant subject. Portcullis cannot be cheaper than this
// without dropping the per-request signature, so the table shows how much of the gap to bare is
// the signature and how much is everything else.
import { signAssertion } from "../../src/proxy/assertion";
import type { Subject } from "../../src/auth/subject";

interface FloorEnv {
  UPSTREAM_URL: string;
  ASSERTION_PRIVATE_KEY: string;
}

const SUBJECT: Subject = {
  type: "service_user",
  id: "svc_bench_0",
  name: "Bench Integration 0",
  orgId: "org_bench",
  permissions: ["inspections.edit", "inspections.view", "integrations.manage"],
  groups: [],
  sites: [],
  credential: "api_token",
  tokenId: "tok_bench_s0",
  authTime: null,
};

let privateJwk: JsonWebKey | undefined;

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    privateJwk ??= JSON.parse(env.ASSERTION_PRIVATE_KEY) as JsonWebKey;
    const url = new URL(request.url);
    const assertion = await signAssertion(privateJwk, SUBJECT, SUBJECT.tokenId!, { issuer: "portcullis", audience: new URL(env.UPSTREAM_URL).origin });
    const headers = new Headers(request.headers);
    headers.delete("authorization");
    headers.set("x-portcullis-assertion", assertion);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual" });
  },
};
