/**
 * Last use (SPEC §3.5, §5; issue 6 §12): recorded off the response path, at most one write per
 * token per 60 s, the first use logged as an activity event, and a failed write retried by the
 * next use without failing the request.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearLastUseMarks } from "../../src/auth/last-use";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { countingDb, fakeLimiter, writeFailingDb } from "../helpers/bindings";
import { seedIntegration } from "../helpers/seed";
import { eventsFor, tokenRow } from "../helpers/records";

afterEach(() => vi.restoreAllMocks());

describe("last-use recording", () => {
  it("N requests within 60 s make one D1 write, and the first use is logged once", async () => {
    const { org, token } = await seedIntegration();
    const before = Date.now();
    const { db, counts } = countingDb();
    const m = marker();
    for (let i = 0; i < 5; i++) {
      expect((await call(`/inspections/${m}/${i}`, { headers: bearer(token.secret), env: { DB: db } })).status).toBe(200);
    }
    // Five resolve reads, plus one batch of two statements (first-use event + touch).
    expect(counts).toEqual({ prepare: 5 + 2, batch: 1, exec: 0 });
    expect(await upstreamRequests(m)).toHaveLength(5);
    const row = (await tokenRow(token.id))!;
    expect(row.lastUsedAt).toBeGreaterThanOrEqual(before);
    expect(row.lastUsedAt).toBeLessThanOrEqual(Date.now());
    const events = await eventsFor(token.id, "token.first_used");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      orgId: org.orgId,
      actorId: token.serviceUserId,
      actorType: "service_user",
      actorName: "Warehouse sync",
      targetType: "api_token",
    });
  });

  it("a burst of concurrent requests still makes one write", async () => {
    const { token } = await seedIntegration();
    const { db, counts } = countingDb();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => call(`/inspections/${marker()}`, { headers: bearer(token.secret), env: { DB: db } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(counts.batch).toBe(1);
    expect(counts.prepare).toBe(10 + 2);
    expect(await eventsFor(token.id, "token.first_used")).toHaveLength(1);
  });

  it("after 60 s the next use writes again, without a second first-use event", async () => {
    const { token } = await seedIntegration();
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret) })).status).toBe(200);
    const earlier = Date.now() - 61_000;
    await env.DB.prepare("UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2").bind(earlier, token.id).run();
    clearLastUseMarks(); // as a fresh isolate would be
    const { db, counts } = countingDb();
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret), env: { DB: db } })).status).toBe(200);
    expect(counts).toEqual({ prepare: 2, batch: 0, exec: 0 });
    expect((await tokenRow(token.id))!.lastUsedAt).toBeGreaterThan(earlier + 60_000);
    expect(await eventsFor(token.id, "token.first_used")).toHaveLength(1);
  });

  it("a use recorded less than 60 s ago (by any isolate) means no write at all", async () => {
    const { token } = await seedIntegration();
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret) })).status).toBe(200);
    clearLastUseMarks();
    const { db, counts } = countingDb();
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret), env: { DB: db } })).status).toBe(200);
    expect(counts).toEqual({ prepare: 1, batch: 0, exec: 0 });
  });

  it("a failed last-use write does not fail the request, and the next use retries it", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { token } = await seedIntegration();
    const failing = writeFailingDb();
    const m = marker();
    const res = await call(`/inspections/${m}/1`, { headers: bearer(token.secret), env: { DB: failing.db } });
    expect(res.status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
    expect(failing.counts.writes).toBe(1);
    expect((await tokenRow(token.id))!.lastUsedAt).toBeNull();
    expect(errors).toHaveBeenCalledWith(expect.stringContaining(`last-use write failed for token ${token.id}`), expect.any(String));

    const { db, counts } = countingDb();
    expect((await call(`/inspections/${m}/2`, { headers: bearer(token.secret), env: { DB: db } })).status).toBe(200);
    expect(counts.batch).toBe(1);
    expect((await tokenRow(token.id))!.lastUsedAt).not.toBeNull();
    expect(await eventsFor(token.id, "token.first_used")).toHaveLength(1);
  });

  it("a hanging last-use write never holds up the response", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { token } = await seedIntegration();
    const hanging = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => new Promise(() => {});
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await call(`/inspections/${marker()}`, {
      headers: bearer(token.secret),
      env: { DB: hanging, DB_TIMEOUT_MS: "200" },
      settle: false,
    });
    expect(res.status).toBe(200);
    expect((await tokenRow(token.id))!.lastUsedAt).toBeNull();
  });

  it("the last-use write goes through ctx.waitUntil: the response is sent while the write is still held", async () => {
    const { token } = await seedIntegration();
    // Writes wait for the gate; D1's timeout is far above this test's patience, so an inline
    // write would hold the response for a minute.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let writesStarted = 0;
    const gated = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            writesStarted++;
            await gate;
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const waited: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p), passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const m = marker();
    const request = new Request(`https://portcullis.test/inspections/${m}`, { headers: bearer(token.secret) });
    const response = worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, DB: gated, DB_TIMEOUT_MS: "60000", AUTH_FAILURE_LIMITER: fakeLimiter().limiter } as Env, ctx);
    const patience = new Promise<"held">((resolve) => setTimeout(() => resolve("held"), 3_000));
    const res = await Promise.race([response, patience]);
    expect(res, "the response waited for the last-use write").not.toBe("held");
    expect((res as Response).status).toBe(200);
    expect(writesStarted).toBe(1);
    expect(waited.length).toBeGreaterThanOrEqual(1);
    expect((await tokenRow(token.id))!.lastUsedAt).toBeNull();

    openGate();
    await Promise.all(waited);
    expect((await tokenRow(token.id))!.lastUsedAt).not.toBeNull();
    expect(await upstreamRequests(m)).toHaveLength(1);
  });
});
