// The demo identity provider for the web console (SPEC §8): a real, certified OpenID provider
// (the `oidc-provider` package) with one confidential client, the console. Its sign-in form has
// the inputs `login` and `password`; any email signs in with the demo password, any other
// password is refused. The console then admits only active members, so members created through
// the API or SCIM can sign in too. Local use only: plain http, in-memory storage, fixed secret.
//
//   node scripts/demo-idp.mjs            (port from DEMO_IDP_PORT, default 8789)
import http from "node:http";
import { fileURLToPath } from "node:url";
import Provider from "oidc-provider";

export const DEMO_PASSWORD = "portcullis-demo";
export const DEMO_ADMIN_EMAIL = "ada@demo.example";
export const DEMO_CLIENT_ID = "portcullis-console";
export const DEMO_CLIENT_SECRET = "portcullis-console-demo-secret";

const escape = (value) => String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><link rel="stylesheet" href="/demo-idp.css"></head>
<body><main><p class="brand">Demo identity provider</p><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

const CSS = `body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#eef2f7;color:#17202a}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:10px;box-shadow:0 10px 30px rgb(15 23 42/.12)}
.brand{color:#566270;margin:0;font-size:.9rem}h1{margin:.25rem 0 1rem;font-size:1.4rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #8b96a3;border-radius:6px}
button{margin-top:1.25rem;width:100%;font:inherit;font-weight:600;padding:.6rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.alert{background:#fef3f2;border-left:4px solid #b42318;padding:.5rem .75rem;color:#7a1a12}.hint{color:#566270;font-size:.9rem}`;

function loginForm(uid, error, login = "") {
  return page(
    "Sign in",
    `${error ? `<p role="alert" class="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label for="login">Email</label><input id="login" name="login" type="email" required value="${escape(login)}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>
<p class="hint">Demo: ${escape(DEMO_ADMIN_EMAIL)} / ${escape(DEMO_PASSWORD)} (any email works with this password).</p>`,
  );
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error("form too large"));
    });
    req.on("end", () => resolve(new URLSearchParams(body)));
    req.on("error", reject);
  });
}

/**
 * Starts the provider on `port` (0 = any free port) and resolves to `{ issuer, port, close }`.
 * `redirectUris` are the console callbacks it accepts.
 */
export async function startDemoIdp({ port = 8789, host, issuerHost = "localhost", redirectUris, clientId = DEMO_CLIENT_ID, clientSecret = DEMO_CLIENT_SECRET } = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, host, resolve));
  const actualPort = server.address().port;
  const issuer = `http://${issuerHost}:${actualPort}`;
  const uris = typeof redirectUris === "function" ? redirectUris(issuer) : redirectUris;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: uris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "RS256",
        // auth_time in every ID token: the console's fresh-authentication rule reads it.
        require_auth_time: true,
      },
    ],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // Email and name in the ID token itself (the console never calls userinfo).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["portcullis-demo-idp-cookie-key"] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: sub, email_verified: true, name: sub.split("@")[0] }),
    }),
    ttl: { Session: 12 * 3600, Grant: 12 * 3600, Interaction: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = page("Sign-in error", `<p role="alert" class="alert">${escape(out.error_description ?? out.error)}</p>`);
    },
  });
  provider.proxy = false;
  const callback = provider.callback();

  server.on("request", async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === "/demo-idp.css") {
        res.writeHead(200, { "content-type": "text/css" }).end(CSS);
        return;
      }
      const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(url.pathname);
      if (!match) return callback(req, res);
      const details = await provider.interactionDetails(req, res);
      const html = (body, status = 200) =>
        res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": "default-src 'none'; style-src 'self'; frame-ancestors 'none'" }).end(body);
      if (details.prompt.name === "consent") {
        // The console is this demo's own first-party client: consent is implied.
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(" "));
        if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
        const grantId = await grant.save();
        return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      if (req.method === "GET") return html(loginForm(details.uid));
      if (req.method === "POST" && match[2]) {
        const form = await readForm(req);
        const login = (form.get("login") ?? "").trim().toLowerCase();
        if (!/^[^@\s]+@[^@\s]+$/.test(login) || form.get("password") !== DEMO_PASSWORD) {
          return html(loginForm(details.uid, "Wrong email or password.", login), 401);
        }
        return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      }
      res.writeHead(405).end();
    } catch (err) {
      res.writeHead(400, { "content-type": "text/plain" }).end(`demo IdP: ${err.message}`);
    }
  });

  return { issuer, port: actualPort, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.DEMO_IDP_PORT ?? 8789);
  const consoleUrl = process.env.CONSOLE_CALLBACK ?? "http://localhost:8787/_portcullis/v1/console/callback";
  const idp = await startDemoIdp({ port, redirectUris: [consoleUrl, consoleUrl.replace("localhost", "127.0.0.1")] });
  console.log(`Demo IdP on ${idp.issuer} (${DEMO_ADMIN_EMAIL} / ${DEMO_PASSWORD})`);
}
