/**
 * API token verification (SPEC §2, §3.1–3.2) as a function: malformed input is refused without
 * a D1 query whatever it holds, and a resolved row is judged in a fixed order (membership,
 * status, idle deadline).
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkResolved, verifyApiToken } from "../../src/auth/api-token";
import { getConfig } from "../../src/config";
import { DAY_MS } from "../../src/domain/tokens";
import { generateToken } from "../../src/token/format";
import { countingDb } from "../helpers/bindings";
import { resolvedToken } from "../helpers/resolved-token";

const config = getConfig(env);
const NOW = 1_800_000_000_000;

describe("verifyApiToken", () => {
  it.each([
    ["NUL inside", (t: string) => `${t.slice(0, 10)}\u0000${t.slice(11)}`],
    ["NUL appended", (t: string) => `${t}\u0000`],
    ["a trailing newline", (t: string) => `${t}\n`],
    ["16 KiB", () => "pcu_" + "a".repeat(16 * 1024)],
    ["a Cyrillic look-alike", (t: string) => t.replace("c", "с")],
    ["an empty string", () => ""],
  ])("refuses %s as malformed without any D1 query", async (_, mutate) => {
    const { db, counts } = countingDb();
    const check = await verifyApiToken(db, config, mutate(generateToken("user")));
    expect(check).toEqual({ ok: false, reason: "malformed", description: "token is malformed" });
    expect(counts).toEqual({ prepare: 0, batch: 0, exec: 0 });
  });

  it("never queries D1 for anything but a well-formed token (property, 5,000 runs of full Unicode)", async () => {
    const { db, counts } = countingDb();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 80 }), async (candidate) => {
        const check = await verifyApiToken(db, config, candidate);
        expect(check.ok).toBe(false);
      }),
      { numRuns: 5_000 },
    );
    expect(counts.prepare).toBe(0);
  });

  it("a row of the other kind never answers a token (defence in depth behind the digest)", async () => {
    const secret = generateToken("user");
    const row = { ...resolvedRow(), kind: "service_user", user_status: null };
    const fake = { prepare: () => ({ bind: () => ({ first: async () => row }) }) } as unknown as D1Database;
    expect(await verifyApiToken(fake, config, secret)).toMatchObject({ ok: false, reason: "unknown" });
    const same = { prepare: () => ({ bind: () => ({ first: async () => ({ ...row, kind: "user", user_status: "active" }) }) }) };
    expect(await verifyApiToken(same as unknown as D1Database, config, secret, NOW)).toMatchObject({ ok: true });
  });
});

function resolvedRow() {
  return {
    token_id: "tok_1",
    org_id: "org_1",
    kind: "user",
    status: "active",
    token_name: "CLI",
    inactivity_days: 30,
    expires_at: NOW + DAY_MS,
    expired_at: null,
    last_used_at: null,
    subject_id: "usr_1",
    subject_name: "Dana",
    user_status: "active",
    permissions: '["inspections.view"]',
    groups: "[]",
    sites: "[]",
  };
}

describe("checkResolved", () => {
  it("accepts an active token of an active member before its idle deadline", () => {
    expect(checkResolved(resolvedToken({}, NOW), NOW)).toMatchObject({ ok: true, subject: { type: "user", id: "usr_1", credential: "api_token", tokenId: "tok_1" } });
  });

  it("the idle deadline itself is already expired (now ≥ expires_at)", () => {
    expect(checkResolved(resolvedToken({ expiresAt: NOW }, NOW), NOW)).toMatchObject({ ok: false, reason: "expired" });
    expect(checkResolved(resolvedToken({ expiresAt: NOW + 1 }, NOW), NOW)).toMatchObject({ ok: true });
  });

  it("an inactive member outranks every token status", () => {
    for (const status of ["active", "revoked", "expired", "deleted"] as const) {
      expect(checkResolved(resolvedToken({ status, userStatus: "deactivated" }, NOW), NOW)).toMatchObject({ reason: "member_inactive" });
    }
    expect(checkResolved(resolvedToken({ userStatus: null }, NOW), NOW)).toMatchObject({ reason: "member_inactive" });
  });

  it("a service user has no membership to check", () => {
    expect(checkResolved(resolvedToken({ kind: "service_user", userStatus: null }, NOW), NOW)).toMatchObject({ ok: true });
  });

  it("a token ended early by deprovisioning says so; one that idled out names its window", () => {
    expect(checkResolved(resolvedToken({ status: "expired", expiredAt: NOW - DAY_MS }, NOW), NOW)).toMatchObject({
      description: "token expired because its user was deactivated or removed",
    });
    expect(checkResolved(resolvedToken({ status: "expired", expiresAt: NOW - DAY_MS, expiredAt: NOW }, NOW), NOW)).toMatchObject({
      description: "token expired after 30 days of inactivity",
    });
  });

  it("no token at all is 'not recognized'", () => {
    expect(checkResolved(null, NOW)).toEqual({ ok: false, reason: "unknown", description: "token is not recognized" });
  });
});
