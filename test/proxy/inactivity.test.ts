/**
 * Inactivity expiry at request time (SPEC §1, §3.1): a user token dies after 30 days without
 * use, a service token after its own window (31, 45, 60 or 180 days). The clock is moved by
 * writing last_active_at / expires_at in D1, as a recorded use would.
 */
import { describe, expect, it } from "vitest";
import { DAY_MS, SERVICE_TOKEN_INACTIVITY_DAYS } from "../../src/domain/tokens";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { seedInspector, seedIntegration } from "../helpers/seed";
import { setLastActive } from "../helpers/token-state";
import { tokenRow } from "../helpers/records";

const HOUR_MS = 3_600_000;

describe("inactivity expiry", () => {
  it("a user token last active 29 days 23 hours ago still works", async () => {
    const { token } = await seedInspector();
    await setLastActive(token.id, Date.now() - (29 * DAY_MS + 23 * HOUR_MS), 30);
    const m = marker();
    expect((await call(`/inspections/${m}`, { headers: bearer(token.secret) })).status).toBe(200);
    expect(await upstreamRequests(m)).toHaveLength(1);
  });

  it("a user token last active 30 days and 1 second ago is expired", async () => {
    const { token } = await seedInspector();
    await setLastActive(token.id, Date.now() - (30 * DAY_MS + 1000), 30);
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(
      'Bearer realm="portcullis", error="invalid_token", error_description="token expired after 30 days of inactivity"',
    );
    expect(await upstreamRequests(m)).toEqual([]);
    // A refused request is not a use: the clock does not restart.
    expect((await tokenRow(token.id))!.lastUsedAt).toBeNull();
  });

  it("a use restarts the inactivity clock", async () => {
    const { token } = await seedInspector();
    await setLastActive(token.id, Date.now() - 29 * DAY_MS, 30);
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret) })).status).toBe(200);
    const row = (await tokenRow(token.id))!;
    expect(row.lastUsedAt).not.toBeNull();
    expect(row.lastActiveAt).toBe(row.lastUsedAt);
    expect(row.expiresAt).toBe(row.lastUsedAt! + 30 * DAY_MS);
  });

  for (const days of SERVICE_TOKEN_INACTIVITY_DAYS) {
    it(`a ${days}-day service token works a minute before its window ends and not one second after`, async () => {
      const { token } = await seedIntegration(["inspections.view"], days);
      const m = marker();
      await setLastActive(token.id, Date.now() - (days * DAY_MS - 60_000), days);
      expect((await call(`/inspections/${m}/inside`, { headers: bearer(token.secret)})).status).toBe(200);
      await setLastActive(token.id, Date.now() - (days * DAY_MS + 1000), days);
      const res = await call(`/inspections/${m}/outside`, { headers: bearer(token.secret) });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain(`error_description="token expired after ${days} days of inactivity"`);
      expect((await upstreamRequests(m)).map((r) => r.path)).toEqual([`/inspections/${m}/inside`]);
    });
  }

  it("a service token's window is its own: 180 days idle still works for a 180-day token only", async () => {
    const short = await seedIntegration(["inspections.view"], 31);
    const long = await seedIntegration(["inspections.view"], 180);
    await setLastActive(short.token.id, Date.now() - 100 * DAY_MS, 31);
    await setLastActive(long.token.id, Date.now() - 100 * DAY_MS, 180);
    expect((await call(`/inspections/${marker()}`, { headers: bearer(short.token.secret) })).status).toBe(401);
    expect((await call(`/inspections/${marker()}`, { headers: bearer(long.token.secret) })).status).toBe(200);
  });
});
