/**
 * Address conditions (SPEC §9) as functions: what `allowed_cidrs` accepts and how it is
 * normalised, and the allow/deny decision, checked against an independent reference written
 * here with BigInt arithmetic (no ipaddr.js) over random addresses and prefixes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressAllowed, clientAddress, normaliseCidr, normaliseCidrs } from "../../src/auth/cidr";

// ---------------------------------------------------------------------------------------------
// The reference: addresses as BigInt, written out by hand.

type Family = 4 | 6;
interface Net {
  family: Family;
  bits: bigint;
  prefix: number;
}

const width = (family: Family) => (family === 4 ? 32 : 128);
const MAPPED = 0xffffn << 32n; // ::ffff:0:0/96

function masked(family: Family, bits: bigint, prefix: number): bigint {
  const hostBits = BigInt(width(family) - prefix);
  return (bits >> hostBits) << hostBits;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::", the first on a tie. */
function rfc5952(bits: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function dotted(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String(Number((bits >> shift) & 0xffn))).join(".");
}

/** A mapped IPv6 range of /96 or narrower is the IPv4 range it maps (SPEC §9). */
function referenceNormalise(net: Net): Net {
  if (net.family === 6 && net.prefix >= 96 && net.bits >> 32n === 0xffffn) {
    return { family: 4, bits: masked(4, net.bits & 0xffffffffn, net.prefix - 96), prefix: net.prefix - 96 };
  }
  return { family: net.family, bits: masked(net.family, net.bits, net.prefix), prefix: net.prefix };
}

function referenceText(net: Net): string {
  const n = referenceNormalise(net);
  return `${n.family === 4 ? dotted(n.bits) : rfc5952(n.bits)}/${n.prefix}`;
}

function referenceAllowed(list: Net[], client: { family: Family; bits: bigint } | null): boolean {
  if (list.length === 0) return true;
  if (client === null) return false;
  const c = client.family === 6 && client.bits >> 32n === 0xffffn ? { family: 4 as Family, bits: client.bits & 0xffffffffn } : client;
  return list.map(referenceNormalise).some((n) => n.family === c.family && masked(n.family, c.bits, n.prefix) === n.bits);
}

// ---------------------------------------------------------------------------------------------
// Generators: numbers first, then the many ways to write them.

const bits32 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n });
const bits128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

/** IPv6 text: full or with some run of zero groups compressed, in either case. */
function ipv6Text(bits: bigint, compress: boolean, upper: boolean): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  let text = groups.join(":");
  if (compress) {
    const zeroRun = /(^|:)0(:0)+(:|$)/.exec(text);
    if (zeroRun) text = `${text.slice(0, zeroRun.index)}::${text.slice(zeroRun.index + zeroRun[0].length)}`;
  }
  return upper ? text.toUpperCase() : text;
}

const netArb: fc.Arbitrary<{ net: Net; text: string }> = fc.oneof(
  fc.record({ bits: bits32, prefix: fc.integer({ min: 0, max: 32 }), bare: fc.boolean() }).map(({ bits, prefix, bare }) => ({
    net: { family: 4 as Family, bits, prefix: bare ? 32 : prefix },
    text: bare ? dotted(bits) : `${dotted(bits)}/${prefix}`,
  })),
  fc
    .record({ bits: bits128, prefix: fc.integer({ min: 0, max: 128 }), bare: fc.boolean(), compress: fc.boolean(), upper: fc.boolean() })
    .map(({ bits, prefix, bare, compress, upper }) => ({
      net: { family: 6 as Family, bits, prefix: bare ? 128 : prefix },
      text: bare ? ipv6Text(bits, compress, upper) : `${ipv6Text(bits, compress, upper)}/${prefix}`,
    })),
  // An IPv4 range written as IPv4-mapped IPv6.
  fc.record({ bits: bits32, prefix: fc.integer({ min: 96, max: 128 }) }).map(({ bits, prefix }) => ({
    net: { family: 6 as Family, bits: MAPPED | bits, prefix },
    text: `::ffff:${dotted(bits)}/${prefix}`,
  })),
);

/** A client address, often inside or just outside one of the list's ranges so both answers are common. */
function clientArb(list: { net: Net }[]): fc.Arbitrary<{ client: { family: Family; bits: bigint } | null; text: string | null }> {
  const asText = (family: Family, bits: bigint, mappedForm: 0 | 1 | 2): string => {
    if (family === 6) return ipv6Text(bits, true, false);
    if (mappedForm === 1) return `::ffff:${dotted(bits)}`;
    if (mappedForm === 2) return ipv6Text(MAPPED | bits, true, false);
    return dotted(bits);
  };
  const near = list.length === 0
    ? []
    : [
        fc
          .record({ i: fc.nat(list.length - 1), host: bits128, flip: fc.boolean(), form: fc.constantFrom<0 | 1 | 2>(0, 1, 2) })
          .map(({ i, host, flip, form }) => {
            const n = referenceNormalise(list[i]!.net);
            const w = width(n.family);
            const hostMask = (1n << BigInt(w - n.prefix)) - 1n;
            let bits = n.bits | (host & hostMask);
            // Flip the last network bit: just outside this range (maybe inside another).
            if (flip && n.prefix > 0) bits ^= 1n << BigInt(w - n.prefix);
            return { client: { family: n.family, bits }, text: asText(n.family, bits, form) };
          }),
      ];
  return fc.oneof(
    ...near,
    fc.record({ bits: bits32, form: fc.constantFrom<0 | 1 | 2>(0, 1, 2) }).map(({ bits, form }) => ({
      client: { family: 4 as Family, bits },
      text: asText(4, bits, form),
    })),
    bits128.map((bits) => ({ client: { family: 6 as Family, bits }, text: ipv6Text(bits, true, false) })),
    fc.constant({ client: null, text: null }),
  );
}

// ---------------------------------------------------------------------------------------------

describe("normaliseCidr (SPEC §9)", () => {
  it.each([
    ["203.0.113.77/24", "203.0.113.0/24"],
    ["192.0.2.1", "192.0.2.1/32"],
    [" 10.1.2.3/8 ", "10.0.0.0/8"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:DB8:0:0:1::1/64", "2001:db8::/64"],
    ["2001:db8::1", "2001:db8::1/128"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001/127", "2001:db8::/127"],
    ["2001:db8:0:1:0:0:0:1/128", "2001:db8:0:1::1/128"],
    ["::/0", "::/0"],
    ["::ffff:198.51.100.7/120", "198.51.100.0/24"],
    ["::ffff:198.51.100.7", "198.51.100.7/32"],
  ])("%s → %s", (input, expected) => {
    expect(normaliseCidr(input)).toEqual({ ok: true, cidr: expected });
  });

  it.each([
    "",
    " ",
    "10.0.0.0/33",
    "10.0.0.0/",
    "10.0.0.0/08",
    "10.0.0.0/-1",
    "10.0.0.0/8/8",
    "10.0.0.256",
    "10.1",
    "010.0.0.1",
    "0x0a.0.0.1",
    "a.b.c.d",
    "::/129",
    "2001:db8::/01",
    "fe80::1%eth0",
    "fe80::1%eth0/64",
    "2001:db8:::1",
    "2001:db8::g",
    "localhost",
  ])("refuses %j", (input) => {
    expect(normaliseCidr(input).ok).toBe(false);
  });

  it("de-duplicates after normalising, keeping the first occurrence's order", () => {
    expect(normaliseCidrs(["10.0.0.9/8", "2001:db8::/32", "10.255.0.0/8"])).toEqual({ ok: true, cidrs: ["10.0.0.0/8", "2001:db8::/32"] });
    expect(normaliseCidrs(["10.0.0.0/8", "nope"])).toMatchObject({ ok: false, index: 1 });
  });

  it("normalises exactly as the reference does, for any address and prefix", () => {
    fc.assert(
      fc.property(netArb, ({ net, text }) => {
        expect(normaliseCidr(text)).toEqual({ ok: true, cidr: referenceText(net) });
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("addressAllowed (SPEC §9)", () => {
  const stored = (...cidrs: string[]) => JSON.stringify(cidrs);

  it("allows any address, or none, when the token is unrestricted", () => {
    for (const list of [null, "[]"]) {
      expect(addressAllowed(list, "198.51.100.7")).toBe(true);
      expect(addressAllowed(list, null)).toBe(true);
    }
  });

  it("decides IPv4 and IPv6 clients inside and outside the list", () => {
    const list = stored("203.0.113.0/24", "2001:db8::/32");
    expect(addressAllowed(list, "203.0.113.255")).toBe(true);
    expect(addressAllowed(list, "203.0.114.0")).toBe(false);
    expect(addressAllowed(list, "2001:db8:ffff::1")).toBe(true);
    expect(addressAllowed(list, "2001:db9::1")).toBe(false);
  });

  it("matches an IPv4-mapped IPv6 client address as IPv4", () => {
    const list = stored("203.0.113.0/24");
    expect(addressAllowed(list, "::ffff:203.0.113.9")).toBe(true);
    expect(addressAllowed(list, "::FFFF:cb00:7109")).toBe(true);
    expect(addressAllowed(list, "::ffff:203.0.114.9")).toBe(false);
    expect(clientAddress("::ffff:203.0.113.9")?.toString()).toBe("203.0.113.9");
  });

  it("treats a missing or unparsable client address as outside every list", () => {
    const list = stored("0.0.0.0/0", "::/0");
    expect(addressAllowed(list, "192.0.2.1")).toBe(true);
    for (const header of [null, "", "unknown", "192.0.2.1, 10.0.0.1", "010.0.0.1", "fe80::1%eth0"]) {
      expect(addressAllowed(list, header)).toBe(false);
    }
  });

  it("decides exactly as an independent BigInt reference over random addresses and prefixes", () => {
    const scenario = fc
      .array(netArb, { minLength: 0, maxLength: 6 })
      .chain((list) => fc.record({ list: fc.constant(list), client: clientArb(list) }));
    let allowed = 0;
    let refused = 0;
    fc.assert(
      fc.property(scenario, ({ list, client }) => {
        const normalised = normaliseCidrs(list.map((entry) => entry.text));
        if (!normalised.ok) throw new Error(`reference-valid entry refused: ${normalised.reason}`);
        const storedJson = normalised.cidrs.length === 0 ? null : JSON.stringify(normalised.cidrs);
        const expected = referenceAllowed(list.map((entry) => entry.net), client.client);
        // A plain comparison: `expect` per run would dominate the time of 10,000 runs.
        if (addressAllowed(storedJson, client.text) !== expected) {
          throw new Error(`expected ${expected} for ${client.text} against ${storedJson}`);
        }
        if (expected) allowed++;
        else refused++;
      }),
      { numRuns: 10_000 },
    );
    // Both answers are common, so the comparison is not won by always saying one thing.
    expect(Math.min(allowed, refused)).toBeGreaterThan(2_000);
  });
});
