/**
 * Route policy matching (SPEC §3.3), per request: the rules and their parser live in
 * domain/route-policy.ts, which also explains how a path is read and why matching fails closed.
 */
import type { CompiledRule, PolicyDecision, RoutePolicy } from "../domain/route-policy";

const MAX_DECODE_ROUNDS = 3;
const CONTROL = /[\x00-\x1f\x7f]/;

/** One reading of a path as an upstream might route it (see domain/route-policy.ts). */
function segmentsOf(path: string): string[] {
  return path
    .split("/")
    .map((seg) => seg.split(";")[0]!.toLowerCase())
    .filter((seg) => seg.length > 0);
}

/** Runs of `%XX` escapes: decoded as UTF-8 when they are, else byte by byte (Latin-1). */
const ESCAPE_RUN = /(?:%[0-9a-f]{2})+/gi;

function decodeLeniently(part: string): string {
  return part.replace(ESCAPE_RUN, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
  });
}

/**
 * Percent-decode one round; `keepSlashes` leaves %2F and %5C encoded. Strict (null if not
 * decodable) unless `lenient`: then every valid escape is decoded and the rest kept, as the
 * most forgiving upstream decoder would.
 */
function decodeOnce(path: string, keepSlashes: boolean, lenient = false): string | null {
  const decode = lenient ? decodeLeniently : decodeURIComponent;
  try {
    if (!keepSlashes) return decode(path);
    return path
      .split(/(%2f|%5c)/i)
      .map((part, i) => (i % 2 === 1 ? part : decode(part)))
      .join("");
  } catch {
    return null;
  }
}

/**
 * Decode until nothing changes (an upstream may decode more than once). A path that is not
 * decodable as sent is refused; one that becomes undecodable only in a later round (a literal
 * `%` such as `100%25`) goes on leniently, so no valid escape is left for the upstream's next
 * round to decode into something the policy did not judge.
 */
function decodeFully(path: string, keepSlashes: boolean): string | null {
  let current = path;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const next = decodeOnce(current, keepSlashes) ?? (round === 0 ? null : decodeOnce(current, keepSlashes, true));
    if (next === null) return null;
    if (next === current) return current;
    current = next;
  }
  // Still encoded after that many rounds: refuse rather than guess how deep the upstream decodes.
  const deeper = decodeOnce(current, keepSlashes, true);
  return deeper !== null && deeper !== current ? null : current;
}

export interface RequestPath {
  /** Distinct readings, each lower-cased segments; protective rules match any of them. */
  readings: string[][];
  /** The segments as sent, when the path has no escapes, `;`, backslash or empty segments. */
  exact: string[] | null;
}

/** No escape, `;`, backslash or control character, and no `//`: every reading is the same. */
const SIMPLE_PATH = /^(?:\/[^/%;\\\x00-\x1f\x7f]+)*\/?$/;

/** The readings of a request path, or null when it must be refused (400). */
export function readRequestPath(pathname: string): RequestPath | null {
  if (SIMPLE_PATH.test(pathname)) {
    // The common case, and the same result as the general one below: decoding changes nothing,
    // so the three candidates are one reading.
    const segments = segmentsOf(pathname);
    if (segments.some((seg) => seg === "." || seg === "..")) return null;
    const raw = pathname === "/" ? [] : pathname.split("/").slice(1);
    return { readings: [segments], exact: raw.every((seg) => seg.length > 0) ? raw : null };
  }
  const decoded = decodeFully(pathname, false);
  const decodedKeepingSlashes = decodeFully(pathname, true);
  if (decoded === null || decodedKeepingSlashes === null || CONTROL.test(decoded)) return null;
  const readings: string[][] = [];
  const seen = new Set<string>();
  const candidates = [pathname, decodedKeepingSlashes, decoded.replace(/\\/g, "/")];
  // A decoded `?` or `#` ends the path for an upstream that decodes and then parses a URL again.
  for (const path of [...candidates]) {
    const end = path.search(/[?#]/);
    if (end >= 0) candidates.push(path.slice(0, end));
  }
  // A path starting with "//" is a network-path reference to URL parsers (`new URL(path, base)`):
  // an upstream using one routes it without its first segment, which it takes for a host.
  for (const path of [...candidates]) if (path.startsWith("//")) candidates.push(path.replace(/^\/+[^/]*/, ""));
  for (const path of candidates) {
    const segments = segmentsOf(path);
    if (segments.some((seg) => seg === "." || seg === "..")) return null;
    const key = segments.join("/");
    if (!seen.has(key)) {
      seen.add(key);
      readings.push(segments);
    }
  }
  const raw = pathname === "/" ? [] : pathname.split("/").slice(1);
  const plain = raw.every((seg) => seg.length > 0 && !/[%;\\]/.test(seg));
  return { readings, exact: plain ? raw : null };
}

function segmentsMatch(rule: CompiledRule, pattern: string[], path: string[]): boolean {
  if (rule.trailingWildcard ? path.length < pattern.length : path.length !== pattern.length) return false;
  return pattern.every((seg, i) => seg === "*" || seg.startsWith(":") || seg === path[i]);
}

function methodMatches(rule: CompiledRule, method: string): boolean {
  if (rule.methods === "any") return true;
  // HEAD reads what GET reads, so a GET rule governs it too.
  return rule.methods.has(method) || (method === "HEAD" && rule.methods.has("GET"));
}

/** Shared by every request that reaches them, so frozen like the rules' own decisions. */
const PUBLIC: PolicyDecision = Object.freeze({ kind: "public" });
const AUTHENTICATED: PolicyDecision = Object.freeze({ kind: "authenticated" });

/** First-match decision for one reading; public rules only ever match the exact path. */
function decideReading(policy: RoutePolicy, method: string, reading: string[], exact: string[] | null): PolicyDecision {
  for (const rule of policy.rules) {
    if (!methodMatches(rule, method)) continue;
    if (rule.decision.kind === "public") {
      if (exact !== null && segmentsMatch(rule, rule.exactSegments, exact)) return rule.decision;
      continue;
    }
    if (segmentsMatch(rule, rule.segments, reading)) return rule.decision;
  }
  return AUTHENTICATED;
}

function decideUnmemoized(policy: RoutePolicy, method: string | readonly string[], pathname: string): PolicyDecision | null {
  const path = readRequestPath(pathname);
  if (path === null) return null;
  if (typeof method === "string" && path.readings.length === 1) return decideReading(policy, method.toUpperCase(), path.readings[0]!, path.exact);
  const methods = [...new Set((typeof method === "string" ? [method] : method).map((m) => m.toUpperCase()))];
  const decisions = methods.flatMap((m) => path.readings.map((reading) => decideReading(policy, m, reading, path.exact)));
  if (decisions.every((d) => d.kind === "public")) return PUBLIC;
  const required = new Set(decisions.flatMap((d) => (d.kind === "permissions" ? d.required : [])));
  if (required.size > 0) return Object.freeze({ kind: "permissions", required: Object.freeze([...required].sort()) as string[] });
  return AUTHENTICATED;
}

/**
 * Decisions already made, per policy, keyed by method and path as sent: an API's traffic
 * repeats a few routes, and a decision depends on nothing else, so a repeat skips the decoding
 * and the rule scan. Bounded in entries and in path length (the path is the client's); when
 * full, the entry made longest ago goes first, so unique paths only ever cost a miss.
 */
const MEMO_ENTRIES = 1_024;
const MEMO_MAX_PATH = 256;
const memos = new WeakMap<RoutePolicy, Map<string, PolicyDecision | null>>();

/**
 * Decide what a request needs: the strictest decision over every reading of the path and every
 * method the upstream might act on (the request's own, plus any method override it carries).
 * Returns null when the path must be refused, which the proxy answers with 400 rather than guessing.
 * The decision returned is frozen: it may be shared with other requests.
 */
export function decide(policy: RoutePolicy, method: string | readonly string[], pathname: string): PolicyDecision | null {
  // Requests with method overrides are rare: decided afresh.
  if (typeof method !== "string" || pathname.length > MEMO_MAX_PATH) return decideUnmemoized(policy, method, pathname);
  let memo = memos.get(policy);
  if (memo === undefined) {
    memo = new Map();
    memos.set(policy, memo);
  }
  const key = `${method} ${pathname}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const decision = decideUnmemoized(policy, method, pathname);
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  memo.set(key, decision);
  return decision;
}

/** Test hook: how many decisions are memoized for this policy. */
export function memoizedDecisionCount(policy: RoutePolicy): number {
  return memos.get(policy)?.size ?? 0;
}
