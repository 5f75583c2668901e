/**
 * The per-request D1 budget (SPEC §5, issue 5): a proxied request costs exactly one indexed D1
 * read and never waits for a write; last use is written at most once per token per 60 s; a
 * malformed token costs no D1 at all. Counted on the D1 binding itself, not timed.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { clearAuthCache } from "../../src/auth/cache";
import { clearLastUseMarks } from "../../src/auth/last-use";
import { RESOLVE_TOKEN_SQL } from "../../src/db/auth";
import { createServiceToken } from "../../src/db/tokens";
import { db, seedIntegration, seedOrg, seedPermissionSet, seedUser, seedUserToken } from "../helpers/seed";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { countingDb, openLimiter } from "../helpers/bindings";
import { tokenRow } from "../helpers/records";
import { rollAt, setLastUsed } from "../helpers/token-state";

interface Recorded {
  sql: string;
  method: "first" | "all" | "run" | "raw" | "batch";
  settled: boolean;
}

/** A statement (or batch) that changes data; a batch counts as one write call. */
const isWrite = (sql: string) => sql.split(";\n").some((part) => /^\s*(insert|update|delete|replace)\b/i.test(part));

/**
 * A D1 binding that records every statement it executes and whether the execution has settled.
 * With `holdWrites`, writes never complete, so a response that arrives proves it did not wait.
 */
function recordingDb(options: { holdWrites?: boolean } = {}) {
  const executed: Recorded[] = [];
  const track = <T>(entry: Recorded, run: () => Promise<T>): Promise<T> => {
    executed.push(entry);
    if (options.holdWrites && isWrite(entry.sql)) return new Promise<T>(() => {});
    return run().finally(() => {
      entry.settled = true;
    });
  };
  // Wrapped statement → [SQL text, the real statement] (batch() needs the real ones).
  const known = new WeakMap<object, [string, D1PreparedStatement]>();
  const wrapStatement = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const wrapped = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") return (...args: unknown[]) => wrapStatement(target.bind(...args), sql);
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return (...args: unknown[]) =>
            track({ sql, method: prop, settled: false }, () => (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args));
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    known.set(wrapped, [sql, statement]);
    return wrapped;
  };
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrapStatement(target.prepare(sql), sql);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          const parts = statements.map((s): [string, D1PreparedStatement] => known.get(s) ?? ["?", s]);
          const sql = parts.map(([text]) => text).join(";\n");
          return track({ sql, method: "batch", settled: false }, () => target.batch(parts.map(([, real]) => real)));
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    db,
    executed,
    reads: () => executed.filter((e) => !isWrite(e.sql)),
    writes: () => executed.filter((e) => isWrite(e.sql)),
  };
}

/** A client address of its own per test, so no failure budget is shared between tests. */
const client = () => ({ "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250) + 1}` });

beforeEach(() => {
  clearAuthCache();
  clearLastUseMarks();
});

describe("per-request D1 budget", () => {
  it("a valid token costs exactly one D1 read, and the response never waits for the last-use write", async () => {
    const { token } = await seedIntegration();
    const recording = recordingDb({ holdWrites: true });
    const m = marker();
    // The write is held forever: if the response waited for it, this call would never return.
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret, client()), env: { DB: recording.db }, settle: false });
    expect(res.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
    expect(recording.reads()).toEqual([{ sql: RESOLVE_TOKEN_SQL, method: "first", settled: true }]);
    // The last-use write was issued (first use) but is still pending: it is off the response path.
    expect(recording.writes()).toHaveLength(1);
    expect(recording.writes()[0]!.settled).toBe(false);
  });

  it("a user token also costs one read: membership, permissions, groups and sites come in the same row", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Inspectors");
    const user = await seedUser(org.orgId, { permissionSetIds: [setId], groupNames: ["North"], siteNames: ["Depot 7"] });
    const token = await seedUserToken(org.orgId, user.id);
    const recording = recordingDb({ holdWrites: true });
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret, client()), env: { DB: recording.db }, settle: false });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-groups"]).toBe(user.groupIds.join(","));
    expect(seen!.headers["x-portcullis-sites"]).toBe(user.siteIds.join(","));
    expect(recording.reads()).toEqual([{ sql: RESOLVE_TOKEN_SQL, method: "first", settled: true }]);
    expect(recording.writes().every((w) => !w.settled)).toBe(true);
  });

  it("N requests within 60 s make N reads and exactly one last-use write", async () => {
    const { token } = await seedIntegration();
    const recording = recordingDb();
    const before = Date.now();
    for (let i = 0; i < 20; i++) {
      const res = await call(`/inspections/${marker()}`, { headers: bearer(token.secret, client()), env: { DB: recording.db } });
      expect(res.status).toBe(200);
    }
    expect(recording.reads()).toHaveLength(20);
    expect(recording.writes()).toHaveLength(1);
    expect((await tokenRow(token.id))!.lastUsedAt).toBeGreaterThanOrEqual(before);
  });

  it("a token whose last use is over 60 s old is written once more, then not again within the minute", async () => {
    const { token } = await seedIntegration();
    const old = Date.now() - 61_000;
    await setLastUsed(token.id, old);
    const recording = recordingDb();
    for (let i = 0; i < 10; i++) {
      expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret, client()), env: { DB: recording.db } })).status).toBe(200);
    }
    // One coalesced UPDATE (no first-use event: the token was used before).
    expect(recording.writes().map((w) => w.method)).toEqual(["run"]);
    expect((await tokenRow(token.id))!.lastUsedAt).toBeGreaterThan(old);
  });

  it("a malformed token costs no D1 call at all", async () => {
    const { token } = await seedIntegration();
    const wrongChecksum = token.secret.slice(0, -1) + (token.secret.endsWith("A") ? "B" : "A");
    const credentials = [wrongChecksum, token.secret.slice(0, -1), "pcx_" + token.secret.slice(4), "not-a-token", token.secret + "0"];
    const { db, counts } = countingDb();
    for (const credential of credentials) {
      const res = await call(`/inspections/${marker()}`, {
        headers: bearer(credential, client()),
        env: { DB: db, AUTH_FAILURE_LIMITER: openLimiter },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    expect(counts).toEqual({ prepare: 0, batch: 0, exec: 0 });
  });

  it("unknown and revoked tokens cost one read and no write", async () => {
    const { token } = await seedIntegration();
    await env.DB.prepare("UPDATE api_tokens SET status = 'revoked', revoked_at = ?1 WHERE id = ?2").bind(Date.now(), token.id).run();
    const { token: unknownSource } = await seedIntegration();
    await env.DB.prepare("DELETE FROM api_tokens WHERE id = ?1").bind(unknownSource.id).run();
    for (const secret of [token.secret, unknownSource.secret]) {
      const recording = recordingDb();
      const res = await call(`/inspections/${marker()}`, {
        headers: bearer(secret, client()),
        env: { DB: recording.db, AUTH_FAILURE_LIMITER: openLimiter },
      });
      expect(res.status).toBe(401);
      expect(recording.reads()).toHaveLength(1);
      expect(recording.writes()).toHaveLength(0);
    }
  });
});

describe("per-request D1 budget of rolled and address-restricted tokens (SPEC §9)", () => {
  it("the previous secret of a rolled token costs the same one read", async () => {
    const { org, token } = await seedIntegration();
    const rolled = await rollAt(org.orgId, token.id, 60_000, Date.now());
    expect(rolled.outcome).toBe("rolled");
    for (const secret of [token.secret, rolled.outcome === "rolled" ? rolled.secret : ""]) {
      clearLastUseMarks();
      const recording = recordingDb({ holdWrites: true });
      const res = await call(`/inspections/${marker()}`, { headers: bearer(secret, client()), env: { DB: recording.db }, settle: false });
      expect(res.status).toBe(200);
      expect(recording.reads()).toEqual([{ sql: RESOLVE_TOKEN_SQL, method: "first", settled: true }]);
    }
  });

  it("an address-restricted token costs one read when allowed, and one read and no write when refused", async () => {
    const org = await seedOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Sync");
    const created = await createServiceToken(db(), {
      orgId: org.orgId,
      name: "Restricted",
      inactivityDays: 45,
      permissionSetIds: [setId],
      allowedCidrs: ["198.51.100.0/24"],
      actor: { id: null, type: "operator", name: "Test" },
      pepper: env.TOKEN_PEPPER,
    });
    const allowed = recordingDb({ holdWrites: true });
    const ok = await call(`/inspections/${marker()}`, { headers: bearer(created!.secret, client()), env: { DB: allowed.db }, settle: false });
    expect(ok.status).toBe(200);
    expect(allowed.reads()).toEqual([{ sql: RESOLVE_TOKEN_SQL, method: "first", settled: true }]);

    clearLastUseMarks();
    const refused = recordingDb();
    const res = await call(`/inspections/${marker()}`, {
      headers: bearer(created!.secret, { "cf-connecting-ip": "203.0.113.9" }),
      env: { DB: refused.db },
    });
    expect(res.status).toBe(403);
    expect(refused.reads()).toHaveLength(1);
    expect(refused.writes()).toHaveLength(0);
  });
});

describe("the resolve query is one indexed lookup", () => {
  async function plan(sql: string, ...params: unknown[]): Promise<string[]> {
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    return results.map((r) => r.detail);
  }

  it("finds the token through api_tokens_digest_uq or api_tokens_previous_digest_uq and touches no other table", async () => {
    // The whole plan: one row of one table, found by the current digest or, for a rolled token,
    // the previous one (SPEC §9); the subject is on the row, kept by migration 0004.
    expect(await plan(RESOLVE_TOKEN_SQL, "0".repeat(64))).toEqual([
      "MULTI-INDEX OR",
      "INDEX 1",
      "SEARCH api_tokens USING INDEX api_tokens_digest_uq (digest=?)",
      "INDEX 2",
      "SEARCH api_tokens USING INDEX api_tokens_previous_digest_uq (previous_digest=?)",
    ]);
  });

  it("the last-use write finds its row by primary key", async () => {
    const { token } = await seedIntegration();
    const recording = recordingDb();
    await call(`/inspections/${marker()}`, { headers: bearer(token.secret, client()), env: { DB: recording.db } });
    const writes = recording.writes();
    expect(writes).toHaveLength(1);
    const touch = writes[0]!.sql.split(";\n").find((s) => /^\s*UPDATE api_tokens/i.test(s))!;
    const details = await plan(touch, Date.now(), token.id);
    expect(details.some((d) => /SEARCH api_tokens USING INDEX sqlite_autoindex_api_tokens_1 \(id=\?\)/.test(d))).toBe(true);
    expect(details.filter((d) => /\bSCAN\b/.test(d))).toEqual([]);
  });
});
