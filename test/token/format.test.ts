import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BASE62, checksum, generateToken, parseToken, tokenHint, TOKEN_LENGTH } from "../../src/token/format";
import { crc32 } from "../../src/token/crc32";
import { tokenDigest } from "../../src/token/digest";

describe("token format (SPEC §2)", () => {
  it("generates pcu_/pcs_ + 43 base62 + 6-char checksum, 53 characters", () => {
    for (const kind of ["user", "service_user"] as const) {
      const token = generateToken(kind);
      expect(token).toHaveLength(53);
      expect(TOKEN_LENGTH).toBe(53);
      expect(token).toMatch(kind === "user" ? /^pcu_[0-9A-Za-z]{49}$/ : /^pcs_[0-9A-Za-z]{49}$/);
      expect(parseToken(token)).toEqual({ ok: true, kind, token });
    }
  });

  it("computes CRC-32 exactly as zlib does", () => {
    // zlib.crc32("123456789") === 0xCBF43926, the standard check value.
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new TextEncoder().encode(""))).toBe(0);
  });

  it("writes the checksum in base62, most significant digit first, 0-padded", () => {
    // 0xCBF43926 = 3421780262 = 3·62^5 + 45·62^4 + 35·62^3 + 27·62^2 + 22·62 + 14 → "3jZRME".
    expect(checksum("123456789")).toBe("3jZRME");
    expect(checksum("")).toBe("000000");
  });

  // Literals computed outside this code base (Python: zlib.crc32, then base62 by divmod), so a
  // change to the CRC, the alphabet, the digit order or the padding fails here.
  it.each([
    ["pcu_0000000000000000000000000000000000000000000", "0jNAZk"],
    ["pcs_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "156s6N"],
    ["pcu_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg", "3WSKLW"],
    ["pcs_4d3c2b1aZYXWVUTSRQPONMLKJIHGFEDCBA987654321", "2iuwak"],
  ])("pins the checksum of a known token: %s → %s", (body, expected) => {
    expect(checksum(body)).toBe(expected);
    expect(parseToken(body + expected)).toEqual({ ok: true, kind: body.startsWith("pcu_") ? "user" : "service_user", token: body + expected });
  });

  it("rejects a wrong prefix, length, alphabet or checksum", () => {
    const good = generateToken("service_user");
    expect(parseToken("pcx_" + good.slice(4)).ok).toBe(false);
    expect(parseToken(good.slice(0, -1)).ok).toBe(false);
    expect(parseToken(good + "0").ok).toBe(false);
    expect(parseToken(good.slice(0, 10) + "-" + good.slice(11)).ok).toBe(false);
    const last = good.at(-1)!;
    const flipped = good.slice(0, -1) + (last === "0" ? "1" : "0");
    expect(parseToken(flipped)).toEqual({ ok: false, reason: "bad_checksum" });
    const body = good.slice(5, 6) === "a" ? "b" : "a";
    expect(parseToken(good.slice(0, 5) + body + good.slice(6))).toEqual({ ok: false, reason: "bad_checksum" });
  });

  it("never accepts a random string (property, 20,000 runs)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(parseToken(s).ok).toBe(false);
      }),
      { numRuns: 20_000 },
    );
  });

  it("round-trips every generated token and catches every single-character change (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom("user", "service_user" as const), fc.nat(52), fc.nat(61), (kind, pos, digit) => {
        const token = generateToken(kind as "user" | "service_user");
        expect(parseToken(token).ok).toBe(true);
        const replacement = BASE62[digit]!;
        fc.pre(pos >= 4 && token[pos] !== replacement);
        const mutated = token.slice(0, pos) + replacement + token.slice(pos + 1);
        expect(parseToken(mutated).ok).toBe(false);
      }),
      { numRuns: 5_000 },
    );
  });

  it("accepts exactly the checksum checksum() writes, for any body and any 6 base62 characters (property, 5,000 runs)", () => {
    // parseToken reads the checksum characters as a number rather than re-encoding the CRC: the
    // two must agree on every suffix, including ones spelling values above 2^32.
    const base62 = fc.constantFrom(...BASE62.split(""));
    fc.assert(
      fc.property(
        fc.constantFrom("pcu_", "pcs_"),
        fc.array(base62, { minLength: 43, maxLength: 43 }),
        fc.oneof(fc.array(base62, { minLength: 6, maxLength: 6 }).map((d) => d.join("")), fc.constant(null)),
        (prefix, random, suffix) => {
          const body = prefix + random.join("");
          const candidate = body + (suffix ?? checksum(body));
          expect(parseToken(candidate).ok).toBe((suffix ?? checksum(body)) === checksum(body));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("hints show the prefix and the last four characters only", () => {
    const token = generateToken("service_user");
    expect(tokenHint(token)).toBe(`pcs_…${token.slice(-4)}`);
  });

  it("digests with SHA-256, or HMAC-SHA-256 when a pepper is set", async () => {
    expect(await tokenDigest("abc", undefined)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    expect(await tokenDigest("what do ya want for nothing?", "Jefe")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });
});
