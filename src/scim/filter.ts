/**
 * SCIM filters (RFC 7644 §3.4.2.2), parsed by scim2-parse-filter. What provisioning clients send
 * to find a resource before creating it — `userName eq "…"` (Okta, Entra), `displayName eq "…"`
 * for groups, `id eq "…"` — is answered from an index-backed query; any other filter is a 400
 * invalidFilter, never a silent "no results" that would make an IdP create a duplicate.
 */
import { parse, type Filter } from "scim2-parse-filter";
import type { GroupFilter, MemberFilter } from "../db/directory";
import { pathHasForbiddenKey } from "../safe-json";
import { scimError } from "./errors";

const CORE_URN = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i;

/** Attribute names are case-insensitive (RFC 7643 §2.1); a core schema URN prefix may be given. */
function attribute(path: string): string {
  return path.replace(CORE_URN, "").toLowerCase();
}

function invalid(detail: string) {
  return scimError("invalid_request", detail, "invalidFilter");
}

/** Parses `raw` into one `attribute eq "string"` comparison, mapped to a column by `columns`. */
function equality<K extends string>(raw: string | undefined, columns: Record<string, K>, supported: string): { by: K; value: string } | null {
  if (raw === undefined || raw.trim() === "") return null;
  let filter: Filter;
  try {
    filter = parse(raw);
  } catch {
    throw invalid(`The filter ${JSON.stringify(raw.slice(0, 200))} is not a valid SCIM filter.`);
  }
  // emails[value eq "…"] is the same question as emails.value eq "…".
  if (filter.op === "[]" && filter.valFilter.op === "eq") {
    filter = { ...filter.valFilter, attrPath: `${filter.attrPath}.${filter.valFilter.attrPath}` };
  }
  if (filter.op !== "eq") throw invalid(`Only equality filters are supported here: ${supported}.`);
  // An own-property lookup: `constructor` or `__proto__` must not find Object.prototype's (SPEC §11).
  const name = attribute(filter.attrPath);
  const column = Object.hasOwn(columns, name) && !pathHasForbiddenKey(name) ? columns[name] : undefined;
  if (!column) throw invalid(`Filtering on ${JSON.stringify(filter.attrPath)} is not supported; use ${supported}.`);
  if (typeof filter.compValue !== "string") throw invalid(`${filter.attrPath} is compared with a string.`);
  return { by: column, value: filter.compValue };
}

export function memberFilter(raw: string | undefined): MemberFilter {
  return equality(raw, { username: "email", "emails.value": "email", emails: "email", id: "id" }, 'userName eq "…" or id eq "…"');
}

export function groupFilter(raw: string | undefined): GroupFilter {
  return equality(raw, { displayname: "name", id: "id" }, 'displayName eq "…" or id eq "…"');
}
