/** A resolved token row as the auth layer sees it (db/auth.ts), for tests that skip D1. */
import type { ResolvedToken } from "../../src/db/auth";
import { DAY_MS } from "../../src/domain/tokens";

/** An active user token of an active member, one day before its idle deadline at `now`. */
export function resolvedToken(overrides: Partial<ResolvedToken> = {}, now = Date.now()): ResolvedToken {
  return {
    tokenId: "tok_1",
    orgId: "org_1",
    kind: "user",
    status: "active",
    tokenName: "CLI",
    inactivityDays: 30,
    expiresAt: now + DAY_MS,
    expiredAt: null,
    lastUsedAt: null,
    subjectId: "usr_1",
    subjectName: "Dana",
    userStatus: "active",
    permissions: ["inspections.view"],
    groups: [],
    sites: [],
    previousExpiresAt: null,
    allowedCidrs: null,
    ...overrides,
  };
}
