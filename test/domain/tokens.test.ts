/**
 * The token rules of SPEC §1 in one place: the TypeScript rule (domain/tokens.ts) and its SQL
 * twin (db/token-rules.ts) give the same answer for every state at the deadline's edges.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { orm, statement } from "../../src/db/client";
import { activeAt, deadlineAfter, idleAt } from "../../src/db/token-rules";
import { DAY_MS, effectiveStatus, inactivityDeadline, isActive, type StoredTokenStatus } from "../../src/domain/tokens";

const NOW = 1_800_000_000_000;
const STATUSES: StoredTokenStatus[] = ["active", "expired", "revoked", "deleted"];
const DEADLINES = [NOW - 1, NOW, NOW + 1];

async function sqlAnswers(status: StoredTokenStatus, expiresAt: number) {
  const row = sql`(SELECT ${status} AS status, ${expiresAt} AS expires_at)`;
  const [answer] = (
    await statement(
      orm(env.DB),
      sql`SELECT (${activeAt(NOW)}) AS active, (${idleAt(NOW)}) AS idle, (${activeAt(NOW, { noIndex: true })}) AS activeNoIndex FROM ${row}`,
    ).all<{ active: number; idle: number; activeNoIndex: number }>()
  ).results;
  return answer!;
}

describe("what an active token is (SPEC §1)", () => {
  it("is active only while its row is active and its inactivity deadline is ahead", () => {
    expect(isActive({ status: "active", expiresAt: NOW + 1 }, NOW)).toBe(true);
    expect(isActive({ status: "active", expiresAt: NOW }, NOW)).toBe(false);
    for (const status of ["expired", "revoked", "deleted"] as const) expect(isActive({ status, expiresAt: NOW + DAY_MS }, NOW)).toBe(false);
  });

  it("shows an active row idle past its deadline as expired, and every other state as stored", () => {
    expect(effectiveStatus({ status: "active", expiresAt: NOW }, NOW)).toBe("expired");
    expect(effectiveStatus({ status: "active", expiresAt: NOW + 1 }, NOW)).toBe("active");
    expect(effectiveStatus({ status: "revoked", expiresAt: NOW + 1 }, NOW)).toBe("revoked");
  });

  it("sets the inactivity deadline N days after the last activity", () => {
    expect(inactivityDeadline(NOW, 30)).toBe(NOW + 30 * DAY_MS);
  });

  it("the SQL predicates agree with the TypeScript rule in every state at the deadline's edges", async () => {
    for (const status of STATUSES) {
      for (const expiresAt of DEADLINES) {
        const answer = await sqlAnswers(status, expiresAt);
        const active = isActive({ status, expiresAt }, NOW);
        expect({ status, expiresAt, active: answer.active === 1 }).toEqual({ status, expiresAt, active });
        expect(answer.activeNoIndex === 1).toBe(active);
        expect(answer.idle === 1).toBe(status === "active" && !active);
      }
    }
  });

  it("computes the SQL deadline as the TypeScript one does", async () => {
    const [row] = (
      await statement(orm(env.DB), sql`SELECT ${deadlineAfter(NOW)} AS deadline FROM (SELECT 45 AS inactivity_days)`).all<{ deadline: number }>()
    ).results;
    expect(row!.deadline).toBe(inactivityDeadline(NOW, 45));
  });
});
