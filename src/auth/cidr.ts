/**
 * Client address conditions of service tokens (SPEC §9): normalising the `allowed_cidrs` a
 * token is given, and deciding whether a request's `CF-Connecting-IP` falls inside them.
 * Parsing is ipaddr.js's, never a hand-written one; only the decimal prefix length and the
 * four-part dotted form of IPv4 (no octal, hex or shortened legacy spellings) are ours to ask for.
 */
import ipaddr from "ipaddr.js";

export const MAX_ALLOWED_CIDRS = 32;

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export type CidrResult = { ok: true; cidr: string } | { ok: false; reason: string };

/** 0–32 or 0–128, written in decimal without leading zeros. */
const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * An IPv4 address in four-part decimal, or an IPv6 address without a zone; null otherwise. The
 * family is chosen by the colon first: ipaddr.js's IPv4 validators take ~30 µs to refuse an
 * IPv6 string, and this runs per request for restricted tokens.
 */
function parseAddress(text: string): Address | null {
  if (!text.includes(":")) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
  if (text.includes("%")) return null;
  try {
    return ipaddr.IPv6.parse(text);
  } catch {
    return null;
  }
}

/**
 * One entry of `allowed_cidrs`, normalised: host bits cleared, a bare address as /32 or /128,
 * IPv6 in RFC 5952 form. A range inside the IPv4-mapped block (`::ffff:0:0/96` or narrower)
 * becomes the IPv4 range it maps, because mapped client addresses are matched as IPv4.
 */
export function normaliseCidr(input: string): CidrResult {
  const text = input.trim();
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);
  let address = parseAddress(addressText);
  if (address === null) return { ok: false, reason: `${JSON.stringify(clip(input))} is not an IPv4 or IPv6 address or CIDR` };
  const width = address.kind() === "ipv4" ? 32 : 128;
  if (prefixText !== null && (!PREFIX.test(prefixText) || Number(prefixText) > width)) {
    return { ok: false, reason: `${JSON.stringify(clip(input))} has a prefix length outside 0–${width}` };
  }
  let prefix = prefixText === null ? width : Number(prefixText);
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && prefix >= 96) {
    address = address.toIPv4Address();
    prefix -= 96;
  }
  return { ok: true, cidr: `${networkOf(address, prefix)}/${prefix}` };
}

function networkOf(address: Address, prefix: number): string {
  if (address instanceof ipaddr.IPv4) return ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`).toString();
  return ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`).toRFC5952String();
}

/** Error messages quote what was sent, but never at length. */
function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The normalised, de-duplicated list (first occurrence wins), or the first problem found.
 * Callers check the count (at most MAX_ALLOWED_CIDRS) before calling.
 */
export function normaliseCidrs(inputs: readonly string[]): { ok: true; cidrs: string[] } | { ok: false; index: number; reason: string } {
  const seen = new Set<string>();
  for (const [index, input] of inputs.entries()) {
    const result = normaliseCidr(input);
    if (!result.ok) return { ok: false, index, reason: result.reason };
    seen.add(result.cidr);
  }
  return { ok: true, cidrs: [...seen] };
}

/** Parsed client addresses: an integration calls from few addresses, and parsing costs µs. */
const clients = new Map<string, Address | null>();
const MAX_CLIENTS = 1_000;

/**
 * The client address of a request: `CF-Connecting-IP`, which Cloudflare's edge sets and the
 * client cannot forge. An IPv4-mapped IPv6 address is its IPv4 address. Null when absent or not
 * an address.
 */
export function clientAddress(header: string | null): Address | null {
  if (header === null) return null;
  const known = clients.get(header);
  if (known !== undefined) return known;
  let address = parseAddress(header.trim());
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) address = address.toIPv4Address();
  if (clients.size >= MAX_CLIENTS) clients.clear();
  clients.set(header, address);
  return address;
}


type Range = [ipaddr.IPv4, number] | [ipaddr.IPv6, number];

interface CompiledList {
  v4: [ipaddr.IPv4, number][];
  v6: [ipaddr.IPv6, number][];
}

/** Parsed lists by their stored JSON text: a token's list is parsed once per isolate, not per request. */
const compiled = new Map<string, CompiledList>();
const MAX_COMPILED = 1_000;

function compile(storedJson: string): CompiledList {
  const hit = compiled.get(storedJson);
  if (hit !== undefined) return hit;
  const list: CompiledList = { v4: [], v6: [] };
  for (const cidr of JSON.parse(storedJson) as string[]) {
    const range = ipaddr.parseCIDR(cidr) as Range;
    if (range[0] instanceof ipaddr.IPv4) list.v4.push(range as [ipaddr.IPv4, number]);
    else list.v6.push(range as [ipaddr.IPv6, number]);
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(storedJson, list);
  return list;
}

/** A stored `allowed_cidrs` that sets no condition (null or `[]`): any address may use the token. */
export function unrestricted(storedJson: string | null): storedJson is null | "[]" {
  return storedJson === null || storedJson === "[]";
}

/**
 * Whether a request from `clientAddressHeader` may use a token restricted to `storedJson` (the
 * `allowed_cidrs` column: a JSON array of normalised CIDRs, or null / `[]` for any address).
 * A request without a usable client address is outside every non-empty list.
 */
export function addressAllowed(storedJson: string | null, clientAddressHeader: string | null): boolean {
  if (unrestricted(storedJson)) return true;
  const address = clientAddress(clientAddressHeader);
  if (address === null) return false;
  const list = compile(storedJson);
  if (address instanceof ipaddr.IPv4) return list.v4.some((range) => address.match(range));
  return list.v6.some((range) => address.match(range));
}
