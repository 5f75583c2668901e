// The irreducible cost of correct-by-default revocation: the pass-through of bare.js plus the
// digest of the bearer credential and one D1 read by that digest on the unique index
// (api_tokens_digest_uq). No format check, no permissions, no identity headers, no signing.
const encoder = new TextEncoder();

function hex(buffer) {
  let out = "";
  for (const b of new Uint8Array(buffer)) out += b.toString(16).padStart(2, "0");
  return out;
}

export default {
  async fetch(request, env) {
    const credential = (request.headers.get("authorization") ?? "").replace(/^bearer +/i, "");
    const digest = hex(await crypto.subtle.digest("SHA-256", encoder.encode(credential)));
    const row = await env.DB.prepare("SELECT id, status, expires_at FROM api_tokens WHERE digest = ?1").bind(digest).first();
    if (!row || row.status !== "active" || row.expires_at <= Date.now()) {
      return new Response('{"error":{"code":"invalid_token"}}', { status: 401, headers: { "content-type": "application/json" } });
    }
    const url = new URL(request.url);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
  },
};
