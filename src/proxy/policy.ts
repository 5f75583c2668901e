/**
 * Route policy (SPEC §3.3): an ordered list of rules `METHODS PATH-PATTERN → permissions | public`.
 * The first rule whose method and pattern match decides; a request no rule matches needs an
 * authenticated subject and no specific permission.
 *
 * Patterns are matched segment by segment: a literal segment matches itself, `:name` or `*`
 * matches exactly one segment, and a trailing `*` matches zero or more segments (so
 * `/inspections/*` covers `/inspections` and everything below it).
 *
 * Matching is fail-closed against parser differentials between Portcullis and the upstream
 * (path confusion, e.g. `/public/..%2fadmin`, `/inspections;x/1`, `/inspections%2f1`):
 * - A path that decodes to a `.` or `..` segment, a control character, or is encoded more than
 *   three times deep is refused (400): no single reading of it is safe.
 * - A protective rule (permissions or authenticated) applies when it matches ANY plausible
 *   reading of the path: as sent, percent-decoded except `/`, fully decoded (repeatedly, `\`
 *   as `/`; a round that fails after the first decodes leniently, never stops half-way), each
 *   also cut at a decoded `?` or `#`, with empty segments dropped, `;params` removed and letters
 *   lower-cased, and for a path starting with `//` also without its first segment (a URL
 *   parser's "host"). The strictest outcome wins (the union of the permissions required):
 *   every reading judged is at least as strict as what any upstream may see.
 * - A public rule applies only to a path spelled exactly as the rule (same case, no
 *   percent-escapes, no `;`, no empty segment or trailing slash). Any other spelling needs a
 *   token, so a public rule can never be stretched over something else.
 * The path forwarded to the upstream is never rewritten.
 */
export type PolicyDecision = { kind: "public" } | { kind: "permissions"; required: string[] } | { kind: "authenticated" };

export interface PolicyRuleInput {
  /** "GET /inspections/*", "POST,PUT /inspections/*" or "* /admin/*". */
  match: string;
  permissions?: string[];
  public?: boolean;
}

interface CompiledRule {
  methods: Set<string> | "any";
  /** Lower-cased, for protective rules matched against every reading of the path. */
  segments: string[];
  /** As written, for public rules matched against the exact path only. */
  exactSegments: string[];
  trailingWildcard: boolean;
  decision: PolicyDecision;
  source: string;
}

export interface RoutePolicy {
  rules: CompiledRule[];
}

export type Result<T> = { ok: true; value: T } | { ok: false; reason: string };

const METHOD = /^[A-Z]+$/;
const PERMISSION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

function compileRule(input: PolicyRuleInput, index: number): Result<CompiledRule> {
  const where = `rule ${index + 1}`;
  if (typeof input !== "object" || input === null || typeof input.match !== "string") {
    return { ok: false, reason: `${where}: expected {"match": "METHOD /path", ...}` };
  }
  const parts = input.match.trim().split(/\s+/);
  if (parts.length !== 2) return { ok: false, reason: `${where}: "match" must be "METHODS /path"` };
  const [methodPart, pathPart] = parts as [string, string];
  if (!pathPart.startsWith("/")) return { ok: false, reason: `${where}: path must start with /` };
  let methods: CompiledRule["methods"];
  if (methodPart === "*") methods = "any";
  else {
    const list = methodPart.split(",").map((m) => m.toUpperCase());
    if (list.some((m) => !METHOD.test(m))) return { ok: false, reason: `${where}: bad method list ${methodPart}` };
    methods = new Set(list);
  }
  const isPublic = input.public === true;
  const permissions = input.permissions ?? [];
  if (!Array.isArray(permissions) || permissions.some((p) => typeof p !== "string" || !PERMISSION.test(p))) {
    return { ok: false, reason: `${where}: permissions must be strings like "inspections.view"` };
  }
  if (isPublic && permissions.length > 0) return { ok: false, reason: `${where}: a public rule cannot require permissions` };
  const exactSegments = pathPart.split("/").filter((seg) => seg.length > 0);
  // Requests are matched decoded and without `;params`, so such a pattern could never match.
  if (exactSegments.some((seg) => /[%;\\]/.test(seg) || seg === "." || seg === "..")) {
    return { ok: false, reason: `${where}: path segments must not contain %, ;, \\ or be . or ..` };
  }
  const trailingWildcard = exactSegments[exactSegments.length - 1] === "*";
  if (trailingWildcard) exactSegments.pop();
  const segments = exactSegments.map((seg) => seg.toLowerCase());
  const decision: PolicyDecision = isPublic
    ? { kind: "public" }
    : permissions.length > 0
      ? { kind: "permissions", required: Object.freeze([...new Set(permissions)].sort()) as string[] }
      : { kind: "authenticated" };
  // Returned as is by decide(): shared by every request, so nobody may change it.
  Object.freeze(decision);
  return { ok: true, value: { methods, segments, exactSegments, trailingWildcard, decision, source: input.match } };
}

export function parsePolicy(input: unknown): Result<RoutePolicy> {
  if (!Array.isArray(input)) return { ok: false, reason: "policy must be an array of rules" };
  const rules: CompiledRule[] = [];
  for (const [i, raw] of input.entries()) {
    const compiled = compileRule(raw as PolicyRuleInput, i);
    if (!compiled.ok) return compiled;
    rules.push(compiled.value);
  }
  return { ok: true, value: { rules } };
}

const MAX_DECODE_ROUNDS = 3;
const CONTROL = /[\x00-\x1f\x7f]/;

/** One reading of a path as an upstream might route it (see the module comment). */
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
  return { kind: "authenticated" };
}

/**
 * Decide what a request needs: the strictest decision over every reading of the path and every
 * method the upstream might act on (the request's own, plus any method override it carries).
 * Returns null when the path must be refused, which the proxy answers with 400 rather than guessing.
 */
export function decide(policy: RoutePolicy, method: string | readonly string[], pathname: string): PolicyDecision | null {
  const path = readRequestPath(pathname);
  if (path === null) return null;
  if (typeof method === "string" && path.readings.length === 1) return decideReading(policy, method.toUpperCase(), path.readings[0]!, path.exact);
  const methods = [...new Set((typeof method === "string" ? [method] : method).map((m) => m.toUpperCase()))];
  const decisions = methods.flatMap((m) => path.readings.map((reading) => decideReading(policy, m, reading, path.exact)));
  if (decisions.every((d) => d.kind === "public")) return { kind: "public" };
  const required = new Set(decisions.flatMap((d) => (d.kind === "permissions" ? d.required : [])));
  if (required.size > 0) return { kind: "permissions", required: [...required].sort() };
  return { kind: "authenticated" };
}

/** Permissions from `required` that `held` lacks, sorted. */
export function missingPermissions(required: string[], held: readonly string[]): string[] {
  // A rule names a permission or two: scanning the held list beats building a Set per request.
  return required.filter((p) => !held.includes(p));
}
