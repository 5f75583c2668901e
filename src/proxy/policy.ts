/**
 * Route policy (SPEC §3.3): an ordered list of rules `METHODS PATH-PATTERN → permissions | public`.
 * The first rule whose method and pattern match decides; a request no rule matches needs an
 * authenticated subject and no specific permission.
 *
 * Patterns are matched segment by segment: a literal segment matches itself, `:name` or `*`
 * matches exactly one segment, and a trailing `*` matches zero or more segments (so
 * `/inspections/*` covers `/inspections` and everything below it).
 *
 * Matching runs on a canonical path: percent-decoded, repeated slashes collapsed, compared
 * case-insensitively. A rule therefore covers every spelling an upstream might treat as the
 * same resource (`/Inspections//1`, `/inspections%2F1`), never fewer.
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
  segments: string[];
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
  const segments = canonicalSegments(pathPart);
  const trailingWildcard = segments[segments.length - 1] === "*";
  if (trailingWildcard) segments.pop();
  const decision: PolicyDecision = isPublic
    ? { kind: "public" }
    : permissions.length > 0
      ? { kind: "permissions", required: [...new Set(permissions)].sort() }
      : { kind: "authenticated" };
  return { ok: true, value: { methods, segments, trailingWildcard, decision, source: input.match } };
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

/** Canonical path segments for matching. */
export function canonicalSegments(path: string): string[] {
  return path
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => s.toLowerCase());
}

function canonicalRequestSegments(pathname: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  return canonicalSegments(decoded.replace(/\\/g, "/"));
}

function segmentsMatch(rule: CompiledRule, path: string[]): boolean {
  if (rule.trailingWildcard ? path.length < rule.segments.length : path.length !== rule.segments.length) return false;
  return rule.segments.every((seg, i) => seg === "*" || seg.startsWith(":") || seg === path[i]);
}

/**
 * Decide what a request needs. Returns null when the path is not decodable, which the
 * proxy answers with 400 rather than guessing.
 */
export function decide(policy: RoutePolicy, method: string, pathname: string): PolicyDecision | null {
  const path = canonicalRequestSegments(pathname);
  if (path === null) return null;
  const upper = method.toUpperCase();
  for (const rule of policy.rules) {
    // HEAD reads what GET reads, so a GET rule governs it too.
    if (rule.methods !== "any" && !rule.methods.has(upper) && !(upper === "HEAD" && rule.methods.has("GET"))) continue;
    if (segmentsMatch(rule, path)) return rule.decision;
  }
  return { kind: "authenticated" };
}

/** Permissions from `required` that `held` lacks, sorted. */
export function missingPermissions(required: string[], held: readonly string[]): string[] {
  const have = new Set(held);
  return required.filter((p) => !have.has(p));
}
