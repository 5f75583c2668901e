/**
 * Shared pieces of the proxy and hardening tests: a fake rate limiter that counts, seeded
 * callers, and direct D1 edits that move a token through time or state without waiting.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { DAY_MS } from "../../src/domain/tokens";
import { call, type CallOptions } from "../helpers/worker";
import { seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken } from "../helpers/seed";

/** A limiter that never limits, and one that counts the keys it was asked about. */
export function fakeLimiter(allow: (key: string, count: number) => boolean = () => true) {
  const counts = new Map<string, number>();
  const limiter: RateLimit = {
    async limit({ key }) {
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return { success: allow(key, count) };
    },
  };
  return { limiter, counts };
}

/** A proxied request: the real AUTH_FAILURE_LIMITER, with a client address of its own (see `call`), unless the test gives its own. */
export function send(path: string, options: CallOptions = {}): Promise<Response> {
  return call(path, options);
}

export { errorOf, type ErrorBody } from "../helpers/errors";

/** A member with `inspections.view`, two groups and two sites, and their user token. */
export async function seedInspector(permissions: string[] = ["inspections.view"]) {
  const org = await seedOrg();
  const setId = await seedPermissionSet(org.orgId, permissions, "Inspectors");
  const user = await seedUser(org.orgId, {
    name: "Dana Inspector",
    permissionSetIds: [setId],
    groupNames: ["North", "South"],
    siteNames: ["Depot 7", "Depot 9"],
  });
  const token = await seedUserToken(org.orgId, user.id);
  return { org, setId, user, token };
}

/** A service user token holding `permissions`. */
export async function seedIntegration(permissions: string[] = ["inspections.view"], inactivityDays = 45) {
  const org = await seedOrg();
  const setId = await seedPermissionSet(org.orgId, permissions, "Sync");
  const token = await seedServiceToken(org.orgId, { name: "Warehouse sync", permissionSetIds: [setId], inactivityDays });
  return { org, setId, token };
}

/** Restart a token's inactivity clock at `lastActiveAt` (as a recorded use would). */
export async function setLastActive(tokenId: string, lastActiveAt: number, inactivityDays: number): Promise<void> {
  await env.DB.prepare("UPDATE api_tokens SET last_active_at = ?1, expires_at = ?2 WHERE id = ?3")
    .bind(lastActiveAt, lastActiveAt + inactivityDays * DAY_MS, tokenId)
    .run();
}

export async function setTokenStatus(tokenId: string, status: "active" | "revoked" | "expired" | "deleted"): Promise<void> {
  const now = Date.now();
  const column = { active: null, revoked: "revoked_at", expired: "expired_at", deleted: "deleted_at" }[status];
  await env.DB.prepare(`UPDATE api_tokens SET status = ?1, updated_at = ?2${column ? `, ${column} = ?2` : ""} WHERE id = ?3`)
    .bind(status, now, tokenId)
    .run();
}

export async function tokenRow(tokenId: string) {
  return env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?1").bind(tokenId).first<{
    status: string;
    last_used_at: number | null;
    last_active_at: number;
    expires_at: number;
    expired_at: number | null;
  }>();
}

/**
 * D1 that answers reads but fails every write (an UPDATE/INSERT/DELETE statement or a batch),
 * counting the writes attempted.
 */
export function writeFailingDb(message = "D1_ERROR: Network connection lost.") {
  const counts = { writes: 0 };
  const isWrite = (sql: string) => /^\s*(update|insert|delete)/i.test(sql);
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const real = target.prepare(sql);
          if (!isWrite(sql)) return real;
          const failing = {
            bind: () => failing,
            run: () => {
              counts.writes++;
              return Promise.reject(new Error(message));
            },
            first: () => Promise.reject(new Error(message)),
            all: () => Promise.reject(new Error(message)),
            raw: () => Promise.reject(new Error(message)),
          };
          return failing;
        };
      }
      if (prop === "batch") {
        return () => {
          counts.writes++;
          return Promise.reject(new Error(message));
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, counts };
}
