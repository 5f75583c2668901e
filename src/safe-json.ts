/**
 * Client JSON and object walks (SPEC §11): the keys `__proto__`, `constructor` and `prototype`
 * never reach code that walks or assigns object properties by a client-chosen name. One isolate
 * serves every tenant, so a write through `Object.prototype` would change how every other
 * organization's requests are handled.
 *
 * Three layers, each enough on its own for the cases it covers:
 * - refuse: bodies, SCIM PATCH paths and filter attributes naming such a key are a 400;
 * - copy: objects handed to a library that assigns by path are copies whose prototype is a
 *   frozen object of their own, so even a missed spelling has no shared prototype to reach;
 * - lookup: tables indexed by a client-chosen name use `Object.hasOwn`, never a bare `table[k]`.
 */

/** Property names that reach a prototype (compared case-insensitively: stricter than JS). */
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN.has(key.toLowerCase());
}

/**
 * Whether a SCIM attribute path (RFC 7644 §3.10) names a forbidden key in any segment:
 * `name.__proto__.x`, `__proto__`, `urn:…:User:constructor.prototype`, `emails[__proto__ eq 1]`.
 * Quoted comparison values (`members[value eq "constructor"]`) are data, not keys.
 */
export function pathHasForbiddenKey(path: string): boolean {
  const unquoted = path.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return unquoted.split(/[^A-Za-z0-9_$]+/).some((segment) => segment !== "" && isForbiddenKey(segment));
}

/** Whether `value` holds a forbidden key at any depth (own keys, as JSON.parse creates them). */
export function hasForbiddenKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object") return false;
  // JSON nested this deep is refused elsewhere; treat it as suspect rather than recurse forever.
  if (depth > 64) return true;
  if (Array.isArray(value)) return value.some((item) => hasForbiddenKey(item, depth + 1));
  for (const key of Object.keys(value)) {
    if (isForbiddenKey(key) || hasForbiddenKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/**
 * The prototype of `isolatedCopy`'s objects: frozen, with no `__proto__` accessor and no
 * `constructor`, so a walk through either finds nothing to write to. It keeps Object's own
 * `valueOf` and `toString`, which deep-equality checks (fast-deep-equal, in scim-patch) call.
 */
const ISOLATED_PROTOTYPE: object = Object.freeze(
  Object.create(null, {
    valueOf: { value: Object.prototype.valueOf },
    toString: { value: Object.prototype.toString },
  }),
);

/** A deep copy of JSON-like `value` whose objects inherit from nothing shared (arrays stay arrays). */
export function isolatedCopy<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => isolatedCopy(item)) as T;
  const copy = Object.create(ISOLATED_PROTOTYPE) as Record<string, unknown>;
  for (const key of Object.keys(value)) copy[key] = isolatedCopy((value as Record<string, unknown>)[key]);
  return copy as T;
}
