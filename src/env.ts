import type { Subject } from "./auth/subject";
import type { Config } from "./config";

/** Worker bindings, typed once (wrangler.toml [vars], secrets, D1 and rate-limit bindings). */
export interface Env {
  DB: D1Database;
  MANAGEMENT_PREFIX?: string;
  UPSTREAM_URL?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  DB_TIMEOUT_MS?: string;
  AUTH_CACHE_TTL_MS?: string;
  ACTIVITY_RETENTION_DAYS?: string;
  ASSERTION_ISSUER?: string;
  ASSERTION_AUDIENCE?: string;
  /** ES256 private key as a JWK (JSON string). Secret. */
  ASSERTION_PRIVATE_KEY?: string;
  TOKEN_PEPPER?: string;
  ADMIN_SECRET?: string;
  SESSION_SECRET?: string;
  SESSION_JWKS_URL?: string;
  SESSION_ISSUER?: string;
  SESSION_AUDIENCE?: string;
  /** Web console sign-in (SPEC §8): the deployment's OpenID provider and this client at it. */
  OIDC_ISSUER?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_CLIENT_SECRET?: string;
  /** Optional JSON route policy replacing the built-in demo policy. */
  ROUTE_POLICY?: string;
  AUTH_FAILURE_LIMITER?: RateLimit;
  LEAK_REPORT_LIMITER?: RateLimit;
}

/** Hono context variables set by middleware. */
export interface Variables {
  config: Config;
  subject: Subject;
}

export type AppEnv = { Bindings: Env; Variables: Variables };
