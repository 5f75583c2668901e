/**
 * What reaches the upstream (SPEC §3 step 4): the client's headers minus Authorization, hop-by-hop
 * headers (RFC 9110 §7.6.1, plus any named in Connection), path-override and client-address
 * headers and every client-sent X-Portcullis-* header (with `_` read as `-` in each name), plus
 * X-Forwarded-For / X-Forwarded-Host and the identity headers Portcullis vouches for.
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

/** An RFC 9110 field name (lower-cased). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * The hop-by-hop headers present in `source`, including any named in its Connection header.
 * Asks for each name rather than iterating: iterating a Headers object copies all of it.
 */
export function hopByHopNames(source: Headers): string[] {
  const present: string[] = [];
  for (const name of HOP_BY_HOP) if (source.has(name)) present.push(name);
  for (const name of droppedByConnection(source)) {
    // Headers.has() throws on a string that is not a header name; such a name can't be present.
    if (TOKEN.test(name) && !HOP_BY_HOP.has(name) && source.has(name)) present.push(name);
  }
  return present;
}

/** Headers and query parameters that frameworks honour to change the method of a request. */
const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"];
const METHOD_OVERRIDE_PARAM = "_method";

/**
 * Methods the upstream may act on besides the request's own: a GET carrying
 * `X-HTTP-Method-Override: DELETE` is a DELETE to many frameworks, so the route policy must
 * judge it as one too (they are forwarded unchanged, so the policy must see them).
 */
export function methodOverrides(headers: Headers, url: URL): readonly string[] {
  let values: string[] | null = null;
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const value = headers.get(name);
    if (value !== null) (values ??= []).push(...value.split(","));
  }
  // Parsing the query is skipped when there is none (the common case).
  if (url.search.length > 1) {
    const params = url.searchParams.getAll(METHOD_OVERRIDE_PARAM);
    if (params.length > 0) (values ??= []).push(...params);
  }
  // Most requests carry none: nothing is allocated for them.
  if (values === null) return NO_OVERRIDES;
  return values.map((v) => v.trim().toUpperCase()).filter((v) => v.length > 0);
}

const NO_OVERRIDES: readonly string[] = Object.freeze([]);

/**
 * Headers some frameworks (Symfony, IIS URL Rewrite) route by instead of the request line: a
 * client could send a public path with one of these naming a protected one. Never forwarded.
 */
const PATH_OVERRIDE_HEADERS = new Set(["x-original-url", "x-rewrite-url"]);

/**
 * Where the client is, as a client could claim it (SPEC §3 step 4): never forwarded from the
 * client; Portcullis sets X-Forwarded-For and X-Forwarded-Host itself. Any `x-forwarded-*` too.
 */
const CLIENT_ADDRESS_HEADERS = new Set(["forwarded", "x-real-ip", "true-client-ip", "x-client-ip"]);
const FORWARDED_PREFIX = "x-forwarded-";

/**
 * Whether a client header must not reach the upstream because of what it names. CGI-style
 * servers (PHP, WSGI, Rack) read `X_Portcullis_Subject_Id` as `X-Portcullis-Subject-Id`
 * (both become HTTP_X_PORTCULLIS_SUBJECT_ID), so the name is judged with `_` read as `-`
 * (SPEC §3 step 4). An underscore spelling of a method-override header is dropped too: the
 * policy judges only the hyphenated ones (`methodOverrides`), which are forwarded.
 */
function smuggled(name: string): boolean {
  const underscored = name.includes("_");
  const canonical = underscored ? name.replaceAll("_", "-") : name;
  return (
    canonical.startsWith(IDENTITY_HEADER_PREFIX) ||
    canonical.startsWith(FORWARDED_PREFIX) ||
    PATH_OVERRIDE_HEADERS.has(canonical) ||
    CLIENT_ADDRESS_HEADERS.has(canonical) ||
    (underscored && (canonical === "authorization" || METHOD_OVERRIDE_HEADERS.includes(canonical)))
  );
}

/** Header name/value pairs, as fetch() takes them (no Headers object to build and fill). */
export type HeaderList = [string, string][];

/** Headers for the upstream request, before identity is attached (one pass over the client's). */
export function upstreamRequestHeaders(incoming: Headers): HeaderList {
  const out: HeaderList = [];
  const named = droppedByConnection(incoming);
  let originalHost: string | null = null;
  let clientIp: string | null = null;
  for (const [name, value] of incoming) {
    if (name === "host") {
      originalHost = value;
      continue;
    }
    if (name === "cf-connecting-ip") clientIp = value;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === "authorization" || smuggled(name)) continue;
    out.push([name, value]);
  }
  // The edge's view of the client and of the Host it asked for replace whatever the client claimed.
  if (originalHost) out.push(["x-forwarded-host", originalHost]);
  if (clientIp) out.push(["x-forwarded-for", clientIp]);
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

/** The identity headers Portcullis vouches for (SPEC §3 step 4), without the assertion. */
export function identityHeaderPairs(subject: Subject, tokenId: string): HeaderList {
  return [
    ["x-portcullis-subject-id", subject.id],
    ["x-portcullis-subject-type", subject.type],
    ["x-portcullis-subject-name", headerSafe(subject.name)],
    ["x-portcullis-org-id", subject.orgId],
    ["x-portcullis-token-id", tokenId],
    ["x-portcullis-permissions", subject.permissions.join(",")],
    ["x-portcullis-groups", subject.groups.join(",")],
    ["x-portcullis-sites", subject.sites.join(",")],
  ];
}

export function attachIdentity(headers: HeaderList, subject: Subject, tokenId: string, assertion: string): void {
  headers.push(...identityHeaderPairs(subject, tokenId), ["x-portcullis-assertion", assertion]);
}
