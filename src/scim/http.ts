/**
 * What every SCIM handler shares: who may call (the seeds' rule), reading `application/scim+json`
 * bodies, list paging (RFC 7644 §3.4.2.4), absolute resource URLs, and D1 access through `guard`.
 */
import type { Context } from "hono";
import { orm, type Orm } from "../db/client";
import { PROVISIONING_PERMISSIONS } from "../domain/permissions";
import type { AppEnv } from "../env";
import { hasForbiddenKey } from "../safe-json";
import type { Need } from "../http/authorize";
import { scimError, SCIM_CONTENT_TYPE } from "./errors";

export type ScimContext = Context<AppEnv>;

/** Most resources one list response returns (advertised in ServiceProviderConfig). */
export const MAX_RESULTS = 200;
const DEFAULT_COUNT = 100;

/**
 * Who may provision (the seeds' rule, domain/permissions.ts). A user token or a session is
 * refused even with those permissions: provisioning belongs to an integration, not a person.
 */
export const PROVISIONER: Need = {
  permissions: PROVISIONING_PERMISSIONS,
  caller: {
    type: "service_user",
    credential: "api_token",
    refused: () => scimError("forbidden", "SCIM provisioning needs a service user API token; user tokens and sessions cannot provision."),
  },
  denied: (missing) =>
    scimError("forbidden", `SCIM provisioning needs a service user holding ${PROVISIONING_PERMISSIONS.join(" and ")}; missing ${missing.join(", ")}.`),
};

export function scimJson(body: unknown, status: 200 | 201 = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": SCIM_CONTENT_TYPE, ...headers } });
}

/**
 * The request body as a JSON object; anything else is 400 invalidSyntax, and so is a body
 * holding a `__proto__`, `constructor` or `prototype` key at any depth (SPEC §11).
 */
export async function readObject(c: ScimContext): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw scimError("invalid_request", "The request body is not valid JSON.", "invalidSyntax");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw scimError("invalid_request", "The request body must be a JSON object.", "invalidSyntax");
  }
  if (hasForbiddenKey(body)) throw scimError("invalid_request", "The request body holds a reserved key (__proto__, constructor or prototype).", "invalidSyntax");
  return body as Record<string, unknown>;
}

/** Absolute URL of /scim/v2 on this deployment, for `meta.location` and `$ref`. */
export function scimBase(c: ScimContext): string {
  return `${new URL(c.req.url).origin}${c.get("config").managementPrefix}/scim/v2`;
}

function intParam(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw scimError("invalid_request", `Expected an integer, got ${JSON.stringify(raw.slice(0, 20))}.`, "invalidValue");
  return n;
}

/** `startIndex` (1-based; below 1 means 1) and `count` (negative means 0; capped at MAX_RESULTS), RFC 7644 §3.4.2.4. */
export function listWindow(c: ScimContext): { startIndex: number; offset: number; count: number } {
  const startIndex = Math.max(1, intParam(c.req.query("startIndex"), 1));
  const count = Math.min(MAX_RESULTS, Math.max(0, intParam(c.req.query("count"), DEFAULT_COUNT)));
  return { startIndex, offset: startIndex - 1, count };
}

/** Whether `attribute` is left out by `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5). */
export function leftOut(c: ScimContext, attribute: string): boolean {
  const list = (name: string) =>
    (c.req.query(name) ?? "")
      .split(",")
      .map((a) => a.trim().toLowerCase().replace(/^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/, ""))
      .filter(Boolean);
  const wanted = list("attributes");
  if (wanted.length > 0 && !wanted.some((a) => a === attribute.toLowerCase() || a.startsWith(`${attribute.toLowerCase()}.`))) return true;
  return list("excludedAttributes").includes(attribute.toLowerCase());
}

export function db(c: ScimContext): Orm {
  return orm(c.env.DB);
}

export { read, write } from "../http/storage";
