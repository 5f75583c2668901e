/**
 * Parses and validates the Worker's vars and secrets once per env object. A bad value fails
 * fast with a message naming the variable; it never silently falls back to something unsafe.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Env } from "./env";
import { DEMO_POLICY } from "./domain/demo-route-policy";
import { parsePolicy, type RoutePolicy } from "./domain/route-policy";

export interface Config {
  managementPrefix: string;
  upstreamUrl: URL | null;
  /** The `UPSTREAM` service binding (SPEC §3.2): when set, requests go through it, not UPSTREAM_URL. */
  upstreamBinding: Fetcher | null;
  upstreamTimeoutMs: number;
  dbTimeoutMs: number;
  authCacheTtlMs: number;
  activityRetentionDays: number;
  assertionIssuer: string;
  assertionAudience: string | null;
  assertionPrivateKey: JsonWebKey | null;
  assertionMode: AssertionMode;
  tokenPepper: string | undefined;
  /** SPEC §11: tried after tokenPepper; a token found under it is re-digested on use. */
  tokenPepperPrevious: string | undefined;
  /** SPEC §11: public keys of earlier assertion signing keys, served beside the current one. */
  assertionPreviousPublicKeys: JsonWebKey[];
  adminSecret: string | undefined;
  session: {
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
  };
  policy: RoutePolicy;
  /** Web console sign-in (SPEC §8); null when OIDC_ISSUER is unset (the console then says so). */
  oidc: { issuer: URL; clientId: string; clientSecret: string } | null;
}

/** How often X-Portcullis-Assertion is signed (SPEC §3.1). */
export type AssertionMode = "shared" | "request" | "off";
const ASSERTION_MODES: readonly AssertionMode[] = ["shared", "request", "off"];

export class ConfigError extends Error {
  constructor(message: string) {
    super(`portcullis configuration: ${message}`);
    this.name = "ConfigError";
  }
}

function integer(env: Env, name: keyof Env, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseUpstream(raw: string | undefined): URL | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`UPSTREAM_URL is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("UPSTREAM_URL must be http(s)");
  return url;
}

function parseAssertionMode(raw: string | undefined): AssertionMode {
  if (raw === undefined || raw === "") return "shared";
  if ((ASSERTION_MODES as readonly string[]).includes(raw)) return raw as AssertionMode;
  throw new ConfigError(`ASSERTION_MODE must be one of ${ASSERTION_MODES.join(", ")}, got ${JSON.stringify(raw)}`);
}

/** A service binding is an object with a fetch method; anything else under that name is a mistake. */
function parseUpstreamBinding(binding: unknown): Fetcher | null {
  if (binding === undefined || binding === null) return null;
  if (typeof (binding as { fetch?: unknown }).fetch !== "function") {
    throw new ConfigError("UPSTREAM must be a service binding (a var or secret of that name is not one)");
  }
  return binding as Fetcher;
}

function parsePrivateKey(raw: string | undefined): JsonWebKey | null {
  if (!raw) return null;
  let jwk: JsonWebKey;
  try {
    jwk = JSON.parse(raw) as JsonWebKey;
  } catch {
    throw new ConfigError("ASSERTION_PRIVATE_KEY must be a JSON Web Key (JSON)");
  }
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) {
    throw new ConfigError("ASSERTION_PRIVATE_KEY must be a P-256 (ES256) private JWK");
  }
  return jwk;
}

/** Members that make a JWK private (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * ASSERTION_PREVIOUS_PUBLIC_KEYS: a JWKS (`{"keys": [...]}`) of public keys only. A private
 * member is refused rather than stripped: it means the wrong value was pasted, and it would
 * otherwise be published.
 */
function parsePreviousPublicKeys(raw: string | undefined): JsonWebKey[] {
  if (!raw) return [];
  const name = "ASSERTION_PREVIOUS_PUBLIC_KEYS";
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} must be a JWKS (JSON)`);
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new ConfigError(`${name} must be a JWKS: {"keys": [...]}`);
  return keys.map((key, i) => {
    if (key === null || typeof key !== "object" || Array.isArray(key) || typeof (key as JsonWebKey).kty !== "string") {
      throw new ConfigError(`${name}: key ${i + 1} is not a JWK`);
    }
    if (PRIVATE_JWK_MEMBERS.some((member) => Object.hasOwn(key, member))) {
      throw new ConfigError(`${name}: key ${i + 1} holds private key material; give only public keys`);
    }
    return key as JsonWebKey;
  });
}

function parsePreviousPepper(env: Env): string | undefined {
  const previous = env.TOKEN_PEPPER_PREVIOUS || undefined;
  if (previous && !env.TOKEN_PEPPER) throw new ConfigError("TOKEN_PEPPER_PREVIOUS needs TOKEN_PEPPER (the pepper being rotated to)");
  if (previous && previous === env.TOKEN_PEPPER) throw new ConfigError("TOKEN_PEPPER_PREVIOUS equals TOKEN_PEPPER");
  return previous;
}

function parseOidc(env: Env): Config["oidc"] {
  if (!env.OIDC_ISSUER) return null;
  let issuer: URL;
  try {
    issuer = new URL(env.OIDC_ISSUER);
  } catch {
    throw new ConfigError(`OIDC_ISSUER is not a URL: ${JSON.stringify(env.OIDC_ISSUER)}`);
  }
  // Plain http only for an IdP on this machine (the local demo IdP); anything else is https.
  const local = issuer.hostname === "localhost" || issuer.hostname === "127.0.0.1" || issuer.hostname === "[::1]";
  if (issuer.protocol !== "https:" && !(issuer.protocol === "http:" && local)) {
    throw new ConfigError("OIDC_ISSUER must be https (http only for localhost)");
  }
  if (!env.OIDC_CLIENT_ID || !env.OIDC_CLIENT_SECRET) throw new ConfigError("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET");
  return { issuer, clientId: env.OIDC_CLIENT_ID, clientSecret: env.OIDC_CLIENT_SECRET };
}

function parseRoutePolicy(raw: string | undefined): RoutePolicy {
  if (!raw) return DEMO_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError("ROUTE_POLICY must be JSON");
  }
  const parsed = parsePolicy(json);
  if (!parsed.ok) throw new ConfigError(`ROUTE_POLICY: ${parsed.reason}`);
  return parsed.value;
}

export function parseConfig(env: Env): Config {
  const prefix = (env.MANAGEMENT_PREFIX || "/_portcullis/v1").replace(/\/+$/, "");
  if (!prefix.startsWith("/")) throw new ConfigError("MANAGEMENT_PREFIX must start with /");
  const upstreamUrl = parseUpstream(env.UPSTREAM_URL);
  return {
    managementPrefix: prefix,
    upstreamUrl,
    upstreamBinding: parseUpstreamBinding(env.UPSTREAM),
    upstreamTimeoutMs: integer(env, "UPSTREAM_TIMEOUT_MS", 30_000, 1, 600_000),
    dbTimeoutMs: integer(env, "DB_TIMEOUT_MS", 5_000, 1, 60_000),
    authCacheTtlMs: integer(env, "AUTH_CACHE_TTL_MS", 0, 0, 3_600_000),
    activityRetentionDays: integer(env, "ACTIVITY_RETENTION_DAYS", 400, 1, 36_500),
    assertionIssuer: env.ASSERTION_ISSUER || "portcullis",
    assertionAudience: env.ASSERTION_AUDIENCE || upstreamUrl?.origin || null,
    assertionPrivateKey: parsePrivateKey(env.ASSERTION_PRIVATE_KEY),
    assertionMode: parseAssertionMode(env.ASSERTION_MODE),
    tokenPepper: env.TOKEN_PEPPER || undefined,
    tokenPepperPrevious: parsePreviousPepper(env),
    assertionPreviousPublicKeys: parsePreviousPublicKeys(env.ASSERTION_PREVIOUS_PUBLIC_KEYS),
    adminSecret: env.ADMIN_SECRET || undefined,
    session: {
      secret: env.SESSION_SECRET || undefined,
      jwksUrl: env.SESSION_JWKS_URL || undefined,
      issuer: env.SESSION_ISSUER || undefined,
      audience: env.SESSION_AUDIENCE || undefined,
    },
    policy: parseRoutePolicy(env.ROUTE_POLICY),
    oidc: parseOidc(env),
  };
}

const cache = new WeakMap<Env, Config>();

/** The parsed config for this env object (parsed once per isolate in production). */
export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

/** Hono middleware: parse (once) and expose the config as `c.get("config")`. */
export function withConfig(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("config", getConfig(c.env));
    return next();
  };
}
