/**
 * One token row, one family of types. `ApiTokenRow` is the `api_tokens` row as drizzle infers
 * it from `schema.ts`; every other type that describes a token is a view of that row, picked
 * here, so renaming or retyping a column changes all of them at once:
 *
 * | view                                  | what of the row                                           | read by             |
 * | ------------------------------------- | --------------------------------------------------------- | ------------------- |
 * | `TokenRecord`                         | what management shows: no digests, CIDRs or subject copy  | management, signals |
 * | `ServiceTokenRecord`                  | + service user, permission sets, parsed CIDRs, roll grace | management          |
 * | `ServiceTokenEdit`                    | what an edit of a service token may change                | management          |
 * | `CreatedToken`, `CreatedServiceToken` | a record + its secret, shown once (SPEC §1)               | the create routes   |
 * | `ResolvedToken`                       | the proxy's one indexed read: token + parsed subject copy | auth/, proxy/       |
 *
 * The views pick columns rather than omit them, so a column added to the table reaches none of
 * them until one asks for it; no view holds a digest, which never leaves db/. The SELECTs that
 * fill the picked views name their columns with `tokenColumns`, from the same list of fields as
 * the type, so statement and type cannot drift apart. The proxy's `RESOLVE_TOKEN_SQL`
 * (db/auth.ts) stays a fixed string on the hot path; its row type takes each field's type
 * from `ResolvedToken`.
 */
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import type { Subject } from "../domain/subject";
import { apiTokens, type ApiTokenRow, type ServiceUserRow } from "./schema";

export type { ApiTokenRow };

type TokenField = keyof ApiTokenRow;

/** The view of the row that `fields` pick. */
export type TokenFields<F extends readonly TokenField[]> = Pick<ApiTokenRow, F[number]>;

/**
 * The select list `[alias.]column AS field, …` whose rows are `TokenFields<typeof fields>`:
 * the SQL column names come from the schema, the result names are the row type's keys.
 */
export function tokenColumns(fields: readonly TokenField[], alias?: string): SQL {
  const columns = getTableColumns(apiTokens);
  const prefix = alias === undefined ? "" : `${alias}.`;
  return sql.raw(fields.map((field) => `${prefix}${columns[field].name} AS ${field}`).join(", "));
}

/** The bare column names of `fields`, e.g. for an INSERT's column list. */
export function tokenColumnNames(fields: readonly TokenField[]): SQL {
  const columns = getTableColumns(apiTokens);
  return sql.raw(fields.map((field) => columns[field].name).join(", "));
}

// ---------------------------------------------------------------------------------------------
// Management's views

const TOKEN_RECORD_FIELDS = [
  "id",
  "orgId",
  "kind",
  "userId",
  "serviceUserId",
  "name",
  "hint",
  "status",
  "inactivityDays",
  "createdAt",
  "updatedAt",
  "lastUsedAt",
  "lastActiveAt",
  "expiresAt",
  "revokedAt",
  "expiredAt",
  "deletedAt",
] as const satisfies readonly TokenField[];

/**
 * A token row as management reads it: everything but the digests, which never leave the db
 * layer, the address rule and roll deadline (service tokens only, below), and the trigger-kept
 * copy of its subject, which only the proxy's read uses.
 */
export type TokenRecord = TokenFields<typeof TOKEN_RECORD_FIELDS>;

/** The select list of a `TokenRecord` from `api_tokens` under `alias`. */
export function tokenRecordColumns(alias: string): SQL {
  return tokenColumns(TOKEN_RECORD_FIELDS, alias);
}

/** A service token as management reads it: its record, its service user and what only service tokens have. */
export interface ServiceTokenRecord extends TokenRecord, Pick<ApiTokenRow, "previousExpiresAt"> {
  serviceUserId: NonNullable<ApiTokenRow["serviceUserId"]>;
  serviceUserName: ServiceUserRow["name"];
  /** Sorted ids of the service user's permission sets. */
  permissionSetIds: string[];
  /** Normalised CIDRs the token may be used from; empty for any address (SPEC §9). `allowed_cidrs` parsed. */
  allowedCidrs: string[];
}

/**
 * What an edit of a service token may change; an absent field stays as it is. `allowedCidrs`
 * is normalised (auth/cidr.ts), and `[]` lifts the restriction.
 */
export type ServiceTokenEdit = Partial<Pick<ServiceTokenRecord, "name" | "inactivityDays" | "permissionSetIds" | "allowedCidrs">>;

/** A token just created, with its secret: the one response that shows it (SPEC §1). */
export type CreatedToken = TokenRecord & { secret: string };
/** A service token just created, with its secret (SPEC §1). */
export type CreatedServiceToken = ServiceTokenRecord & { secret: string };

// ---------------------------------------------------------------------------------------------
// The proxy's view

/** What the subject copy's JSON arrays hold once parsed: the subject's permissions, groups and sites. */
export type SubjectLists = Pick<Subject, "permissions" | "groups" | "sites">;

/** The same lists as a statement returns them: JSON arrays, parsed by `sortedList`. */
export type StoredSubjectLists = Record<keyof SubjectLists, string | null>;

/**
 * A token as the proxy's one indexed read returns it (db/auth.ts, SPEC §3.2): the columns that
 * decide whether it works, and the trigger-kept copy of its subject, parsed. Some fields are
 * renamed for the subject they sit beside (`tokenId`, `tokenName`); each still takes its type
 * from its column.
 */
export interface ResolvedToken
  extends Pick<ApiTokenRow, "orgId" | "kind" | "status" | "inactivityDays" | "expiresAt" | "lastUsedAt" | "allowedCidrs">,
    SubjectLists {
  tokenId: ApiTokenRow["id"];
  tokenName: ApiTokenRow["name"];
  /** When the token was marked expired (earlier than expiresAt when its member was deactivated). */
  expiredAt: ApiTokenRow["expiredAt"];
  /** `user_id` or `service_user_id`, whichever the kind sets. */
  subjectId: NonNullable<ApiTokenRow["userId"] | ApiTokenRow["serviceUserId"]>;
  /** The subject copy's name; the triggers always set it. */
  subjectName: NonNullable<ApiTokenRow["subjectName"]>;
  /** Membership status for user tokens; null for service users (they have no membership). */
  userStatus: ApiTokenRow["subjectStatus"];
  /**
   * Set when the credential was the previous secret of a rolled token: it works until this
   * moment (SPEC §9). Null for the current secret.
   */
  previousExpiresAt: ApiTokenRow["previousExpiresAt"];
}

// ---------------------------------------------------------------------------------------------
// Stored forms of the row's JSON columns

/** The stored form of `allowed_cidrs`: null for any address, so the proxy's check is one comparison. */
export function storedCidrs(cidrs: readonly string[]): string | null {
  return cidrs.length === 0 ? null : JSON.stringify(cidrs);
}

export function parsedCidrs(stored: string | null): string[] {
  return stored ? (JSON.parse(stored) as string[]) : [];
}

/** A `json_group_array` of ids or permissions, sorted, without the null an empty join yields. */
export function sortedList(json: string | null): string[] {
  if (!json) return [];
  return (JSON.parse(json) as (string | null)[]).filter((v): v is string => typeof v === "string").sort();
}
