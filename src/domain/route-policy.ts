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
import { PERMISSION_PATTERN } from "./permissions";

export type PolicyDecision = { kind: "public" } | { kind: "permissions"; required: string[] } | { kind: "authenticated" };

export interface PolicyRuleInput {
  /** "GET /inspections/*", "POST,PUT /inspections/*" or "* /admin/*". */
  match: string;
  permissions?: string[];
  public?: boolean;
}

export interface CompiledRule {
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
  if (!Array.isArray(permissions) || permissions.some((p) => typeof p !== "string" || !PERMISSION_PATTERN.test(p))) {
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
