/**
 * Parses and validates the Worker's vars and secrets once per env object. A bad value fails
 * fast with a message naming the variable; it never silently falls back to something unsafe.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Env } from "./env";
import { parsePolicy, type RoutePolicy } from "./proxy/policy";
import { DEMO_POLICY } from "./proxy/demo-policy";

export interface Config {
  managementPrefix: string;
  upstreamUrl: URL | null;
  upstreamTimeoutMs: number;
  dbTimeoutMs: number;
  authCacheTtlMs: number;
  activityRetentionDays: number;
  assertionIssuer: string;
  assertionAudience: string | null;
  assertionPrivateKey: JsonWebKey | null;
  tokenPepper: string | undefined;
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
    upstreamTimeoutMs: integer(env, "UPSTREAM_TIMEOUT_MS", 30_000, 1, 600_000),
    dbTimeoutMs: integer(env, "DB_TIMEOUT_MS", 5_000, 1, 60_000),
    authCacheTtlMs: integer(env, "AUTH_CACHE_TTL_MS", 0, 0, 3_600_000),
    activityRetentionDays: integer(env, "ACTIVITY_RETENTION_DAYS", 400, 1, 36_500),
    assertionIssuer: env.ASSERTION_ISSUER || "portcullis",
    assertionAudience: env.ASSERTION_AUDIENCE || upstreamUrl?.origin || null,
    assertionPrivateKey: parsePrivateKey(env.ASSERTION_PRIVATE_KEY),
    tokenPepper: env.TOKEN_PEPPER || undefined,
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
