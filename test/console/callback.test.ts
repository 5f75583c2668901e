// The console's OpenID Connect callback (SPEC §8): every refusal is a page in words, sets no
// session, and carries the console's headers. The IdP is a fake served through a fetch spy,
// with its own signing key, so each test can make it answer in one wrong way.
import { eq } from "drizzle-orm";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { users } from "../../src/db/schema";
import { db, seedOrg, seedUser } from "../helpers/seed";
import { call, ORIGIN, PREFIX } from "../helpers/worker";

const ISSUER = "https://idp.test";
const CLIENT_ID = "console-client";
const OIDC = { OIDC_ISSUER: ISSUER, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: "console-secret" };
const CONSOLE = `${PREFIX}/console`;

let signingKey: CryptoKey;
let publicJwk: Awaited<ReturnType<typeof exportJWK>>;
let email: string;

/** What the fake IdP's token endpoint puts in the ID token, given the nonce it was asked for. */
let idTokenClaims: (nonce: string) => JWTPayload = () => ({});
let lastNonce = "";

async function idToken(claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: CLIENT_ID, sub: "person-1", iat: now, exp: now + 300, auth_time: now, email, email_verified: true, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .sign(signingKey);
}

function fakeIdp() {
  const real = globalThis.fetch;
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.origin !== ISSUER) return real(input as RequestInfo, init);
    if (url.pathname === "/.well-known/openid-configuration") {
      return Response.json({
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/auth`,
        token_endpoint: `${ISSUER}/token`,
        jwks_uri: `${ISSUER}/jwks`,
        id_token_signing_alg_values_supported: ["ES256"],
      });
    }
    if (url.pathname === "/jwks") return Response.json({ keys: [{ ...publicJwk, kid: "k1", alg: "ES256", use: "sig" }] });
    if (url.pathname === "/token") {
      return Response.json({ access_token: "at", token_type: "Bearer", expires_in: 60, id_token: await idToken(idTokenClaims(lastNonce)) });
    }
    return new Response("not found", { status: 404 });
  });
}

/** Starts a sign-in at the console and returns the browser-side pieces of it. */
async function startSignIn(): Promise<{ state: string; cookie: string }> {
  const res = await call(`${CONSOLE}/me/api-tokens`, { env: OIDC, redirect: "manual" });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get("location")!);
  expect(location.origin + location.pathname).toBe(`${ISSUER}/auth`);
  expect(location.searchParams.get("code_challenge_method")).toBe("S256");
  expect(location.searchParams.get("redirect_uri")).toBe(`${ORIGIN}${CONSOLE}/callback`);
  lastNonce = location.searchParams.get("nonce")!;
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  return { state: location.searchParams.get("state")!, cookie };
}

async function callback(query: string, cookie: string | null): Promise<Response> {
  return call(`${CONSOLE}/callback?${query}`, { env: OIDC, redirect: "manual", headers: cookie ? { cookie } : {} });
}

/** A refusal: a page in words, no session, and the console's headers. */
async function expectRefusal(res: Response, words: string) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.headers.get("content-type")).toContain("text/html");
  expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("set-cookie") ?? "").not.toContain("portcullis_console=");
  const page = await res.text();
  expect(page).toContain('role="alert"');
  expect(page).toContain(words);
  expect(page).not.toContain("{\"error\"");
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  signingKey = pair.privateKey;
  publicJwk = await exportJWK(pair.publicKey);
  const org = await seedOrg("Callback Org");
  const user = await seedUser(org.orgId, { name: "Cal Lback" });
  email = `${user.id}@example.com`;
});

afterEach(() => {
  vi.restoreAllMocks();
  idTokenClaims = () => ({});
});

describe("console sign-in callback", () => {
  it("admits the active member whose verified email the ID token carries, and comes back to the page", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce });
    const { state, cookie } = await startSignIn();
    const res = await callback(`code=c1&state=${state}`, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${CONSOLE}/me/api-tokens`);
    const session = res.headers.get("set-cookie")!;
    expect(session).toMatch(/portcullis_console=[A-Za-z0-9_-]{43}/);
    expect(session).toContain("HttpOnly");
    expect(session).toContain("SameSite=Lax");
    expect(session).toContain("Secure");
    expect(session).toContain(`Path=${CONSOLE}`);
    const raw = /portcullis_console=([^;]+)/.exec(session)![1]!;
    const stored = await db().$client.prepare("SELECT id FROM console_sessions").all<{ id: string }>();
    expect(stored.results.length).toBeGreaterThan(0);
    expect(stored.results.map((r) => r.id)).not.toContain(raw);
    const page = await call(`${CONSOLE}/me/api-tokens`, { env: OIDC, headers: { cookie: `portcullis_console=${raw}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Cal Lback");
  });

  it("refuses a state that is not this sign-in's", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce });
    const { cookie } = await startSignIn();
    await expectRefusal(await callback("code=c1&state=forged-state", cookie), "state mismatch");
  });

  it("refuses a callback from a browser that did not start the sign-in", async () => {
    fakeIdp();
    const { state } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, null), "was not started in this browser");
  });

  it("refuses an ID token with another nonce", async () => {
    fakeIdp();
    idTokenClaims = () => ({ nonce: "someone-elses-nonce" });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "nonce mismatch");
  });

  it("refuses an ID token from another issuer", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce, iss: "https://evil.test" });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "different identity provider");
  });

  it("refuses an ID token for another audience", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce, aud: "another-app" });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "different application");
  });

  it("refuses an expired ID token", async () => {
    fakeIdp();
    const past = Math.floor(Date.now() / 1000) - 3600;
    idTokenClaims = (nonce) => ({ nonce, iat: past, exp: past + 60, auth_time: past });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "expired");
  });

  it("refuses an ID token signed by a key the IdP does not publish", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce });
    const { state, cookie } = await startSignIn();
    const published = signingKey;
    signingKey = (await generateKeyPair("ES256")).privateKey;
    try {
      await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "could not be validated");
    } finally {
      signingKey = published;
    }
  });

  it("refuses an unverified email", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce, email_verified: false });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "not verified");
  });

  it("refuses an email that is no member's", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce, email: "nobody@elsewhere.test" });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "not an active member");
  });

  it("refuses a deactivated member", async () => {
    const org = await seedOrg("Deactivated Org");
    const user = await seedUser(org.orgId, { name: "Gone Away" });
    await db().update(users).set({ status: "deactivated" }).where(eq(users.id, user.id));
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce, email: `${user.id}@example.com` });
    const { state, cookie } = await startSignIn();
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "not an active member");
  });

  it("lets each sign-in complete once", async () => {
    fakeIdp();
    idTokenClaims = (nonce) => ({ nonce });
    const { state, cookie } = await startSignIn();
    expect((await callback(`code=c1&state=${state}`, cookie)).status).toBe(303);
    await expectRefusal(await callback(`code=c1&state=${state}`, cookie), "already used");
  });
});
