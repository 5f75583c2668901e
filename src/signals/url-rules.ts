/**
 * Which URLs a webhook may target (SPEC §10), checked when an endpoint is created and again
 * before every delivery: `https://` only, and never a literal address in a private, loopback,
 * link-local or otherwise non-public range, so an organization admin cannot aim Portcullis at
 * its own network (server-side request forgery). Local development (`ALLOW_INSECURE_WEBHOOKS`)
 * may use `http://localhost` and `http://127.0.0.1`.
 *
 * Host names are not resolved here (Workers cannot); a name is refused only when it is
 * `localhost` or under `.localhost` (RFC 6761 §6.3). Cloudflare's fetch does not reach private
 * networks from a Worker anyway; the literal checks keep the rule independent of that.
 */
import ipaddr from "ipaddr.js";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1"]);

function literalAddress(hostname: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (!ipaddr.isValid(bare)) return null;
  // WHATWG URL parsing already normalises IPv4 spellings (0x7f.1, 2130706433) to dotted quads.
  const parsed = ipaddr.parse(bare);
  return parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
}

export function checkWebhookUrl(raw: string, allowInsecure: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "url is not an absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "url must not carry credentials" };
  const host = url.hostname.toLowerCase();
  if (allowInsecure && url.protocol === "http:" && LOCAL_HOSTS.has(host)) return { ok: true, url };
  if (url.protocol !== "https:") {
    return { ok: false, reason: allowInsecure ? "url must be https:// (or http://localhost, http://127.0.0.1)" : "url must be https://" };
  }
  if (host === "localhost" || host.endsWith(".localhost")) {
    return allowInsecure && host === "localhost" ? { ok: true, url } : { ok: false, reason: "url must not point at a loopback address" };
  }
  const address = literalAddress(host);
  if (address) {
    const range = address.range();
    if (allowInsecure && address.toString() === "127.0.0.1") return { ok: true, url };
    if (range !== "unicast") return { ok: false, reason: `url must not point at a ${range} address` };
  }
  return { ok: true, url };
}
