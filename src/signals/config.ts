/**
 * Settings of the lifecycle signals (SPEC §10), read from the Worker's vars. Kept apart from
 * the proxy's config because only the signals read them.
 */
import type { Env } from "../env";

export const GITHUB_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";

export interface SignalsConfig {
  allowInsecureWebhooks: boolean;
  /** How long a receiver has to answer (SPEC §10: 10 s). */
  webhookTimeoutMs: number;
  secretScanningKeysUrl: string;
}

export function signalsConfig(env: Env): SignalsConfig {
  const timeout = Number(env.WEBHOOK_TIMEOUT_MS ?? "");
  return {
    allowInsecureWebhooks: env.ALLOW_INSECURE_WEBHOOKS === "true",
    webhookTimeoutMs: Number.isInteger(timeout) && timeout > 0 && timeout <= 10_000 ? timeout : 10_000,
    secretScanningKeysUrl: env.SECRET_SCANNING_KEYS_URL || GITHUB_KEYS_URL,
  };
}
