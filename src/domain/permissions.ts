/**
 * The permission catalog: the platform permissions Portcullis itself checks (SPEC §4, §7), each
 * spelled once here. Upstream permissions (e.g. `inspections.view`) are free-form strings in
 * permission sets; the route policy names them.
 */
export const PERMISSION = {
  integrationsManage: "integrations.manage",
  users: "platform_management.users",
  groups: "platform_management.groups",
  sites: "platform_management.sites",
  permissions: "platform_management.permissions",
  auditLog: "platform_management.audit_log",
} as const;

export type PlatformPermission = (typeof PERMISSION)[keyof typeof PERMISSION];

/** Every platform permission, in catalog order (the bootstrap Administrator set holds them all). */
export const PLATFORM_PERMISSIONS: readonly PlatformPermission[] = Object.values(PERMISSION);

/**
 * Seeds: "If you're using a service user API token for SCIM provisioning, the service user must
 * have both [Users] and [Groups] platform management permissions."
 */
export const PROVISIONING_PERMISSIONS = [PERMISSION.users, PERMISSION.groups] as const;

/** A permission string: dotted lower-case words, e.g. "inspections.view". */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** The permissions of `required` that `held` lacks, in the order `required` lists them. */
export function missingPermissions(required: readonly string[], held: readonly string[]): readonly string[] {
  // Runs per proxied request; a rule or route names a permission or two, so scanning the held
  // list beats building a Set each time, and the usual answer (none) allocates nothing.
  let missing: string[] | null = null;
  for (const permission of required) if (!held.includes(permission)) (missing ??= []).push(permission);
  return missing ?? NONE_MISSING;
}

const NONE_MISSING: readonly string[] = Object.freeze([]);
