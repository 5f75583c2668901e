/**
 * Issue 6 §15: concurrent changes to one token or one member. Each pair runs together
 * (Promise.all), many times with fresh data; whatever order D1 serializes them in, the end
 * state is one the spec allows, and never two live secrets for one token: only the digest the
 * row holds now resolves through the proxy, a deleted token never comes back, and a
 * deactivated or removed member never ends up holding an active token.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiTokens } from "../../src/db/schema";
import { tokenDigest } from "../../src/token/digest";
import { adminSession, db, seedOrg, seedServiceToken, seedUser, seedUserToken, sessionJwt, type SeededOrg } from "../helpers/seed";
import { api, proxiedStatus } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { eventsFor, tokenRow } from "../helpers/records";

const ROUNDS = 20;

/**
 * Runs `first` and `second` together. Odd rounds start them in the other order, and the later
 * one waits 0–4 D1 round trips, so across the rounds each call's reads and its batch land on
 * either side of the other's (the first one started otherwise always wins).
 */
async function together<A, B>(round: number, first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
  const lag = async () => {
    for (let i = 0; i < Math.floor(round / 2) % 5; i++) await env.DB.prepare("SELECT 1").first();
  };
  if (round % 2 === 0) {
    const a = first();
    await lag();
    const b = second();
    return Promise.all([a, b]);
  }
  const b = second();
  await lag();
  const a = first();
  return Promise.all([a, b]);
}

interface TokenBody {
  status?: string;
  token?: string;
}

async function outcome(res: Response): Promise<{ status: number; body: TokenBody; code?: string }> {
  if (res.status === 204) return { status: 204, body: {} };
  if (res.status >= 400) return { status: res.status, body: {}, code: (await errorOf(res)).code };
  return { status: res.status, body: (await res.json()) as TokenBody };
}

/** Which of `secrets` resolve through the proxy right now. */
async function liveSecrets(secrets: string[]): Promise<string[]> {
  const live: string[] = [];
  for (const secret of secrets) {
    const status = await proxiedStatus(secret);
    expect([200, 401]).toContain(status);
    if (status === 200) live.push(secret);
  }
  return live;
}

/** The single-secret invariant: only the row's current digest may work, and only while active. */
async function expectAtMostTheCurrentSecretLive(tokenId: string, secrets: string[]): Promise<void> {
  const current = (await tokenRow(tokenId))!;
  const live = await liveSecrets(secrets);
  expect(live.length).toBeLessThanOrEqual(1);
  if (current.status === "active") {
    expect(live).toHaveLength(1);
    expect(await tokenDigest(live[0]!, env.TOKEN_PEPPER)).toBe(current.digest);
  } else {
    expect(live).toEqual([]);
  }
}

async function revoke(org: SeededOrg, id: string) {
  return api("POST", `/service-tokens/${id}/revoke`, await adminSession(org));
}
async function regenerate(org: SeededOrg, id: string) {
  return api("POST", `/service-tokens/${id}/regenerate`, await adminSession(org));
}
async function remove(org: SeededOrg, id: string) {
  return api("DELETE", `/service-tokens/${id}`, await adminSession(org));
}

/** A fresh org (so the 20-token limit never interferes) with one revoked service token. */
async function revokedToken() {
  const org = await seedOrg();
  const token = await seedServiceToken(org.orgId);
  expect((await revoke(org, token.id)).status).toBe(200);
  return { org, token };
}

describe("concurrent revoke and regenerate (issue 6 §15)", () => {
  it(`of a revoked token: both succeed; it ends active with the new secret or revoked, never with two live secrets (${ROUNDS} rounds)`, async () => {
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const { org, token } = await revokedToken();
      const [r, g] = await together(
        round,
        () => revoke(org, token.id).then(outcome),
        () => regenerate(org, token.id).then(outcome),
      );

      // Revoking a revoked token is idempotent and regenerating a revoked one is allowed, in either order.
      expect(r.status).toBe(200);
      expect(r.body.status).toBe("revoked");
      expect(g.status).toBe(200);
      expect(g.body.token).toMatch(/^pcs_/);
      const final = (await tokenRow(token.id))!;
      expect(["active", "revoked"]).toContain(final.status);
      seen.add(final.status);
      // The regenerated digest stays on the row either way; the first secret is gone for good.
      expect(final.digest).toBe(await tokenDigest(g.body.token!, env.TOKEN_PEPPER));
      // Revoked last → a second revocation event; regenerated last → none.
      expect((await eventsFor(token.id, "token.revoked")).length).toBe(final.status === "revoked" ? 2 : 1);
      expect((await eventsFor(token.id, "token.regenerated")).length).toBe(1);
      await expectAtMostTheCurrentSecretLive(token.id, [token.secret, g.body.token!]);
    }
  });

  it(`of an active token: either revoke-then-regenerate (active, new secret) or regenerate refused then revoked (${ROUNDS} rounds)`, async () => {
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const org = await seedOrg();
      const token = await seedServiceToken(org.orgId);
      const [r, g] = await together(
        round,
        () => revoke(org, token.id).then(outcome),
        () => regenerate(org, token.id).then(outcome),
      );

      expect(r.status).toBe(200);
      const final = (await tokenRow(token.id))!;
      seen.add(final.status);
      if (g.status === 200) {
        expect(final.status).toBe("active");
        expect(final.digest).toBe(await tokenDigest(g.body.token!, env.TOKEN_PEPPER));
      } else {
        expect(g).toMatchObject({ status: 409, code: "invalid_state" });
        expect(final.status).toBe("revoked");
        expect(final.digest).toBe(await tokenDigest(token.secret, env.TOKEN_PEPPER));
      }
      expect((await eventsFor(token.id, "token.regenerated")).length).toBe(g.status === 200 ? 1 : 0);
      await expectAtMostTheCurrentSecretLive(token.id, g.body.token ? [token.secret, g.body.token] : [token.secret]);
    }
    expect([...seen].sort()).toEqual(["active", "revoked"]);
  });
});

describe("concurrent regenerations of one revoked token (issue 6 §15)", () => {
  it(`exactly one wins; the loser gets 409 invalid_state and its would-be secret never existed (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { org, token } = await revokedToken();
      const results = await together(
        round,
        () => regenerate(org, token.id).then(outcome),
        () => regenerate(org, token.id).then(outcome),
      );

      const won = results.filter((o) => o.status === 200);
      expect(won).toHaveLength(1);
      expect(results.filter((o) => o.status === 409 && o.code === "invalid_state")).toHaveLength(1);
      const final = (await tokenRow(token.id))!;
      expect(final.status).toBe("active");
      expect(final.digest).toBe(await tokenDigest(won[0]!.body.token!, env.TOKEN_PEPPER));
      expect((await eventsFor(token.id, "token.regenerated")).length).toBe(1);
      await expectAtMostTheCurrentSecretLive(token.id, [token.secret, won[0]!.body.token!]);
    }
  });
});

describe("concurrent delete and regenerate (issue 6 §15)", () => {
  it(`of a revoked token: exactly one succeeds; a deleted token never becomes active (${ROUNDS} rounds)`, async () => {
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const { org, token } = await revokedToken();
      const [d, g] = await together(
        round,
        () => remove(org, token.id).then(outcome),
        () => regenerate(org, token.id).then(outcome),
      );

      const final = (await tokenRow(token.id))!;
      seen.add(final.status);
      if (d.status === 204) {
        // Deleted first: the regeneration finds nothing to regenerate.
        expect(g).toMatchObject({ status: 404, code: "not_found" });
        expect(final.status).toBe("deleted");
        expect((await api("GET", `/service-tokens/${token.id}`, await adminSession(org))).status).toBe(404);
        expect((await eventsFor(token.id, "token.regenerated")).length).toBe(0);
      } else {
        // Regenerated first: the token is active, which may not be deleted.
        expect(d).toMatchObject({ status: 409, code: "invalid_state" });
        expect(g.status).toBe(200);
        expect(final.status).toBe("active");
        expect(final.digest).toBe(await tokenDigest(g.body.token!, env.TOKEN_PEPPER));
        expect((await eventsFor(token.id, "token.deleted")).length).toBe(0);
      }
      await expectAtMostTheCurrentSecretLive(token.id, g.body.token ? [token.secret, g.body.token] : [token.secret]);
    }
    expect([...seen].sort()).toEqual(["active", "deleted"]);
  });
});

describe("concurrent end of membership and user token creation (issue 6 §15)", () => {
  for (const end of ["deactivate (PATCH status)", "remove (DELETE)"] as const) {
    it(`${end} racing POST /me/api-tokens: the member never ends up holding an active token (${ROUNDS} rounds)`, async () => {
      const seen = new Set<number>();
      for (let round = 0; round < ROUNDS; round++) {
        const org = await seedOrg();
        const member = await seedUser(org.orgId, { permissionSetIds: [org.adminSetId] });
        const existing = await seedUserToken(org.orgId, member.id, "existing");
        const memberSession = await sessionJwt({ sub: member.id, org: org.orgId });
        const admin = await adminSession(org);
        const ending = () =>
          end === "remove (DELETE)"
            ? api("DELETE", `/users/${member.id}`, admin)
            : api("PATCH", `/users/${member.id}`, admin, { status: "deactivated" });
        const [e, created] = await together(
          round,
          () => ending().then(outcome),
          () => api("POST", "/me/api-tokens", memberSession, { name: "CLI" }).then(outcome),
        );
        seen.add(created.status);

        expect(e.status).toBe(end === "remove (DELETE)" ? 204 : 200);
        if (created.status !== 201) {
          // The membership ended first: the session no longer belongs to an active member. (It was
          // once answered 409 token_limit_reached, "you already have 10 tokens", with none held.)
          expect(created).toMatchObject({ status: 401, code: "invalid_token" });
        }
        const tokens = await db().select().from(apiTokens).where(eq(apiTokens.userId, member.id));
        expect(tokens.length).toBe(created.status === 201 ? 2 : 1);
        expect(tokens.filter((t) => t.status === "active")).toEqual([]);
        const secrets = created.body.token ? [existing.secret, created.body.token] : [existing.secret];
        expect(await liveSecrets(secrets)).toEqual([]);
      }
      // Both a creation that the ending caught and one refused after it were checked.
      expect([...seen].sort()).toEqual([201, 401]);
    });
  }
});
