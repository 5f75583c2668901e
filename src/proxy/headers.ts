/**
 * What reaches the upstream (SPEC §3.4): the client's headers minus Authorization, hop-by-hop
 * headers (RFC 9110 §7.6.1, plus any named in Connection), path-override headers and every
 * client-sent X-Portcullis-* header, plus the identity headers Portcullis vouches for.
 */
import type { Subject } from "../auth/subject";

export const IDENTITY_HEADER_PREFIX = "x-portcullis-";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function droppedByConnection(headers: Headers): Set<string> {
  const named = new Set<string>();
  const connection = headers.get("connection");
  if (connection) for (const name of connection.split(",")) named.add(name.trim().toLowerCase());
  return named;
}

/** Remove hop-by-hop headers and those named in Connection (both directions). */
export function withoutHopByHop(source: Headers): Headers {
  const out = new Headers();
  const named = droppedByConnection(source);
  for (const [name, value] of source) {
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.append(name, value);
  }
  return out;
}

/** Headers and query parameters that frameworks honour to change the method of a request. */
const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"];
const METHOD_OVERRIDE_PARAM = "_method";

/**
 * Methods the upstream may act on besides the request's own: a GET carrying
 * `X-HTTP-Method-Override: DELETE` is a DELETE to many frameworks, so the route policy must
 * judge it as one too (they are forwarded unchanged, so the policy must see them).
 */
export function methodOverrides(headers: Headers, url: URL): string[] {
  const values = [
    ...METHOD_OVERRIDE_HEADERS.flatMap((name) => headers.get(name)?.split(",") ?? []),
    ...url.searchParams.getAll(METHOD_OVERRIDE_PARAM),
  ];
  return values.map((v) => v.trim().toUpperCase()).filter((v) => v.length > 0);
}

/**
 * Headers some frameworks (Symfony, IIS URL Rewrite) route by instead of the request line: a
 * client could send a public path with one of these naming a protected one. Never forwarded.
 */
const PATH_OVERRIDE_HEADERS = new Set(["x-original-url", "x-rewrite-url"]);

/** Headers for the upstream request, before identity is attached. */
export function upstreamRequestHeaders(incoming: Headers): Headers {
  const out = withoutHopByHop(incoming);
  for (const name of [...out.keys()]) {
    if (name === "authorization" || name.startsWith(IDENTITY_HEADER_PREFIX) || PATH_OVERRIDE_HEADERS.has(name)) out.delete(name);
  }
  const originalHost = incoming.get("host");
  out.delete("host");
  if (originalHost) out.set("x-forwarded-host", originalHost);
  const clientIp = incoming.get("cf-connecting-ip");
  if (clientIp) out.set("x-forwarded-for", clientIp);
  return out;
}

/**
 * Header values must be Latin-1; a display name may not be. Printable ASCII without '%' is sent
 * as is; anything else is sent percent-encoded (UTF-8), so a '%' in the value always means
 * "decode me". The assertion JWT carries the exact string either way.
 */
export function headerSafe(value: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

export function attachIdentity(headers: Headers, subject: Subject, tokenId: string, assertion: string): void {
  headers.set("x-portcullis-subject-id", subject.id);
  headers.set("x-portcullis-subject-type", subject.type);
  headers.set("x-portcullis-subject-name", headerSafe(subject.name));
  headers.set("x-portcullis-org-id", subject.orgId);
  headers.set("x-portcullis-token-id", tokenId);
  headers.set("x-portcullis-permissions", subject.permissions.join(","));
  headers.set("x-portcullis-groups", subject.groups.join(","));
  headers.set("x-portcullis-sites", subject.sites.join(","));
  headers.set("x-portcullis-assertion", assertion);
}
