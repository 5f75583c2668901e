/**
 * The only form in which a token is stored (SPEC §2): SHA-256 of the whole token in hex, or
 * HMAC-SHA-256 keyed with TOKEN_PEPPER when that secret is set, so a stolen database alone
 * cannot confirm guesses. Lookup is by digest through a unique index; no secret is ever
 * compared character by character.
 */
const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function hex(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

function hmacKey(pepper: string): Promise<CryptoKey> {
  let key = hmacKeys.get(pepper);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(pepper, key);
  }
  return key;
}

export async function tokenDigest(token: string, pepper: string | undefined): Promise<string> {
  const data = encoder.encode(token);
  if (pepper) return hex(await crypto.subtle.sign("HMAC", await hmacKey(pepper), data));
  return hex(await crypto.subtle.digest("SHA-256", data));
}
