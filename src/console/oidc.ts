/**
 * The console's OpenID Connect relying party (SPEC §8), built on oauth4webapi: authorization
 * code flow with PKCE (RFC 7636), `state` and `nonce`, and ID token validation (OIDC Core
 * §3.1.3.7: issuer, audience, expiry, nonce, auth_time with max_age, and the signature against
 * the IdP's JWKS). Plain http is allowed only for an issuer on localhost (config.ts).
 */
import * as oauth from "oauth4webapi";
import type { Config } from "../config";
import { promiseCache } from "../lib/promise-cache";

type Oidc = NonNullable<Config["oidc"]>;

export type CallbackResult =
  | { ok: true; email: string; authTime: number }
  | { ok: false; reason: string };

function isLocal(issuer: URL): boolean {
  return issuer.protocol === "http:";
}

function options(oidc: Oidc) {
  return isLocal(oidc.issuer) ? { [oauth.allowInsecureRequests]: true } : {};
}

/** The IdP's metadata (OIDC Discovery), fetched once per isolate; a failure is retried next time. */
const authorizationServer = promiseCache(
  (oidc: Oidc) => oidc.issuer.href,
  (oidc): Promise<oauth.AuthorizationServer> =>
    oauth
      .discoveryRequest(oidc.issuer, { algorithm: "oidc", ...options(oidc) })
      .then((response) => oauth.processDiscoveryResponse(oidc.issuer, response)),
);

export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/**
 * The IdP URL to send the browser to. `fresh` asks for a new authentication (`max_age=0` and
 * `prompt=login`, OIDC Core §3.1.2.1), the fresh-authentication step before generating a token.
 */
export async function startAuthorization(oidc: Oidc, redirectUri: string, fresh: boolean): Promise<AuthorizationStart> {
  const as = await authorizationServer(oidc);
  if (!as.authorization_endpoint) throw new Error("the IdP publishes no authorization_endpoint");
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set("client_id", oidc.clientId);
  url.searchParams.set("redirect_uri", redirectUri);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", "openid email profile");
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  if (fresh) {
    url.searchParams.set("max_age", "0");
    url.searchParams.set("prompt", "login");
  }
  return { url, state, nonce, codeVerifier };
}

/**
 * Validates the IdP's answer at the redirect URI and redeems the code. Every refusal is a
 * sentence for the person at the browser; none includes a token or code.
 */
export async function finishAuthorization(
  oidc: Oidc,
  redirectUri: string,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string; maxAge: number | null },
): Promise<CallbackResult> {
  const as = await authorizationServer(oidc);
  const client: oauth.Client = { client_id: oidc.clientId };
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, expected.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      return { ok: false, reason: `The identity provider refused the sign-in (${err.error}).` };
    }
    return { ok: false, reason: "The sign-in response does not belong to this sign-in (state mismatch)." };
  }
  let claims: oauth.IDToken | undefined;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(oidc.clientSecret),
      params,
      redirectUri,
      expected.codeVerifier,
      options(oidc),
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: expected.nonce,
      requireIdToken: true,
      ...(expected.maxAge !== null ? { maxAge: expected.maxAge } : {}),
    });
    // The token endpoint is reached over TLS, so OIDC Core §3.1.3.7 lets a client skip this;
    // it is cheap, and it also covers the local demo IdP reached over plain http.
    await oauth.validateApplicationLevelSignature(as, response, options(oidc));
    claims = oauth.getValidatedIdTokenClaims(result);
  } catch (err) {
    return { ok: false, reason: describe(err) };
  }
  if (!claims) return { ok: false, reason: "The identity provider sent no ID token." };
  const email = claims["email"];
  if (typeof email !== "string" || email === "") return { ok: false, reason: "The identity provider did not share your email address." };
  if (claims["email_verified"] !== true) return { ok: false, reason: "Your email address is not verified at the identity provider." };
  const authTime = typeof claims.auth_time === "number" ? claims.auth_time : claims.iat;
  return { ok: true, email, authTime };
}

function describe(err: unknown): string {
  if (err instanceof oauth.ResponseBodyError) return `The identity provider refused the sign-in (${err.error}).`;
  if (err instanceof oauth.OperationProcessingError) {
    const cause = err.cause as { claim?: string } | undefined;
    switch (err.code) {
      case oauth.JWT_TIMESTAMP_CHECK:
        return cause?.claim === "auth_time"
          ? "The identity provider did not authenticate you again as asked."
          : "The ID token from the identity provider has expired or is not yet valid.";
      case oauth.JWT_CLAIM_COMPARISON:
        if (cause?.claim === "iss") return "The ID token was issued by a different identity provider.";
        if (cause?.claim === "aud" || cause?.claim === "azp") return "The ID token was issued for a different application.";
        if (cause?.claim === "nonce") return "The ID token does not belong to this sign-in (nonce mismatch).";
        return `The ID token's ${cause?.claim ?? "claims"} did not match this sign-in.`;
      default:
        return `The identity provider's answer could not be validated: ${err.message}`;
    }
  }
  return "The identity provider could not be reached or answered in an unexpected way.";
}
