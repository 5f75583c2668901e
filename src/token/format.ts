/**
 * Token format (SPEC §2): `pcu_` (user) or `pcs_` (service user), 43 base62 characters of
 * randomness (43 × log2(62) ≈ 256.03 bits), then a 6-character base62 CRC-32 checksum of
 * everything before it. Parsing is pure and never touches storage, so malformed input is
 * rejected for the cost of a regex and a CRC.
 */
import { crc32, crc32Ascii } from "./crc32";

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const TOKEN_PREFIXES = { user: "pcu_", service_user: "pcs_" } as const;
export type TokenKind = keyof typeof TOKEN_PREFIXES;

const RANDOM_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const TOKEN_LENGTH = 4 + RANDOM_LENGTH + CHECKSUM_LENGTH;
const TOKEN_SHAPE = /^pc[us]_[0-9A-Za-z]{49}$/;

const encoder = new TextEncoder();

/** CRC-32 of `value`'s ASCII bytes in base62, most significant digit first, 0-padded to 6. */
export function checksum(value: string): string {
  let n = crc32(encoder.encode(value));
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** Uniform base62 characters from crypto.getRandomValues, by rejection sampling (no modulo bias). */
function randomBase62(length: number): string {
  let out = "";
  const buf = new Uint8Array(64);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const byte of buf) {
      // 248 = 4 × 62: bytes at or above it would bias the low digits.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function generateToken(kind: TokenKind): string {
  const body = TOKEN_PREFIXES[kind] + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

export type ParseFailure = "malformed" | "bad_checksum";
export type ParsedToken = { ok: true; kind: TokenKind; token: string } | { ok: false; reason: ParseFailure };

/** The value of each base62 digit, by character code. */
const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE62.length; i++) DIGIT_VALUE[BASE62.charCodeAt(i)] = i;

/**
 * The number a token's 6 checksum characters spell: the inverse of `checksum`'s encoding, read
 * in place so the check on every proxied request copies no string. 62^6 > 2^32, so a checksum
 * and a CRC-32 correspond one to one. The caller has matched TOKEN_SHAPE (all base62).
 */
function checksumValue(candidate: string): number {
  let n = 0;
  for (let i = TOKEN_LENGTH - CHECKSUM_LENGTH; i < TOKEN_LENGTH; i++) n = n * 62 + DIGIT_VALUE[candidate.charCodeAt(i)]!;
  return n;
}

export function parseToken(candidate: string): ParsedToken {
  if (candidate.length !== TOKEN_LENGTH || !TOKEN_SHAPE.test(candidate)) {
    return { ok: false, reason: "malformed" };
  }
  if (crc32Ascii(candidate, TOKEN_LENGTH - CHECKSUM_LENGTH) !== checksumValue(candidate)) {
    return { ok: false, reason: "bad_checksum" };
  }
  return { ok: true, kind: candidate.startsWith("pcu_") ? "user" : "service_user", token: candidate };
}

/** What lists show instead of the secret: prefix + "…" + last four characters (SPEC §1). */
export function tokenHint(token: string): string {
  return token.slice(0, 4) + "…" + token.slice(-4);
}

/**
 * Something in `text` that could be a token secret or a piece of one: a `pcu_`/`pcs_` run of at
 * least 8 base62 characters (a whole secret, a truncated one, any case), or any run of 40 or
 * more base62 characters (a secret pasted without its prefix). Ids and names are shorter.
 */
const SECRET_IN_TEXT = /pc[us]_[0-9a-z]{8,}|[0-9a-z]{40,}/gi;

/**
 * `text` with everything that could be a token secret replaced by its hint (SPEC §11: no
 * error, in any API, echoes a token secret; only its hint).
 */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_IN_TEXT, (secret) => tokenHint(secret));
}

/** True when the string looks like one of our tokens at all (used to route management auth). */
export function hasTokenPrefix(value: string): boolean {
  return value.startsWith("pcu_") || value.startsWith("pcs_");
}
