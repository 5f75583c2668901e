/** SCIM test helpers: a provisioning token (the seeds' rule) and requests as IdPs send them. */
import { env } from "cloudflare:workers";
import { seedPermissionSet, seedServiceToken } from "../helpers/seed";
import { bearer, call, PREFIX } from "../helpers/worker";

export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/** A service user token holding platform_management.users and .groups, as an IdP is given. */
export async function provisioner(orgId: string, permissions = ["platform_management.users", "platform_management.groups"]) {
  const setId = await seedPermissionSet(orgId, permissions, "SCIM");
  return seedServiceToken(orgId, { name: "Okta provisioning", permissionSetIds: [setId] });
}

export function scim(method: string, path: string, credential: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const auth = credential ? bearer(credential) : {};
  return call(`${PREFIX}/scim/v2${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/scim+json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A PATCH request body (RFC 7644 §3.5.2) holding `Operations`. */
export const patch = (Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

export async function scimBody<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function groupMemberIds(groupId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT user_id FROM user_groups WHERE group_id = ?1 ORDER BY user_id").bind(groupId).all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

export function uniqueEmail(name = "dana"): string {
  return `${name}.${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/**
 * env.DB, recording the SQL of every statement of every batch, to tell how many D1 batches a
 * request wrote and what each held (statements are unwrapped before they reach the real batch).
 */
export function recordingDb(): { db: D1Database; batches: string[][] } {
  const real = env.DB;
  const batches: string[][] = [];
  const SQL_TEXT = Symbol("sql");
  const TARGET = Symbol("target");
  const track = (stmt: D1PreparedStatement, text: string): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === TARGET) return target;
        if (prop === SQL_TEXT) return text;
        if (prop === "bind") return (...args: unknown[]) => track(target.bind(...args), text);
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const field = (stmt: D1PreparedStatement, key: symbol) => (stmt as unknown as Record<symbol, unknown>)[key];
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === "prepare") return (text: string) => track(target.prepare(text), text);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          batches.push(statements.map((s) => String(field(s, SQL_TEXT))));
          return target.batch(statements.map((s) => (field(s, TARGET) ?? s) as D1PreparedStatement));
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, batches };
}
