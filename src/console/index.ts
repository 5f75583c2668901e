/**
 * The web console (SPEC §8) at `<prefix>/console`: OpenID Connect sign-in, server-side sessions
 * in D1, and the seeds' screens. Every action goes through the management API's own route
 * handlers in-process (`api()`), acting as the signed-in member with their live permissions, so
 * limits, states and permission checks have exactly one implementation.
 */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { withConsoleSubject } from "../auth/console-subject";
import type { Subject } from "../domain/subject";
import { withConfig, type Config } from "../config";
import { sessionSubject } from "../auth/session";
import { loadSessionUser } from "../db/auth";
import { guard, orm } from "../db/client";
import {
  chooseConsoleOrg,
  CONSOLE_LOGIN_MAX_MS,
  createConsoleSession,
  endConsoleSession,
  findConsoleSession,
  membershipsByEmail,
  organizationName,
  savePendingLogin,
  takePendingLogin,
  type ConsoleSession,
} from "../db/console";
import { listPermissionSets } from "../db/directory";
import type { AppEnv } from "../env";
import { PERMISSION } from "../domain/permissions";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets";
import { finishAuthorization, startAuthorization } from "./oidc";
import {
  activityPage,
  integrationsPage,
  myTokensPage,
  orgPickerPage,
  problemPage,
  serviceTokenPage,
  signedOutPage,
  type ActivityView,
  type ServiceTokenView,
  type Shown,
  type TokenView,
  type Viewer,
} from "./views";

/** The fresh-authentication window for generating a user token (SPEC §4, §8). */
const FRESH_AUTH_SECONDS = 300;
const SESSION_COOKIE = "portcullis_console";
const LOGIN_COOKIE = "portcullis_console_login";

interface ConsoleVars {
  member: Subject;
  session: ConsoleSession;
  rawSession: string;
  viewer: Viewer;
}
type ConsoleEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & ConsoleVars };
type Ctx = Context<ConsoleEnv>;

/** Fetches the management app in-process (see auth/console-subject.ts). */
export type ManagementFetch = (request: Request, env: AppEnv["Bindings"], ctx: ExecutionContext) => Response | Promise<Response>;

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const encoder = new TextEncoder();

/** The CSRF token of a session: a digest of its id, so it needs no storage and dies with it. */
async function csrfFor(rawSession: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`portcullis-console-csrf:${rawSession}`));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}

function isLocalHost(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
}

export function createConsoleApp(prefix: string, management: ManagementFetch) {
  const base = `${prefix}/console`;
  const app = new Hono<ConsoleEnv>();

  // Every console response, redirects and errors included (SPEC §8).
  app.use("*", async (c, next) => {
    await next();
    const oidc = c.get("config")?.oidc;
    const formTargets = oidc ? ` ${oidc.issuer.origin}` : "";
    c.res.headers.set(
      "content-security-policy",
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'${formTargets}; base-uri 'none'; frame-ancestors 'none'`,
    );
    c.res.headers.set("cache-control", "no-store");
    c.res.headers.set("x-content-type-options", "nosniff");
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own
    // form posts, which the Origin check would refuse; the IdP still gets no Referer.
    c.res.headers.set("referrer-policy", "same-origin");
    c.res.headers.set("x-frame-options", "DENY");
  });
  app.use("*", withConfig());

  app.get("/assets/console.css", (c) => c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8" }));
  app.get("/assets/console.js", (c) => c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8" }));

  const redirectUri = (c: Ctx) => new URL(`${base}/callback`, c.req.url).href;
  const cookieOptions = (c: Ctx, maxAge: number) => ({
    path: base,
    httpOnly: true,
    secure: !isLocalHost(new URL(c.req.url)),
    sameSite: "Lax" as const,
    maxAge,
  });

  /** Only a path inside the console may be a place to come back to (no open redirect). */
  const safeReturn = (value: string | undefined | null): string => {
    if (!value || !value.startsWith(`${base}/`) || value.startsWith("//") || value.includes("\\")) return `${base}/me/api-tokens`;
    return value;
  };

  /** Sends the browser to the IdP; `fresh` asks for a new authentication (SPEC §8). */
  async function signIn(c: Ctx, returnTo: string, fresh: boolean): Promise<Response> {
    const oidc = c.get("config").oidc;
    if (!oidc) return c.html(problemPage(prefix, "Sign-in is not configured", "This deployment has no identity provider for the console (set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET)."), 503);
    let start;
    try {
      start = await startAuthorization(oidc, redirectUri(c), fresh);
    } catch {
      return c.html(problemPage(prefix, "Sign-in is unavailable", "The identity provider could not be reached. Try again in a moment."), 503);
    }
    const loginId = randomId();
    await guard(
      () =>
        savePendingLogin(
          c.env.DB,
          loginId,
          { state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, returnTo: safeReturn(returnTo), maxAge: fresh ? 0 : null },
          Date.now(),
        ),
      { timeoutMs: c.get("config").dbTimeoutMs, retry: false },
    );
    setCookie(c, LOGIN_COOKIE, loginId, cookieOptions(c, CONSOLE_LOGIN_MAX_MS / 1000));
    return c.redirect(start.url.href, 302);
  }

  const refused = (c: Ctx, sentence: string, status: 400 | 403 = 403) =>
    c.html(problemPage(prefix, "Sign-in refused", sentence, undefined, { href: `${base}/me/api-tokens`, label: "Try again" }), status);

  app.get("/callback", async (c) => {
    const config = c.get("config");
    const oidc = config.oidc;
    if (!oidc) return c.html(problemPage(prefix, "Sign-in is not configured", "This deployment has no identity provider for the console."), 503);
    const loginId = getCookie(c, LOGIN_COOKIE);
    deleteCookie(c, LOGIN_COOKIE, { path: base });
    const now = Date.now();
    const pending = loginId ? await guard(() => takePendingLogin(c.env.DB, loginId, now), { timeoutMs: config.dbTimeoutMs, retry: false }) : null;
    if (!pending) return refused(c, "This sign-in was not started in this browser, was already used, or took longer than 10 minutes.", 400);
    const result = await finishAuthorization(oidc, redirectUri(c), new URL(c.req.url), pending);
    if (!result.ok) return refused(c, result.reason);
    const memberships = await guard(() => membershipsByEmail(c.env.DB, result.email), { timeoutMs: config.dbTimeoutMs, retry: true });
    if (memberships.length === 0) return refused(c, `${result.email} is not an active member of any organization here. Ask an administrator to add you.`);
    const rawSession = randomId();
    const only = memberships.length === 1 ? memberships[0]! : null;
    await guard(
      () =>
        createConsoleSession(c.env.DB, {
          rawId: rawSession,
          email: result.email,
          orgId: only?.orgId ?? null,
          userId: only?.userId ?? null,
          authTime: result.authTime,
          now,
        }),
      { timeoutMs: config.dbTimeoutMs, retry: false },
    );
    setCookie(c, SESSION_COOKIE, rawSession, cookieOptions(c, 12 * 60 * 60));
    if (!only) return c.redirect(`${base}/orgs?return_to=${encodeURIComponent(pending.returnTo)}`, 303);
    return c.redirect(pending.returnTo, 303);
  });

  /** The session of this browser, or null; its org may not be chosen yet. */
  async function currentSession(c: Ctx): Promise<{ raw: string; session: ConsoleSession } | null> {
    const raw = getCookie(c, SESSION_COOKIE);
    if (!raw) return null;
    const session = await guard(() => findConsoleSession(c.env.DB, raw, Date.now()), { timeoutMs: c.get("config").dbTimeoutMs, retry: true });
    return session ? { raw, session } : null;
  }

  app.get("/orgs", async (c) => {
    const current = await currentSession(c);
    if (!current) return signIn(c, `${base}/orgs`, false);
    const orgs = await guard(() => membershipsByEmail(c.env.DB, current.session.email), { timeoutMs: c.get("config").dbTimeoutMs, retry: true });
    return c.html(orgPickerPage(prefix, current.session.email, orgs, await csrfFor(current.raw)));
  });

  app.get("/orgs/:orgId", async (c) => {
    const current = await currentSession(c);
    if (!current) return signIn(c, `${base}/orgs`, false);
    if (!(await sameSecret(c.req.query("csrf") ?? "", await csrfFor(current.raw)))) {
      return c.html(problemPage(prefix, "Request refused", "This link did not come from your console session. Choose the organization again."), 403);
    }
    const orgs = await guard(() => membershipsByEmail(c.env.DB, current.session.email), { timeoutMs: c.get("config").dbTimeoutMs, retry: true });
    const chosen = orgs.find((o) => o.orgId === c.req.param("orgId"));
    if (!chosen) return c.html(problemPage(prefix, "Not a member", "You are not an active member of that organization."), 403);
    // Switching organizations starts a new session (a new id), like signing in to it.
    const rawSession = randomId();
    const now = Date.now();
    await guard(
      async () => {
        await createConsoleSession(c.env.DB, { rawId: rawSession, email: current.session.email, orgId: null, userId: null, authTime: current.session.authTime, now });
        await chooseConsoleOrg(c.env.DB, rawSession, chosen.orgId, chosen.userId);
        await endConsoleSession(c.env.DB, current.raw);
      },
      { timeoutMs: c.get("config").dbTimeoutMs, retry: false },
    );
    setCookie(c, SESSION_COOKIE, rawSession, cookieOptions(c, 12 * 60 * 60));
    return c.redirect(safeReturn(c.req.query("return_to")), 303);
  });

  app.post("/logout", async (c) => {
    const current = await currentSession(c);
    if (current) {
      const refusal = await checkCsrf(c, current.raw);
      if (refusal) return refusal;
      await guard(() => endConsoleSession(c.env.DB, current.raw), { timeoutMs: c.get("config").dbTimeoutMs, retry: false });
    }
    deleteCookie(c, SESSION_COOKIE, { path: base });
    return c.html(signedOutPage(prefix));
  });

  /** CSRF token bound to the session, and an Origin equal to ours (SPEC §8). */
  async function checkCsrf(c: Ctx, rawSession: string): Promise<Response | null> {
    const origin = c.req.header("origin");
    if (origin !== new URL(c.req.url).origin) {
      return c.html(problemPage(prefix, "Request refused", "This request came from another site, so it was refused. Nothing was changed."), 403);
    }
    const form = await c.req.parseBody({ all: true });
    c.set("form" as never, form as never);
    const sent = typeof form["csrf"] === "string" ? form["csrf"] : "";
    if (!(await sameSecret(sent, await csrfFor(rawSession)))) {
      return c.html(problemPage(prefix, "Request refused", "This form has expired or did not come from your console session. Reload the page and try again. Nothing was changed."), 403);
    }
    return null;
  }

  // Everything below needs a signed-in member of one organization.
  app.use("*", async (c, next) => {
    const here = new URL(c.req.url);
    // A form posted after the session ended comes back to the console's first screen.
    const returnTo = c.req.method === "GET" ? here.pathname + here.search : `${base}/me/api-tokens`;
    const current = await currentSession(c);
    if (!current) return signIn(c, returnTo, false);
    if (!current.session.orgId || !current.session.userId) return c.redirect(`${base}/orgs?return_to=${encodeURIComponent(returnTo)}`, 303);
    const config = c.get("config");
    const { orgId, userId } = current.session;
    const user = await guard(() => loadSessionUser(c.env.DB, orgId, userId), { timeoutMs: config.dbTimeoutMs, retry: true });
    if (!user || user.status !== "active") {
      // Deactivation or removal ends the session at once (SPEC §8).
      await guard(() => endConsoleSession(c.env.DB, current.raw), { timeoutMs: config.dbTimeoutMs, retry: false });
      deleteCookie(c, SESSION_COOKIE, { path: base });
      return c.html(problemPage(prefix, "Signed out", "You are no longer an active member of this organization, so your console session has ended."), 403);
    }
    if (c.req.method !== "GET") {
      const refusal = await checkCsrf(c, current.raw);
      if (refusal) return refusal;
    }
    const org = await guard(() => organizationName(c.env.DB, orgId), {
      timeoutMs: config.dbTimeoutMs,
      retry: true,
    });
    const member = sessionSubject(user, current.session.authTime);
    c.set("member", member);
    c.set("session", current.session);
    c.set("rawSession", current.raw);
    c.set("viewer", {
      name: user.name,
      email: current.session.email,
      orgName: org?.name ?? "",
      canManageIntegrations: user.permissions.includes(PERMISSION.integrationsManage),
      canReadActivityLog: user.permissions.includes(PERMISSION.auditLog),
      csrf: await csrfFor(current.raw),
    });
    return next();
  });

  /** One management API call as the signed-in member, through the API's own handlers. */
  async function api<T>(c: Ctx, method: string, path: string, body?: unknown): Promise<{ status: number; data: T | null; error: string | null; code: string | null }> {
    const init: RequestInit = { method, headers: body === undefined ? {} : { "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    // Management routes are relative to the prefix (app.ts mounts them there).
    const request = withConsoleSubject(new Request(new URL(path, c.req.url), init), c.get("member"));
    const response = await management(request, c.env, c.executionCtx as ExecutionContext);
    if (response.status === 204) return { status: 204, data: null, error: null, code: null };
    const json = (await response.json()) as T & { error?: { code: string; message: string } };
    if (!response.ok) return { status: response.status, data: null, error: json.error?.message ?? "Something went wrong.", code: json.error?.code ?? null };
    return { status: response.status, data: json, error: null, code: null };
  }

  const formOf = (c: Ctx) => c.get("form" as never) as unknown as Record<string, string | File | (string | File)[]>;
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : typeof value === "string" ? [value] : []);
  const isFresh = (c: Ctx) => {
    const authTime = c.get("session").authTime;
    const age = Math.floor(Date.now() / 1000) - authTime;
    return age >= 0 && age <= FRESH_AUTH_SECONDS;
  };
  const forbidden = (c: Ctx, sentence: string) => c.html(problemPage(prefix, "Not allowed", sentence, c.get("viewer")), 403);
  const status = (s: number) => (s >= 400 && s < 600 ? (s as 400) : 200);

  app.get("/", (c) => c.redirect(`${base}/me/api-tokens`, 303));

  // --- My API tokens (SPEC §8) ---
  async function renderMine(c: Ctx, shown: Shown, extra: { secret?: string; openGenerate?: { name: string } } = {}, code = 200) {
    const result = await api<{ data: TokenView[] }>(c, "GET", `/me/api-tokens?limit=200`);
    if (!result.data) return forbidden(c, result.error ?? "You cannot see API tokens here.");
    return c.html(
      myTokensPage({ prefix, viewer: c.get("viewer"), tokens: result.data.data.slice().reverse(), now: Date.now(), shown, fresh: isFresh(c), ...extra }),
      status(code),
    );
  }

  app.get("/me/api-tokens", (c) => {
    const open = c.req.query("generate") === "1" ? { name: c.req.query("name") ?? "" } : undefined;
    return renderMine(c, {}, open ? { openGenerate: open } : {});
  });

  // "Generate API token" without a fresh sign-in: the seeds' password prompt is the IdP's.
  app.get("/me/api-tokens/generate", (c) => {
    if (!isFresh(c)) return signIn(c, `${base}/me/api-tokens?generate=1`, true);
    return c.redirect(`${base}/me/api-tokens?generate=1`, 303);
  });

  app.post("/me/api-tokens", async (c) => {
    const name = text(formOf(c)["name"]).trim();
    if (!isFresh(c)) return signIn(c, `${base}/me/api-tokens?generate=1&name=${encodeURIComponent(name)}`, true);
    const result = await api<TokenView & { token: string }>(c, "POST", `/me/api-tokens`, { name });
    if (result.code === "reauthentication_required") return signIn(c, `${base}/me/api-tokens?generate=1&name=${encodeURIComponent(name)}`, true);
    if (!result.data) return renderMine(c, { error: sentenceFor(result.code, result.error) }, {}, result.status);
    return renderMine(c, { notice: `API token “${result.data.name}” generated.` }, { secret: result.data.token });
  });

  app.post("/me/api-tokens/:id/revoke", async (c) => {
    const result = await api<TokenView>(c, "POST", `/me/api-tokens/${encodeURIComponent(c.req.param("id"))}/revoke`);
    if (!result.data) return renderMine(c, { error: sentenceFor(result.code, result.error) }, {}, result.status);
    return renderMine(c, { notice: `API token “${result.data.name}” revoked.` });
  });

  // --- Integrations → API tokens (SPEC §8) ---
  async function permissionSetsOf(c: Ctx) {
    const sets = await guard(() => listPermissionSets(orm(c.env.DB), c.get("member").orgId, { afterId: null, limit: 500 }), {
      timeoutMs: c.get("config").dbTimeoutMs,
      retry: true,
    });
    return sets.map((s) => ({ id: s.id, name: s.name }));
  }

  async function renderIntegrations(c: Ctx, shown: Shown, extra: { secret?: string; openCreate?: { name: string; inactivityDays: number; permissionSetIds: string[] | null } } = {}, code = 200) {
    const result = await api<{ data: ServiceTokenView[] }>(c, "GET", `/service-tokens?limit=200`);
    if (!result.data) return forbidden(c, result.code === "insufficient_permissions" || result.status === 403 ? "Managing integrations needs the integrations.manage permission, which you do not have." : (result.error ?? "Not allowed."));
    return c.html(
      integrationsPage({ prefix, viewer: c.get("viewer"), tokens: result.data.data.slice().reverse(), permissionSets: await permissionSetsOf(c), now: Date.now(), shown, ...extra }),
      status(code),
    );
  }

  app.get("/integrations/api-tokens", (c) =>
    renderIntegrations(c, {}, c.req.query("create") === "1" ? { openCreate: { name: "", inactivityDays: 45, permissionSetIds: null } } : {}),
  );

  app.post("/integrations/api-tokens", async (c) => {
    const form = formOf(c);
    const name = text(form["name"]).trim();
    const inactivityDays = Number(text(form["inactivity_days"]) || "45");
    const permissionSetIds = list(form["permission_set_ids"]);
    const result = await api<ServiceTokenView & { token: string }>(c, "POST", `/service-tokens`, {
      name,
      inactivity_days: inactivityDays,
      permission_set_ids: permissionSetIds,
    });
    if (!result.data) {
      if (result.status === 403) return forbidden(c, "Managing integrations needs the integrations.manage permission, which you do not have.");
      return renderIntegrations(c, { error: sentenceFor(result.code, result.error) }, { openCreate: { name, inactivityDays, permissionSetIds } }, result.status);
    }
    return renderIntegrations(c, { notice: `API token “${result.data.name}” created.` }, { secret: result.data.token });
  });

  app.get("/integrations/api-tokens/:id", async (c) => {
    const result = await api<ServiceTokenView>(c, "GET", `/service-tokens/${encodeURIComponent(c.req.param("id"))}`);
    if (!result.data) {
      if (result.status === 404) return c.html(problemPage(prefix, "Not found", "There is no such API token in this organization.", c.get("viewer")), 404);
      return forbidden(c, "Managing integrations needs the integrations.manage permission, which you do not have.");
    }
    const saved = c.req.query("saved") === "1" ? { notice: "Changes saved." } : {};
    return c.html(serviceTokenPage({ prefix, viewer: c.get("viewer"), token: result.data, permissionSets: await permissionSetsOf(c), now: Date.now(), shown: saved }));
  });

  app.post("/integrations/api-tokens/:id", async (c) => {
    const id = c.req.param("id");
    const form = formOf(c);
    const result = await api<ServiceTokenView>(c, "PATCH", `/service-tokens/${encodeURIComponent(id)}`, {
      name: text(form["name"]).trim(),
      inactivity_days: Number(text(form["inactivity_days"])),
      permission_set_ids: list(form["permission_set_ids"]),
    });
    if (result.data) return c.redirect(`${base}/integrations/api-tokens/${encodeURIComponent(id)}?saved=1`, 303);
    if (result.status === 403) return forbidden(c, "Managing integrations needs the integrations.manage permission, which you do not have.");
    const current = await api<ServiceTokenView>(c, "GET", `/service-tokens/${encodeURIComponent(id)}`);
    if (!current.data) return c.html(problemPage(prefix, "Not found", "There is no such API token in this organization.", c.get("viewer")), 404);
    return c.html(
      serviceTokenPage({ prefix, viewer: c.get("viewer"), token: current.data, permissionSets: await permissionSetsOf(c), now: Date.now(), shown: { error: sentenceFor(result.code, result.error) } }),
      status(result.status),
    );
  });

  for (const action of ["revoke", "regenerate", "delete"] as const) {
    app.post(`/integrations/api-tokens/:id/${action}`, async (c) => {
      const id = encodeURIComponent(c.req.param("id"));
      const result =
        action === "delete"
          ? await api<null>(c, "DELETE", `/service-tokens/${id}`)
          : await api<ServiceTokenView & { token?: string }>(c, "POST", `/service-tokens/${id}/${action}`);
      if (result.error) {
        if (result.status === 403) return forbidden(c, "Managing integrations needs the integrations.manage permission, which you do not have.");
        return renderIntegrations(c, { error: sentenceFor(result.code, result.error) }, {}, result.status);
      }
      const done = { revoke: "API token revoked.", regenerate: "API token regenerated.", delete: "API token deleted." }[action];
      const secret = action === "regenerate" ? (result.data as { token?: string } | null)?.token : undefined;
      return renderIntegrations(c, { notice: done }, secret ? { secret } : {});
    });
  }

  // --- Activity log (SPEC §8) ---
  app.get("/activity-log", async (c) => {
    const cursor = c.req.query("cursor");
    const result = await api<{ data: ActivityView[]; next_cursor: string | null }>(
      c,
      "GET",
      `/activity-log?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    if (!result.data) {
      if (result.status === 400) return c.html(problemPage(prefix, "Not found", "That page of the activity log does not exist.", c.get("viewer")), 404);
      return forbidden(c, "The activity log needs the platform_management.audit_log permission, which you do not have.");
    }
    const next = result.data.next_cursor ? `${base}/activity-log?cursor=${encodeURIComponent(result.data.next_cursor)}` : null;
    return c.html(activityPage({ prefix, viewer: c.get("viewer"), events: result.data.data, now: Date.now(), nextHref: next }));
  });

  app.all("*", (c) => c.html(problemPage(prefix, "Not found", "There is no such page in the console.", c.get("viewer")), 404));
  app.onError((err, c) => {
    const unavailable = err instanceof Error && err.name === "StorageUnavailableError";
    return c.html(
      problemPage(prefix, unavailable ? "Temporarily unavailable" : "Something went wrong", unavailable ? "Storage is unavailable right now. Nothing was changed; try again in a moment." : "The console hit an unexpected error. Try again."),
      unavailable ? 503 : 500,
    );
  });
  return app;
}

/**
 * API errors in the console's words (SPEC §8: never a raw JSON body). The management API's
 * messages are already sentences for a person (errors.ts), so they are shown as they are.
 */
function sentenceFor(_code: string | null, message: string | null): string {
  return message ?? "That did not work. Try again.";
}
