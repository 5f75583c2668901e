/**
 * Reads `Authorization: Bearer <credential>` (RFC 6750 §2.1). The scheme is case-insensitive and
 * may be followed by several spaces (RFC 7235 §2.1); exactly one credential is accepted. Fetch
 * joins repeated headers with ", ", and no credential of ours contains a comma, so a comma means
 * two credentials were sent.
 */
export type BearerResult =
  | { ok: true; credential: string }
  | { ok: false; reason: "missing" | "other_scheme" | "malformed" | "multiple" };

const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME_ONLY = /^[A-Za-z][A-Za-z0-9!#$%&'*+\-.^_`|~]*(?: |$)/;

export function readBearer(header: string | null): BearerResult {
  if (header === null || header.trim() === "") return { ok: false, reason: "missing" };
  if (header.includes(",")) return { ok: false, reason: "multiple" };
  const match = BEARER.exec(header);
  if (match) return { ok: true, credential: match[1]! };
  if (/^bearer(?:\s|$)/i.test(header)) return { ok: false, reason: "malformed" };
  return SCHEME_ONLY.test(header) ? { ok: false, reason: "other_scheme" } : { ok: false, reason: "malformed" };
}
