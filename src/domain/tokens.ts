/**
 * Token rules of the spec (SPEC §1): how many tokens may be active at once and the inactivity
 * windows after which an unused token expires.
 */
export const USER_TOKEN_INACTIVITY_DAYS = 30;
export const SERVICE_TOKEN_INACTIVITY_DAYS = [31, 45, 60, 180] as const;
export const DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS = 45;
export const USER_TOKEN_LIMIT = 10;
export const SERVICE_TOKEN_LIMIT = 20;
export const DAY_MS = 86_400_000;
