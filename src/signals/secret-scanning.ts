/**
 * GitHub secret scanning partner program (SPEC §10): verifying that a report comes from GitHub.
 *
 * GitHub signs the raw body with ECDSA P-256 / SHA-256 and sends the DER-encoded signature in
 * base64 (`Github-Public-Key-Signature`) with the id of the key (`Github-Public-Key-Identifier`);
 * the keys are published as PEM (SPKI) at SECRET_SCANNING_KEYS_URL. WebCrypto verifies raw
 * `r || s` signatures (IEEE P1363), so the DER `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279
 * §2.2.3) is converted first. Keys are cached per isolate for an hour; an unknown identifier
 * refetches them, at most once a minute, so a rotation is picked up without letting
 * unauthenticated callers make us fetch on every request.
 */
const KEYS_TTL_MS = 3_600_000;
const REFETCH_MIN_INTERVAL_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;

interface KeySet {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}

const cache = new Map<string, KeySet>();

export class KeysUnavailableError extends Error {}

function base64Bytes(value: string): Uint8Array | null {
  try {
    const binary = atob(value.trim());
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

function pemBody(pem: string): Uint8Array | null {
  const match = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(pem);
  return match ? base64Bytes(match[1]!.replace(/\s+/g, "")) : null;
}

/** DER ECDSA signature → 64-byte `r || s`, or null when it is not one. */
export function derToRaw(der: Uint8Array): Uint8Array | null {
  let i = 0;
  const length = (): number | null => {
    const first = der[i++];
    if (first === undefined) return null;
    if (first < 0x80) return first;
    if (first !== 0x81) return null; // a P-256 signature is never longer than 255 bytes
    const next = der[i++];
    return next === undefined || next < 0x80 ? null : next;
  };
  if (der[i++] !== 0x30) return null;
  const total = length();
  if (total === null || i + total !== der.length) return null;
  const out = new Uint8Array(64);
  for (const offset of [0, 32]) {
    if (der[i++] !== 0x02) return null;
    const n = length();
    if (n === null || n === 0 || i + n > der.length) return null;
    let bytes = der.subarray(i, i + n);
    i += n;
    while (bytes.length > 32 && bytes[0] === 0) bytes = bytes.subarray(1);
    if (bytes.length > 32) return null;
    out.set(bytes, offset + 32 - bytes.length);
  }
  return i === der.length ? out : null;
}

async function fetchKeys(url: string, now: number): Promise<KeySet> {
  let body: unknown;
  try {
    const response = await fetch(url, { headers: { accept: "application/json", "user-agent": "Portcullis" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`status ${response.status}`);
    body = await response.json();
  } catch (err) {
    throw new KeysUnavailableError(`secret scanning keys unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const keys = new Map<string, CryptoKey>();
  const list = (body as { public_keys?: unknown })?.public_keys;
  for (const entry of Array.isArray(list) ? list : []) {
    const id = (entry as { key_identifier?: unknown })?.key_identifier;
    const pem = (entry as { key?: unknown })?.key;
    if (typeof id !== "string" || typeof pem !== "string") continue;
    const spki = pemBody(pem);
    if (!spki) continue;
    try {
      keys.set(id, await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]));
    } catch {
      // A key that is not P-256 cannot have signed a report we accept.
    }
  }
  return { keys, fetchedAt: now };
}

async function keyFor(url: string, keyId: string, now: number): Promise<CryptoKey | null> {
  let set = cache.get(url);
  if (!set || now - set.fetchedAt > KEYS_TTL_MS) {
    set = await fetchKeys(url, now);
    cache.set(url, set);
  }
  const key = set.keys.get(keyId);
  if (key || now - set.fetchedAt < REFETCH_MIN_INTERVAL_MS) return key ?? null;
  set = await fetchKeys(url, now);
  cache.set(url, set);
  return set.keys.get(keyId) ?? null;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Whether `signature` (base64 DER) by key `keyId` of the set at `keysUrl` signs `body`. */
export async function verifyReportSignature(keysUrl: string, keyId: string, signature: string, body: Uint8Array, now = Date.now()): Promise<SignatureCheck> {
  const der = base64Bytes(signature);
  const raw = der && derToRaw(der);
  if (!raw) return { ok: false, reason: "malformed signature" };
  const key = await keyFor(keysUrl, keyId, now);
  if (!key) return { ok: false, reason: "unknown key identifier" };
  const valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, body);
  return valid ? { ok: true } : { ok: false, reason: "signature does not match" };
}

/** Forget cached key sets (tests). */
export function clearKeyCache(): void {
  cache.clear();
}
