import type { Subject } from "./domain/subject";
import type { Config } from "./config";

/** Worker bindings, typed once (wrangler.toml [vars], secrets, D1 and rate-limit bindings). */
export interface Env {
  DB: D1Database;
  MANAGEMENT_PREFIX?: string;
  UPSTREAM_URL?: string;
  /** Optional service binding to the upstream Worker (SPEC §3.2); wins over UPSTREAM_URL. */
  UPSTREAM?: Fetcher;
  UPSTREAM_TIMEOUT_MS?: string;
  DB_TIMEOUT_MS?: string;
  AUTH_CACHE_TTL_MS?: string;
  ACTIVITY_RETENTION_DAYS?: string;
  ASSERTION_ISSUER?: string;
  ASSERTION_AUDIENCE?: string;
  /** `shared` (default), `request` or `off` (SPEC §3.1). */
  ASSERTION_MODE?: string;
  /** ES256 private key as a JWK (JSON string). Secret. */
  ASSERTION_PRIVATE_KEY?: string;
  TOKEN_PEPPER?: string;
  /** The pepper before the current one, during a rotation (SPEC §11). Secret. */
  TOKEN_PEPPER_PREVIOUS?: string;
  /** JWKS of earlier assertion public keys, served beside the current one (SPEC §11). */
  ASSERTION_PREVIOUS_PUBLIC_KEYS?: string;
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
  /** Lifecycle signals (SPEC §10): webhook deliveries go through this queue. */
  WEBHOOK_QUEUE?: Queue<WebhookMessage>;
  /** "true" lets webhooks target http://localhost and http://127.0.0.1 (local development only). */
  ALLOW_INSECURE_WEBHOOKS?: string;
  /** Receiver timeout in ms, at most (and by default) 10000; tests shorten it. */
  WEBHOOK_TIMEOUT_MS?: string;
  /** Where GitHub publishes its secret scanning keys (default: GitHub's public-key endpoint). */
  SECRET_SCANNING_KEYS_URL?: string;
}

/** A queue message: which delivery to attempt. The delivery's state lives in D1. */
export interface WebhookMessage {
  delivery_id: string;
}

/** Hono context variables set by middleware. */
export interface Variables {
  config: Config;
  subject: Subject;
  /** Set by a route that answered without changing anything: no webhook dispatch afterwards. */
  unchanged?: boolean;
}

export type AppEnv = { Bindings: Env; Variables: Variables };
