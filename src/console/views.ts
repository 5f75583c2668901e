/**
 * The console's screens (SPEC §8), server-rendered with Hono's `html` template, which escapes
 * every interpolated value. The accessible names of links, buttons, fields, columns and dialogs
 * are the contract's words; confirmations and secrets are modal `<dialog>`s opened by the served
 * script (assets.ts). No inline script or style anywhere.
 */
import type { z } from "@hono/zod-openapi";
import type { ServiceTokenSchema, UserApiTokenSchema } from "../management/token-resource";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS, SERVICE_TOKEN_INACTIVITY_DAYS } from "../domain/tokens";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface Viewer {
  name: string;
  email: string;
  orgName: string;
  canManageIntegrations: boolean;
  canReadActivityLog: boolean;
  csrf: string;
}

/** A user API token as the management API returns it (the console reads it through `api()`). */
export type TokenView = z.infer<typeof UserApiTokenSchema>;

/** A service user API token as the management API returns it. */
export type ServiceTokenView = z.infer<typeof ServiceTokenSchema>;

export interface Shown {
  /** A sentence for the role="alert" region. */
  error?: string | undefined;
  /** A sentence for the role="status" region. */
  notice?: string | undefined;
}

const STATUS_LABEL = { active: "Active", revoked: "Revoked", expired: "Expired" } as const;

/** "in 29 days", "3 hours ago": the reader's words, with the exact ISO time in the tooltip. */
export function relativeTime(iso: string | null, now: number): Html | string {
  if (!iso) return "Never";
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  // Days up to a year ("in 45 days" reads better than "in 2 months" next to a 45-day window).
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["year", 366 * 86_400_000],
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
  ];
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  let words = "just now";
  for (const [unit, ms] of units) {
    if (abs >= ms) {
      words = format.format(Math.round(diff / ms), unit);
      break;
    }
  }
  return html`<time datetime="${iso}" title="${iso}">${words}</time>`;
}

export function layout(opts: { title: string; prefix: string; viewer?: Viewer | undefined; current?: string; body: Html }): Html {
  const base = `${opts.prefix}/console`;
  const v = opts.viewer;
  const link = (href: string, label: string, key: string) =>
    html`<a href="${href}"${opts.current === key ? html` aria-current="page"` : ""}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Portcullis</title>
<link rel="stylesheet" href="${base}/assets/console.css">
<script src="${base}/assets/console.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand"><span class="mark" aria-hidden="true">▚</span> Portcullis</div>
  ${v
    ? html`<nav aria-label="Console">
    ${link(`${base}/me/api-tokens`, "API tokens", "me")}
    ${v.canManageIntegrations ? link(`${base}/integrations/api-tokens`, "Integrations", "integrations") : ""}
    ${v.canReadActivityLog ? link(`${base}/activity-log`, "Activity log", "activity") : ""}
  </nav>
  <div class="who">
    <span class="person"><strong>${v.name}</strong> <span class="muted">${v.orgName}</span></span>
    <form method="post" action="${base}/logout"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit" class="quiet">Sign out</button></form>
  </div>`
    : ""}
</header>
<main id="main">
${opts.body}
</main>
<footer class="foot"><a href="${opts.prefix}/docs">API reference</a></footer>
</body>
</html>`;
}

/** A screen listing tokens: its heading (title, intro, the button that adds one), the messages, then `body`. */
function listPage(opts: { title: string; prefix: string; viewer: Viewer; current: string; intro: Html; add: Html; shown: Shown; body: Html }): Html {
  return layout({
    title: opts.title,
    prefix: opts.prefix,
    viewer: opts.viewer,
    current: opts.current,
    body: html`<div class="heading">
  <div>
    <h1>${opts.title}</h1>
    ${opts.intro}
  </div>
  ${opts.add}
</div>
${messages(opts.shown)}
${opts.body}`,
  });
}

export function messages(shown: Shown): Html {
  return html`<div role="alert" class="${shown.error ? "alert" : "alert empty"}">${shown.error ?? ""}</div>
<div role="status" class="${shown.notice ? "notice" : "notice empty"}">${shown.notice ?? ""}</div>`;
}

/** A page in words for a refusal: sign-in failures, 403, 404. */
export function problemPage(prefix: string, title: string, sentence: string, viewer?: Viewer, action?: { href: string; label: string }): Html {
  return layout({
    title,
    prefix,
    viewer,
    body: html`<section class="card narrow">
  <h1>${title}</h1>
  <p role="alert" class="alert">${sentence}</p>
  ${action ? html`<p><a class="button" href="${action.href}">${action.label}</a></p>` : ""}
</section>`,
  });
}

export function signedOutPage(prefix: string): Html {
  return layout({
    title: "Signed out",
    prefix,
    body: html`<section class="card narrow">
  <h1>You are signed out</h1>
  <p role="status">Your console session has ended.</p>
  <p><a class="button" href="${prefix}/console/me/api-tokens">Sign in again</a></p>
</section>`,
  });
}

export function orgPickerPage(prefix: string, email: string, orgs: { orgId: string; orgName: string }[], csrf: string): Html {
  return layout({
    title: "Choose an organization",
    prefix,
    body: html`<section class="card narrow">
  <h1>Choose an organization</h1>
  <p>${email} is a member of several organizations. API tokens belong to one organization each.</p>
  <ul class="orgs">
    ${orgs.map((o) => html`<li><a href="${prefix}/console/orgs/${o.orgId}?csrf=${csrf}">${o.orgName}</a></li>`)}
  </ul>
</section>`,
  });
}

function statusCell(status: TokenView["status"]): Html {
  return html`<span class="badge ${status}">${STATUS_LABEL[status]}</span>`;
}

function secretDialog(token: string, doneHref: string): Html {
  return html`<dialog id="secret-dialog" aria-labelledby="secret-title" data-open>
  <h2 id="secret-title">Your new API token</h2>
  <p class="warning" id="secret-warning">Copy this token now and store it safely. It will not be shown again.</p>
  <label for="secret-value">API token</label>
  <div class="secret-row">
    <input id="secret-value" type="text" readonly value="${token}" aria-describedby="secret-warning" spellcheck="false" autocomplete="off">
    <button type="button" data-copy="secret-value">Copy</button>
  </div>
  <p role="status" class="copied" id="copy-status"></p>
  <form method="get" action="${doneHref}" class="actions"><button type="submit" class="primary">Done</button></form>
</dialog>`;
}

function confirmDialog(opts: { id: string; title: string; text: string; action: string; button: string; csrf: string; danger?: boolean }): Html {
  return html`<dialog id="${opts.id}" aria-labelledby="${opts.id}-title">
  <h2 id="${opts.id}-title">${opts.title}</h2>
  <p>${opts.text}</p>
  <form method="post" action="${opts.action}" class="actions">
    <input type="hidden" name="csrf" value="${opts.csrf}">
    <button type="button" data-close>Cancel</button>
    <button type="submit" class="${opts.danger ? "danger" : "primary"}">${opts.button}</button>
  </form>
</dialog>`;
}

export function myTokensPage(opts: {
  prefix: string;
  viewer: Viewer;
  tokens: TokenView[];
  now: number;
  shown: Shown;
  secret?: string | undefined;
  openGenerate?: { name: string } | undefined;
  fresh: boolean;
}): Html {
  const base = `${opts.prefix}/console/me/api-tokens`;
  const { viewer } = opts;
  return listPage({
    title: "API tokens",
    prefix: opts.prefix,
    viewer,
    current: "me",
    intro: html`<p class="muted">Your personal tokens act with your own permissions, groups and sites in ${viewer.orgName}. Each expires after 30 days without use; you can have 10 active at a time.</p>`,
    add: html`<form method="get" action="${base}/generate"><button type="submit" class="primary" ${opts.fresh ? html`data-dialog="generate-dialog"` : ""}>Generate API token</button></form>`,
    shown: opts.shown,
    body: html`${tokenTable(opts.tokens, opts.now, (t) =>
  t.status === "active"
    ? html`<button type="button" class="danger-quiet" data-dialog="revoke-${t.id}">Revoke</button>
${confirmDialog({ id: `revoke-${t.id}`, title: "Revoke API token", text: `Revoke “${t.name}” (${t.hint})? Anything using it stops working on its next request. This cannot be undone.`, action: `${base}/${t.id}/revoke`, button: "Revoke", csrf: viewer.csrf, danger: true })}`
    : "",
  "You have no API tokens in this organization yet.",
)}
<dialog id="generate-dialog" aria-labelledby="generate-title"${opts.openGenerate ? html` data-open` : ""}>
  <h2 id="generate-title">Generate API token</h2>
  <form method="post" action="${base}">
    <input type="hidden" name="csrf" value="${viewer.csrf}">
    <label for="generate-name">Name</label>
    <input id="generate-name" name="name" type="text" required maxlength="100" autocomplete="off" value="${opts.openGenerate?.name ?? ""}" aria-describedby="generate-help">
    <p class="muted" id="generate-help">A name that tells you where the token is used, e.g. “Reporting script”.</p>
    <div class="actions">
      <button type="button" data-close>Cancel</button>
      <button type="submit" class="primary">Generate</button>
    </div>
  </form>
</dialog>
${opts.secret ? secretDialog(opts.secret, base) : ""}`,
  });
}

function tokenTable<T extends TokenView>(tokens: T[], now: number, actions: (t: T) => Html | string, empty: string, extra?: { head: string; cell: (t: T) => Html | string; nameHref?: (t: T) => string }): Html {
  if (tokens.length === 0) return html`<p class="empty-state">${empty}</p>`;
  return html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Name</th><th scope="col">Token</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th>${extra ? html`<th scope="col">${extra.head}</th>` : ""}<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
  <tbody>
  ${tokens.map(
    (t) => html`<tr>
    <td>${extra?.nameHref ? html`<a href="${extra.nameHref(t)}">${t.name}</a>` : t.name}</td>
    <td><code>${t.hint}</code></td>
    <td>${statusCell(t.status)}</td>
    <td>${relativeTime(t.created_at, now)}</td>
    <td>${relativeTime(t.last_used_at, now)}</td>
    <td>${t.status === "revoked" ? "—" : relativeTime(t.expires_at, now)}</td>
    ${extra ? html`<td>${extra.cell(t)}</td>` : ""}
    <td class="row-actions">${actions(t)}</td>
  </tr>`,
  )}
  </tbody>
</table></div>`;
}

function windowSelect(selected: number): Html {
  return html`<label for="inactivity">Expires after inactivity</label>
<select id="inactivity" name="inactivity_days">
  ${SERVICE_TOKEN_INACTIVITY_DAYS.map((d) => html`<option value="${d}"${d === selected ? html` selected` : ""}>${d} days</option>`)}
</select>`;
}

function permissionFieldset(sets: { id: string; name: string }[], checked: (id: string) => boolean): Html {
  return html`<fieldset>
  <legend>Permission sets</legend>
  ${sets.length === 0 ? html`<p class="muted">This organization has no permission sets yet.</p>` : ""}
  ${sets.map(
    (s) => html`<div class="check"><input type="checkbox" id="ps-${s.id}" name="permission_set_ids" value="${s.id}"${checked(s.id) ? html` checked` : ""}><label for="ps-${s.id}">${s.name}</label></div>`,
  )}
</fieldset>`;
}

export function integrationsPage(opts: {
  prefix: string;
  viewer: Viewer;
  tokens: ServiceTokenView[];
  permissionSets: { id: string; name: string }[];
  now: number;
  shown: Shown;
  secret?: string | undefined;
  openCreate?: { name: string; inactivityDays: number; permissionSetIds: string[] | null } | undefined;
}): Html {
  const base = `${opts.prefix}/console/integrations/api-tokens`;
  const { viewer } = opts;
  const form = opts.openCreate;
  const action = (t: ServiceTokenView): Html | string => {
    if (t.status === "active") {
      return html`<button type="button" class="danger-quiet" data-dialog="revoke-${t.id}">Revoke</button>
${confirmDialog({ id: `revoke-${t.id}`, title: "Revoke API token", text: `Revoke “${t.name}” (${t.hint})? Integrations using it stop working on their next request. You can regenerate it later.`, action: `${base}/${t.id}/revoke`, button: "Revoke", csrf: viewer.csrf, danger: true })}`;
    }
    const regenerate =
      t.status === "revoked"
        ? html`<button type="button" data-dialog="regenerate-${t.id}">Regenerate</button>
${confirmDialog({ id: `regenerate-${t.id}`, title: "Regenerate API token", text: `Regenerate “${t.name}”? A new secret is shown once; the old one never works again.`, action: `${base}/${t.id}/regenerate`, button: "Confirm", csrf: viewer.csrf })}`
        : "";
    return html`${regenerate}<button type="button" class="danger-quiet" data-dialog="delete-${t.id}">Delete</button>
${confirmDialog({ id: `delete-${t.id}`, title: "Delete API token", text: `Delete “${t.name}” and its service user permanently? This cannot be undone.`, action: `${base}/${t.id}/delete`, button: "Delete", csrf: viewer.csrf, danger: true })}`;
  };
  return listPage({
    title: "Integrations",
    prefix: opts.prefix,
    viewer,
    current: "integrations",
    intro: html`<p class="tabs"><span aria-current="page">API tokens</span></p>
    <p class="muted">Service user API tokens act as their own service user, with the permission sets you choose. An organization can have 20 active.</p>`,
    add: html`<form method="get" action="${base}"><input type="hidden" name="create" value="1"><button type="submit" class="primary" data-dialog="create-dialog">Create API token</button></form>`,
    shown: opts.shown,
    body: html`${tokenTable(opts.tokens, opts.now, action, "No service user API tokens yet.", {
  head: "Expires after inactivity",
  cell: (t) => `${t.inactivity_days} days`,
  nameHref: (t) => `${base}/${t.id}`,
})}
<dialog id="create-dialog" aria-labelledby="create-title"${form ? html` data-open` : ""}>
  <h2 id="create-title">Create API token</h2>
  <form method="post" action="${base}">
    <input type="hidden" name="csrf" value="${viewer.csrf}">
    <label for="create-name">Name</label>
    <input id="create-name" name="name" type="text" required maxlength="100" autocomplete="off" value="${form?.name ?? ""}">
    ${windowSelect(form?.inactivityDays ?? DEFAULT_SERVICE_TOKEN_INACTIVITY_DAYS)}
    ${permissionFieldset(opts.permissionSets, (id) => (form?.permissionSetIds ? form.permissionSetIds.includes(id) : true))}
    <div class="actions">
      <button type="button" data-close>Cancel</button>
      <button type="submit" class="primary">Create token</button>
    </div>
  </form>
</dialog>
${opts.secret ? secretDialog(opts.secret, base) : ""}`,
  });
}

export function serviceTokenPage(opts: {
  prefix: string;
  viewer: Viewer;
  token: ServiceTokenView;
  permissionSets: { id: string; name: string }[];
  now: number;
  shown: Shown;
}): Html {
  const base = `${opts.prefix}/console/integrations/api-tokens`;
  const t = opts.token;
  return layout({
    title: t.name,
    prefix: opts.prefix,
    viewer: opts.viewer,
    current: "integrations",
    body: html`<p class="crumbs"><a href="${base}">← All service user tokens</a></p>
<h1>${t.name}</h1>
<dl class="facts">
  <div><dt>Token</dt><dd><code>${t.hint}</code></dd></div>
  <div><dt>Status</dt><dd>${statusCell(t.status)}</dd></div>
  <div><dt>Service user</dt><dd>${t.service_user.name}</dd></div>
  <div><dt>Created</dt><dd>${relativeTime(t.created_at, opts.now)}</dd></div>
  <div><dt>Last used</dt><dd>${relativeTime(t.last_used_at, opts.now)}</dd></div>
  <div><dt>Expires</dt><dd>${t.status === "revoked" ? "—" : relativeTime(t.expires_at, opts.now)}</dd></div>
</dl>
${messages(opts.shown)}
<form method="post" action="${base}/${t.id}" class="card">
  <input type="hidden" name="csrf" value="${opts.viewer.csrf}">
  <label for="edit-name">Name</label>
  <input id="edit-name" name="name" type="text" required maxlength="100" value="${t.name}">
  ${windowSelect(t.inactivity_days)}
  ${permissionFieldset(opts.permissionSets, (id) => t.permission_set_ids.includes(id))}
  <div class="actions"><button type="submit" class="primary">Save changes</button></div>
</form>`,
  });
}

export interface ActivityView {
  id: string;
  type: string;
  occurred_at: string;
  actor: { name: string; type: string };
  target: { name: string | null } | null;
}

export function activityPage(opts: { prefix: string; viewer: Viewer; events: ActivityView[]; now: number; nextHref: string | null }): Html {
  return layout({
    title: "Activity log",
    prefix: opts.prefix,
    viewer: opts.viewer,
    current: "activity",
    body: html`<h1>Activity log</h1>
<p class="muted">Every token and directory change in ${opts.viewer.orgName}, newest first.</p>
${opts.events.length === 0
  ? html`<p class="empty-state">Nothing has happened yet.</p>`
  : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Event</th><th scope="col">Subject</th></tr></thead>
  <tbody>
  ${opts.events.map(
    (e) => html`<tr><td>${relativeTime(e.occurred_at, opts.now)}</td><td>${e.actor.name}</td><td><code>${e.type}</code></td><td>${e.target?.name ?? ""}</td></tr>`,
  )}
  </tbody>
</table></div>`}
${opts.nextHref ? html`<p><a href="${opts.nextHref}">Older events</a></p>` : ""}`,
  });
}
