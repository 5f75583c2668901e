/**
 * The optional auth cache (SPEC §5, AUTH_CACHE_TTL_MS): off by default; when on, hits skip D1,
 * unknown tokens are remembered for a fifth of the TTL, concurrent misses share one read, and a
 * change made through this isolate is visible on its next request.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_ENTRIES, cachedEntryCount, cachedLookup, clearAuthCache, invalidateCached, negativeTtl } from "../../src/auth/cache";
import { clearLastUseMarks } from "../../src/auth/last-use";
import type { ResolvedToken } from "../../src/db/auth";
import { adminSession, seedIntegration } from "../helpers/seed";
import { api, marker, proxied, upstreamRequests } from "../helpers/worker";
import { countingDb, openLimiter } from "../helpers/bindings";
import { setLastUsed } from "../helpers/token-state";
import { resolvedToken } from "../helpers/resolved-token";

const CACHED = { AUTH_CACHE_TTL_MS: "5000" };

/** A service token whose last use is recorded as just now, so requests make no last-use write. */
async function seedUsedIntegration(permissions = ["inspections.view"]) {
  const seeded = await seedIntegration(permissions);
  await setLastUsed(seeded.token.id, Date.now());
  return seeded;
}

/** A proxied GET through `db`, with the cache on unless `extraEnv` says otherwise. */
function throughCache(secret: string, db: D1Database, extraEnv: Record<string, unknown> = CACHED, prefix = "/inspections") {
  return proxied(secret, prefix, { env: { DB: db, AUTH_FAILURE_LIMITER: openLimiter, ...extraEnv } });
}

/** A loader that counts its calls and answers with `value`. */
function loader(value: ResolvedToken | null) {
  const calls: string[] = [];
  return { calls, load: async (digest: string) => (calls.push(digest), value) };
}

beforeEach(() => {
  clearAuthCache();
  clearLastUseMarks();
});

describe("auth cache through the proxy", () => {
  it("is off by default: every request reads D1", async () => {
    const { token } = await seedUsedIntegration();
    const { db, counts } = countingDb();
    for (let i = 0; i < 5; i++) expect((await throughCache(token.secret, db, {})).res.status).toBe(200);
    expect(counts.prepare).toBe(5);
  });

  it("with AUTH_CACHE_TTL_MS set, a hit skips D1 and still forwards the same identity", async () => {
    const { token, org } = await seedUsedIntegration();
    const { db, counts } = countingDb();
    const m = marker();
    for (let i = 0; i < 5; i++) expect((await throughCache(token.secret, db, CACHED, `/inspections/${m}/${i}`)).res.status).toBe(200);
    expect(counts.prepare).toBe(1);
    const seen = await upstreamRequests(m);
    expect(seen).toHaveLength(5);
    for (const request of seen) {
      expect(request.headers["x-portcullis-token-id"]).toBe(token.id);
      expect(request.headers["x-portcullis-org-id"]).toBe(org.orgId);
      expect(request.headers["x-portcullis-permissions"]).toBe("inspections.view");
    }
  });

  it("an unknown token is remembered as unknown: repeated guesses cost one read", async () => {
    const { token } = await seedUsedIntegration();
    await env.DB.prepare("DELETE FROM api_tokens WHERE id = ?1").bind(token.id).run();
    const { db, counts } = countingDb();
    for (let i = 0; i < 5; i++) {
      const { res } = await throughCache(token.secret, db);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("token is not recognized");
    }
    expect(counts.prepare).toBe(1);
  });

  it("100 concurrent first requests for one token make one D1 read", async () => {
    const { token } = await seedUsedIntegration();
    const { db, counts } = countingDb();
    const results = await Promise.all(Array.from({ length: 100 }, () => throughCache(token.secret, db)));
    expect(results.map((r) => r.res.status)).toEqual(Array(100).fill(200));
    expect(counts.prepare).toBe(1);
  });

  it("invalidateCached makes a revoke in this isolate visible on the next request", async () => {
    const { token } = await seedUsedIntegration();
    const { db, counts } = countingDb();
    expect((await throughCache(token.secret, db)).res.status).toBe(200);
    await env.DB.prepare("UPDATE api_tokens SET status = 'revoked', revoked_at = ?1 WHERE id = ?2").bind(Date.now(), token.id).run();
    // Without the invalidation this isolate would keep serving the cached row (the stated bound).
    expect((await throughCache(token.secret, db)).res.status).toBe(200);
    invalidateCached({ tokenIds: [token.id] });
    const { res } = await throughCache(token.secret, db);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("token revoked");
    expect(counts.prepare).toBe(2);
  });

  it("revoking through the management API stops a cached token on its next request", async () => {
    const { token, org } = await seedUsedIntegration();
    const { db } = countingDb();
    expect((await throughCache(token.secret, db)).res.status).toBe(200);
    const admin = await adminSession(org);
    const revoke = await api("POST", `/service-tokens/${token.id}/revoke`, admin, undefined, { env: CACHED });
    expect(revoke.status).toBe(200);
    const { res } = await throughCache(token.secret, db);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("token revoked");
  });

  it("a permission change made here is forwarded on the next request", async () => {
    const { token, org, setId } = await seedUsedIntegration(["inspections.view"]);
    const { db } = countingDb();
    const m = marker();
    expect((await throughCache(token.secret, db, CACHED, `/inspections/${m}/1`)).res.status).toBe(200);
    await env.DB.prepare("UPDATE permission_sets SET permissions = ?1 WHERE id = ?2").bind(JSON.stringify(["inspections.edit", "inspections.view"]), setId).run();
    invalidateCached({ orgId: org.orgId });
    expect((await throughCache(token.secret, db, CACHED, `/inspections/${m}/2`)).res.status).toBe(200);
    const seen = await upstreamRequests(m);
    expect(seen.map((r) => r.headers["x-portcullis-permissions"])).toEqual(["inspections.view", "inspections.edit,inspections.view"]);
  });
});

describe("auth cache rules", () => {
  const t0 = 1_000_000;

  it("serves a positive entry for exactly the TTL, counted from when its read began", async () => {
    const { calls, load } = loader(resolvedToken());
    await cachedLookup("d1", 5000, load, t0);
    await cachedLookup("d1", 5000, load, t0 + 4999);
    expect(calls).toHaveLength(1);
    await cachedLookup("d1", 5000, load, t0 + 5000);
    expect(calls).toHaveLength(2);
  });

  it("keeps a negative entry for a fifth of the TTL", async () => {
    expect(negativeTtl(5000)).toBe(1000);
    expect(negativeTtl(3)).toBe(1);
    const { calls, load } = loader(null);
    expect(await cachedLookup("unknown", 5000, load, t0)).toBeNull();
    await cachedLookup("unknown", 5000, load, t0 + 999);
    expect(calls).toHaveLength(1);
    await cachedLookup("unknown", 5000, load, t0 + 1000);
    expect(calls).toHaveLength(2);
  });

  it("a TTL of 0 reads every time and stores nothing", async () => {
    const { calls, load } = loader(resolvedToken());
    for (let i = 0; i < 3; i++) await cachedLookup("d0", 0, load, t0);
    expect(calls).toHaveLength(3);
    expect(cachedEntryCount()).toBe(0);
  });

  it("a failed shared read is never cached, and a waiter tries its own read instead of inheriting the failure", async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("D1 down");
    };
    const results = await Promise.allSettled([cachedLookup("df", 5000, failing, t0), cachedLookup("df", 5000, failing, t0)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toBe(2);
    const { calls: later, load } = loader(resolvedToken());
    await cachedLookup("df", 5000, load, t0);
    expect(later).toHaveLength(1);
  });

  it("a waiter whose shared read belongs to a cancelled request does its own read", async () => {
    // What workerd does when the request that started the read is cancelled by its client.
    const crossRequest = () => Promise.reject(new Error("Cannot perform I/O on behalf of a different request."));
    const owner = cachedLookup("dx", 5000, crossRequest, t0);
    const { calls, load } = loader(resolvedToken());
    const waiter = cachedLookup("dx", 5000, load, t0);
    await expect(owner).rejects.toThrow(/different request/);
    expect(await waiter).not.toBeNull();
    expect(calls).toHaveLength(1);
  });

  it("a waiter does not hang on a shared read that never settles", async () => {
    const never = () => new Promise<ResolvedToken | null>(() => {});
    void cachedLookup("dh", 5000, never, t0);
    const { calls, load } = loader(resolvedToken());
    expect(await cachedLookup("dh", 5000, load, t0, 20)).not.toBeNull();
    expect(calls).toHaveLength(1);
  });

  it("a read that began before an invalidation is returned to its waiters but not stored", async () => {
    let release!: (value: ResolvedToken) => void;
    const slow = () => new Promise<ResolvedToken>((resolve) => (release = resolve));
    const first = cachedLookup("ds", 5000, slow, t0);
    invalidateCached({ tokenIds: ["tok_1"] });
    release(resolvedToken());
    expect((await first)?.status).toBe("active");
    const { calls, load } = loader(resolvedToken({ status: "revoked" }));
    expect((await cachedLookup("ds", 5000, load, t0 + 1))?.status).toBe("revoked");
    expect(calls).toHaveLength(1);
  });

  it("invalidates by token, by subject and by organization, and drops negative entries", async () => {
    const rows = {
      a: resolvedToken({ tokenId: "tok_a", subjectId: "svc_a", orgId: "org_x" }),
      b: resolvedToken({ tokenId: "tok_b", subjectId: "usr_b", orgId: "org_x" }),
      c: resolvedToken({ tokenId: "tok_c", subjectId: "svc_c", orgId: "org_y" }),
    };
    const fill = async () => {
      for (const [digest, row] of Object.entries(rows)) await cachedLookup(digest, 5000, async () => row, t0);
      await cachedLookup("nobody", 5000, async () => null, t0);
    };
    await fill();
    expect(cachedEntryCount()).toBe(4);
    invalidateCached({ tokenIds: ["tok_a"] });
    expect(cachedEntryCount()).toBe(2);
    await fill();
    invalidateCached({ subjectIds: ["usr_b"] });
    expect(cachedEntryCount()).toBe(2);
    await fill();
    invalidateCached({ orgId: "org_x" });
    expect(cachedEntryCount()).toBe(1);
    const { calls, load } = loader(rows.c);
    await cachedLookup("c", 5000, load, t0);
    expect(calls).toHaveLength(0);
  });

  it("holds at most MAX_ENTRIES, evicting the oldest first", async () => {
    const row = resolvedToken();
    for (let i = 0; i <= MAX_ENTRIES; i++) await cachedLookup(`digest-${i}`, 5000, async () => row, t0);
    expect(cachedEntryCount()).toBe(MAX_ENTRIES);
    const { calls, load } = loader(row);
    await cachedLookup(`digest-${MAX_ENTRIES}`, 5000, load, t0);
    expect(calls).toHaveLength(0);
    await cachedLookup("digest-0", 5000, load, t0);
    expect(calls).toEqual(["digest-0"]);
  });

  it("hands out frozen rows, so one request cannot change what another sees", async () => {
    const value = await cachedLookup("dz", 5000, async () => resolvedToken(), t0);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value!.permissions)).toBe(true);
  });
});
