/**
 * The permission catalog: the platform permissions Portcullis itself checks (SPEC §4, §7).
 * Upstream permissions (e.g. `inspections.view`) are free-form strings in permission sets.
 */
export const PLATFORM_PERMISSIONS = [
  "integrations.manage",
  "platform_management.users",
  "platform_management.groups",
  "platform_management.sites",
  "platform_management.permissions",
  "platform_management.audit_log",
] as const;

export type PlatformPermission = (typeof PLATFORM_PERMISSIONS)[number];

/** A permission string: dotted lower-case words, e.g. "inspections.view". */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export const USER_TOKEN_INACTIVITY_DAYS = 30;
export const SERVICE_TOKEN_INACTIVITY_DAYS = [31, 45, 60, 180] as const;
export const DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS = 45;
export const USER_TOKEN_LIMIT = 10;
export const SERVICE_TOKEN_LIMIT = 20;
export const DAY_MS = 86_400_000;
