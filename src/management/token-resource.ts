/**
 * The token resources of the management API (SPEC §4): zod schemas (which also produce the
 * OpenAPI document) and the serializers from db records. The secret appears only in the
 * `New…` schemas, used by the create and regenerate responses; lists and views never carry it.
 */
import { z } from "@hono/zod-openapi";
import type { ServiceTokenRecord, TokenRecord } from "../db/token-row";
import { MAX_ALLOWED_CIDRS, normaliseCidr } from "../auth/cidr";
import { DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS, effectiveStatus, SERVICE_TOKEN_INACTIVITY_DAYS } from "../domain/tokens";
import { iso, NameSchema } from "./common";

export const TokenStatusSchema = z.enum(["active", "revoked", "expired"]).openapi("TokenStatus");

const tokenFields = {
  id: z.string().openapi({ example: "tok_01JD2Y3Z4A5B6C7D8E9F0G1H2J" }),
  name: z.string().openapi({ example: "Warehouse sync" }),
  hint: z.string().openapi({ example: "pcs_…a1B2", description: "Prefix and last four characters of the secret." }),
  status: TokenStatusSchema,
  created_at: z.string().openapi({ format: "date-time" }),
  last_used_at: z.string().nullable().openapi({ format: "date-time", description: "Null until the token is used." }),
  expires_at: z.string().nullable().openapi({
    format: "date-time",
    description: "Active: the idle deadline if unused from now on. Expired: when it expired. Revoked: null.",
  }),
};

const secretField = {
  token: z.string().openapi({ description: "The secret. Shown once, in this response only; store it safely." }),
};

export const UserApiTokenSchema = z.object(tokenFields).openapi("UserApiToken");
export const NewUserApiTokenSchema = z.object({ ...tokenFields, ...secretField }).openapi("NewUserApiToken");
export const UserApiTokenListSchema = z
  .object({ data: z.array(UserApiTokenSchema), next_cursor: z.string().nullable() })
  .openapi("UserApiTokenList");

const WINDOWS: readonly number[] = SERVICE_TOKEN_INACTIVITY_DAYS;

export const InactivityDaysSchema = z
  .number()
  .int()
  .refine((days) => WINDOWS.includes(days), { message: `must be one of ${WINDOWS.join(", ")}` })
  .openapi({
    enum: [...WINDOWS],
    description: `Days without use before the token expires: ${WINDOWS.join(", ")}.`,
    example: DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS,
  });

export const PermissionSetIdsSchema = z.array(z.string().min(1).max(100)).max(100);

/**
 * `allowed_cidrs` as sent (SPEC §9): at most 32 IPv4 or IPv6 CIDRs or bare addresses. Each
 * entry must parse here, so a bad one is a 400 naming its index; the handler stores the
 * normalised form (`normaliseCidrs`).
 */
export const AllowedCidrsInput = z
  .array(z.string().max(100))
  .max(MAX_ALLOWED_CIDRS)
  .superRefine((list, ctx) => {
    for (const [index, entry] of list.entries()) {
      const result = normaliseCidr(entry);
      if (!result.ok) ctx.addIssue({ code: "custom", path: [index], message: result.reason });
    }
  })
  .openapi({
    description:
      `Client addresses the token may be used from: at most ${MAX_ALLOWED_CIDRS} IPv4 or IPv6 CIDRs (a bare address is a /32 or /128). ` +
      "`[]` or absent: any address. Matched against `CF-Connecting-IP`; an IPv4-mapped IPv6 client address is matched as IPv4.",
    example: ["203.0.113.0/24", "2001:db8::/32"],
  });

const serviceTokenFields = {
  ...tokenFields,
  inactivity_days: z.number().int().openapi({ example: 45 }),
  permission_set_ids: z.array(z.string()),
  service_user: z.object({ id: z.string(), name: z.string() }),
  allowed_cidrs: z.array(z.string()).openapi({
    description:
      "Normalised CIDRs the token may be used from (host bits cleared, IPv6 as RFC 5952 writes it); `[]` when unrestricted. " +
      "A request from elsewhere is refused with 403 `ip_not_allowed`.",
    example: ["203.0.113.0/24"],
  }),
};

export const ServiceTokenSchema = z.object(serviceTokenFields).openapi("ServiceToken");
export const NewServiceTokenSchema = z.object({ ...serviceTokenFields, ...secretField }).openapi("NewServiceToken");
export const RolledServiceTokenSchema = z
  .object({
    ...serviceTokenFields,
    ...secretField,
    previous_expires_at: z.string().openapi({
      format: "date-time",
      description: "Until when the secret this roll replaced keeps working, as the same token.",
    }),
  })
  .openapi("RolledServiceToken");

/** SPEC §9: 0 to 7 days, default one day. */
export const MAX_GRACE_SECONDS = 604_800;
export const DEFAULT_GRACE_SECONDS = 86_400;

export const RollServiceTokenBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS)
      .optional()
      .openapi({
        description: `How long the previous secret keeps working: 0–${MAX_GRACE_SECONDS} seconds (7 days), default ${DEFAULT_GRACE_SECONDS} (1 day).`,
        example: DEFAULT_GRACE_SECONDS,
      }),
  })
  .strict()
  .openapi("RollServiceToken");

export const ServiceTokenListSchema = z
  .object({ data: z.array(ServiceTokenSchema), next_cursor: z.string().nullable() })
  .openapi("ServiceTokenList");

export const CreateUserApiTokenBody = z.object({ name: NameSchema }).strict().openapi("CreateUserApiToken");

export const CreateServiceTokenBody = z
  .object({
    name: NameSchema,
    inactivity_days: InactivityDaysSchema.optional(),
    permission_set_ids: PermissionSetIdsSchema.optional().openapi({
      description: "Permission sets of the service user. Omitted: all of the organization's sets.",
    }),
    allowed_cidrs: AllowedCidrsInput.optional(),
  })
  .strict()
  .openapi("CreateServiceToken");

export const EditServiceTokenBody = z
  .object({
    name: NameSchema.optional(),
    inactivity_days: InactivityDaysSchema.optional(),
    permission_set_ids: PermissionSetIdsSchema.optional().openapi({ description: "Replaces the service user's permission sets." }),
    allowed_cidrs: AllowedCidrsInput.optional(),
  })
  .strict()
  .refine(
    (b) => b.name !== undefined || b.inactivity_days !== undefined || b.permission_set_ids !== undefined || b.allowed_cidrs !== undefined,
    { message: "give at least one of name, inactivity_days, permission_set_ids, allowed_cidrs" },
  )
  .openapi("EditServiceToken", { minProperties: 1 });

/** What a caller sees: an active row idle past its deadline is already expired (SPEC §1). */
export function displayStatus(token: TokenRecord, now: number): z.infer<typeof TokenStatusSchema> {
  const status = effectiveStatus(token, now);
  if (status === "deleted") throw new Error("deleted tokens are never serialized");
  return status;
}

/**
 * Active: the idle deadline. Expired: the moment it stopped working, which is the idle deadline
 * or, for a token ended early (its member deactivated), the time it was ended. Revoked: null.
 */
function displayExpiresAt(token: TokenRecord, status: z.infer<typeof TokenStatusSchema>): string | null {
  if (status === "revoked") return null;
  if (status === "expired" && token.expiredAt !== null) return iso(Math.min(token.expiredAt, token.expiresAt));
  return iso(token.expiresAt);
}

export function userApiTokenResource(token: TokenRecord, now: number): z.infer<typeof UserApiTokenSchema> {
  const status = displayStatus(token, now);
  return {
    id: token.id,
    name: token.name,
    hint: token.hint,
    status,
    created_at: iso(token.createdAt)!,
    last_used_at: iso(token.lastUsedAt),
    expires_at: displayExpiresAt(token, status),
  };
}

export function serviceTokenResource(token: ServiceTokenRecord, now: number): z.infer<typeof ServiceTokenSchema> {
  return {
    ...userApiTokenResource(token, now),
    inactivity_days: token.inactivityDays,
    permission_set_ids: token.permissionSetIds,
    service_user: { id: token.serviceUserId, name: token.serviceUserName },
    allowed_cidrs: token.allowedCidrs,
  };
}
