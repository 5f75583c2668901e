// The web console end to end in a real Chromium (SPEC §8): sign-in at the demo IdP, every screen
// by its accessible names, the secret shown once, fresh authentication, CSRF and Origin checks,
// visibility by permission, deactivation ending the session, axe-core on every screen.
import { readFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { readdirSync } from "node:fs";
import { SignJWT } from "jose";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const base = inject("consoleBase");
const origin = new URL(base).origin;
const prefix = "/_portcullis/v1";
const SHOTS = path.resolve(import.meta.dirname, "../../.screenshots");
const AXE = readFileSync(path.resolve(import.meta.dirname, "../../node_modules/axe-core/axe.min.js"), "utf8");

let browser: Browser;
let adminJwt: string;
let orgId: string;
const axeResults: Record<string, number> = {};

async function api(method: string, p: string, body?: unknown, bearer = adminJwt) {
  const res = await fetch(`${origin}${prefix}${p}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : null,
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
}

async function sessionJwt(sub: string) {
  return new SignJWT({ org: orgId, auth_time: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuer("portcullis-demo-idp")
    .setAudience("portcullis")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode("browser-session-secret"));
}

/** Waits for a URL; on a timeout, says where the browser is and what the page says. */
async function arrive(page: Page, url: string | ((u: URL) => boolean)) {
  try {
    await page.waitForURL(url, { timeout: 20_000 });
  } catch (err) {
    const body = await page.locator("body").innerText().catch(() => "(no body)");
    throw new Error(`expected ${String(url)}, at ${page.url()}: ${body.slice(0, 500)}`, { cause: err });
  }
}

/** The text of the first match, once it is attached (playwright-core has no web-first assertions). */
async function textOf(locator: import("playwright-core").Locator): Promise<string> {
  await locator.first().waitFor();
  return (await locator.first().textContent()) ?? "";
}

/** axe-core on the current screen: no serious or critical violation. */
async function checkScreen(page: Page, name: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  const bad = violations.filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical");
  axeResults[name] = violations.length;
  expect(bad, `${name}: ${JSON.stringify(bad)}`).toEqual([]);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(context: BrowserContext, email: string, target = `${base}/me/api-tokens`) {
  const page = await context.newPage();
  await page.goto(target);
  await page.locator("input[name=login]").fill(email);
  await page.locator("input[name=password]").fill("portcullis-demo");
  await page.getByRole("button", { name: "Sign in" }).click();
  await arrive(page, (url) => url.href.startsWith(base));
  return page;
}

function consoleDb(): DatabaseSync {
  const dir = path.join(inject("persistDir"), "v3", "d1", "miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")!;
  return new DatabaseSync(path.join(dir, file));
}

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const res = await fetch(`${origin}${prefix}/orgs`, {
    method: "POST",
    headers: { authorization: `Bearer ${inject("adminSecret")}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Demo Inspections", admin: { name: "Ada Lovelace", email: "ada@demo.example" } }),
  });
  expect(res.status).toBe(201);
  const created = (await res.json()) as { org: { id: string }; admin: { id: string } };
  orgId = created.org.id;
  adminJwt = await sessionJwt(created.admin.id);
  const sets = await api("POST", "/permission-sets", { name: "Inspectors", permissions: ["inspections.view"] });
  expect(sets.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  console.log(`axe violations (all impacts) per screen: ${JSON.stringify(axeResults)}`);
});

describe("web console", () => {
  let context: BrowserContext;
  let page: Page;

  it("refuses a wrong password at the demo IdP, then signs the admin in and comes back to the page asked for", async () => {
    context = await browser.newContext();
    page = await context.newPage();
    const res = await page.goto(`${base}/activity-log`);
    expect(new URL(page.url()).origin).not.toBe(origin);
    expect(res?.status()).toBe(200);
    await checkScreen(page, "idp-sign-in");
    await page.locator("input[name=login]").fill("ada@demo.example");
    await page.locator("input[name=password]").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    expect((await textOf(page.getByRole("alert"))).trim()).toBe("Wrong email or password.");
    await page.locator("input[name=password]").fill("portcullis-demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await arrive(page, `${base}/activity-log`);
    await page.getByRole("link", { name: "API tokens" }).waitFor();
    await page.getByRole("link", { name: "Integrations" }).waitFor();
    await page.getByRole("link", { name: "Activity log" }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "portcullis_console")!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe("Lax");
  });

  let secret = "";
  it("generates a user token with the keyboard only, shows the secret once, and it works at the proxy", async () => {
    await page.getByRole("link", { name: "API tokens" }).click();
    await arrive(page, `${base}/me/api-tokens`);
    await checkScreen(page, "my-api-tokens-empty");
    const response = await page.goto(`${base}/me/api-tokens`);
    const headers = response!.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["cache-control"]).toBe("no-store");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    // Keyboard only: tab to the button, Enter, type, Enter.
    const button = page.getByRole("button", { name: "Generate API token" });
    for (let i = 0; i < 12 && !(await button.evaluate((b) => b === (globalThis as any).document.activeElement)); i++) await page.keyboard.press("Tab");
    expect(await button.evaluate((e) => e === (globalThis as any).document.activeElement)).toBe(true);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Generate API token" });
    await dialog.waitFor();
    expect(await dialog.getByLabel("Name").evaluate((e) => e === (globalThis as any).document.activeElement)).toBe(true);
    await page.keyboard.type("Reporting script");
    await checkScreen(page, "generate-dialog");
    await page.keyboard.press("Enter");
    const shown = page.getByRole("dialog", { name: "Your new API token" });
    await shown.waitFor();
    secret = await shown.getByLabel("API token").inputValue();
    expect(secret).toMatch(/^pcu_[0-9A-Za-z]{49}$/);
    expect(await textOf(shown)).toContain("will not be shown again");
    await checkScreen(page, "secret-dialog");
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/console/me/api-tokens") && !u.search.includes("generate"));
    await page.getByRole("row", { name: /Reporting script/ }).waitFor();
    expect(await page.content()).not.toContain(secret);
    const row = page.getByRole("row", { name: /Reporting script/ });
    expect(await textOf(row)).toContain("Active");
    expect(await textOf(row)).toContain(secret.slice(-4));
    const used = await fetch(`${origin}/anything`, { headers: { authorization: `Bearer ${secret}` } });
    expect(used.status).toBe(200);
  });

  it("refuses a state change without the session's CSRF token or from a foreign Origin", async () => {
    const id = (await api("GET", "/me/api-tokens")).json.data[0].id as string;
    const noToken = await page.request.post(`${base}/me/api-tokens/${id}/revoke`, { form: { csrf: "forged" }, headers: { origin } });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain("Nothing was changed");
    const csrf = await page.locator("input[name=csrf]").first().inputValue();
    const foreign = await page.request.post(`${base}/me/api-tokens/${id}/revoke`, { form: { csrf }, headers: { origin: "http://evil.example" } });
    expect(foreign.status()).toBe(403);
    expect(foreign.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect((await api("GET", "/me/api-tokens")).json.data[0].status).toBe("active");
  });

  it("revokes after a confirmation, and the proxy refuses the token on the next request", async () => {
    const row = page.getByRole("row", { name: /Reporting script/ });
    await row.getByRole("button", { name: "Revoke" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke API token" });
    await confirm.waitFor();
    await checkScreen(page, "revoke-confirm");
    await confirm.getByRole("button", { name: "Revoke" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/revoke"));
    expect(await textOf(page.getByRole("row", { name: /Reporting script/ }))).toContain("Revoked");
    const refused = await fetch(`${origin}/anything`, { headers: { authorization: `Bearer ${secret}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("token revoked");
  });

  it("sends a stale sign-in back to the IdP with prompt=login before generating, and returns to the dialog", async () => {
    const db = consoleDb();
    db.prepare("UPDATE console_sessions SET auth_time = auth_time - 600").run();
    db.close();
    await page.goto(`${base}/me/api-tokens`);
    await page.getByRole("button", { name: "Generate API token" }).click();
    await arrive(page, (url) => url.origin !== origin);
    await page.locator("input[name=password]").waitFor();
    await page.locator("input[name=login]").fill("ada@demo.example");
    await page.locator("input[name=password]").fill("portcullis-demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await arrive(page, `${base}/me/api-tokens?generate=1`);
    const dialog = page.getByRole("dialog", { name: "Generate API token" });
    await dialog.waitFor();
    await dialog.getByLabel("Name").fill("After re-login");
    await dialog.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("dialog", { name: "Your new API token" }).waitFor();
  });

  it("says in words when the limit of 10 is reached", async () => {
    for (let i = 0; i < 9; i++) expect((await api("POST", "/me/api-tokens", { name: `bulk ${i}` })).status).toBe(201);
    await page.goto(`${base}/me/api-tokens`);
    await page.getByRole("button", { name: "Generate API token" }).click();
    await page.getByRole("dialog", { name: "Generate API token" }).getByLabel("Name").fill("One too many");
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    expect(await textOf(page.getByRole("alert"))).toContain("10 active API tokens");
    await checkScreen(page, "my-api-tokens-limit");
  });

  it("creates, edits, revokes, regenerates and deletes a service user token", async () => {
    await page.getByRole("link", { name: "Integrations" }).click();
    await arrive(page, `${base}/integrations/api-tokens`);
    await page.getByRole("button", { name: "Create API token" }).click();
    const dialog = page.getByRole("dialog", { name: "Create API token" });
    await dialog.getByLabel("Name").fill("Warehouse sync");
    const windowSelect = dialog.getByLabel("Expires after inactivity");
    expect(await windowSelect.inputValue()).toBe("45");
    expect(await windowSelect.locator("option").allTextContents()).toEqual(["31 days", "45 days", "60 days", "180 days"]);
    expect(await dialog.getByLabel("Administrator").isChecked()).toBe(true);
    expect(await dialog.getByLabel("Inspectors").isChecked()).toBe(true);
    await windowSelect.selectOption({ label: "60 days" });
    await dialog.getByLabel("Administrator").uncheck();
    await checkScreen(page, "create-service-token");
    await dialog.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByRole("dialog", { name: "Your new API token" });
    const serviceSecret = await shown.getByLabel("API token").inputValue();
    expect(serviceSecret).toMatch(/^pcs_/);
    await shown.getByRole("button", { name: "Done" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/integrations/api-tokens") && u.search === "");
    const row = page.getByRole("row", { name: /Warehouse sync/ });
    expect(await textOf(row)).toContain("60 days");
    expect(await textOf(row)).toContain("Active");
    await checkScreen(page, "integrations");
    expect((await fetch(`${origin}/inspections/1`, { headers: { authorization: `Bearer ${serviceSecret}` } })).status).toBe(200);

    await row.getByRole("link", { name: "Warehouse sync" }).click();
    await page.getByLabel("Name").fill("Warehouse sync (EU)");
    await page.getByLabel("Expires after inactivity").selectOption({ label: "180 days" });
    await checkScreen(page, "service-token-page");
    await page.getByRole("button", { name: "Save changes" }).click();
    await arrive(page, (u) => u.search.includes("saved=1"));
    await page.getByRole("status").filter({ hasText: "Changes saved." }).waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe("Warehouse sync (EU)");
    expect(await page.getByLabel("Expires after inactivity").inputValue()).toBe("180");

    await page.getByRole("link", { name: "Integrations" }).click();
    await arrive(page, `${base}/integrations/api-tokens`);
    const edited = page.getByRole("row", { name: /Warehouse sync \(EU\)/ });
    await edited.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog", { name: "Revoke API token" }).getByRole("button", { name: "Revoke" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/revoke"));
    expect(await textOf(page.getByRole("row", { name: /Warehouse sync \(EU\)/ }))).toContain("Revoked");
    expect((await fetch(`${origin}/inspections/1`, { headers: { authorization: `Bearer ${serviceSecret}` } })).status).toBe(401);

    await page.getByRole("row", { name: /Warehouse sync \(EU\)/ }).getByRole("button", { name: "Regenerate" }).click();
    await checkScreen(page, "regenerate-confirm");
    await page.getByRole("dialog", { name: "Regenerate API token" }).getByRole("button", { name: "Confirm" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/regenerate"));
    const regenerated = await page.getByRole("dialog", { name: "Your new API token" }).getByLabel("API token").inputValue();
    expect(regenerated).not.toBe(serviceSecret);
    await page.getByRole("button", { name: "Done" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/integrations/api-tokens"));
    expect((await fetch(`${origin}/inspections/1`, { headers: { authorization: `Bearer ${regenerated}` } })).status).toBe(200);

    await page.getByRole("row", { name: /Warehouse sync \(EU\)/ }).getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog", { name: "Revoke API token" }).getByRole("button", { name: "Revoke" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/revoke"));
    await page.getByRole("row", { name: /Warehouse sync \(EU\)/ }).getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog", { name: "Delete API token" }).getByRole("button", { name: "Delete" }).click();
    await arrive(page, (u) => u.pathname.endsWith("/delete"));
    await page.getByRole("status").filter({ hasText: "API token deleted." }).waitFor();
    expect(await page.getByRole("row", { name: /Warehouse sync/ }).count()).toBe(0);
  });

  it("shows the activity log newest first with actor names and event types", async () => {
    await page.getByRole("link", { name: "Activity log" }).click();
    await arrive(page, `${base}/activity-log`);
    const headers = await page.getByRole("columnheader").allTextContents();
    expect(headers.slice(0, 3)).toEqual(["Time", "Actor", "Event"]);
    const first = page.getByRole("row").nth(1);
    expect(await textOf(first)).toContain("token.deleted");
    expect(await textOf(first)).toContain("Ada Lovelace");
    await page.getByRole("cell", { name: "token.revoked" }).first().waitFor();
    await checkScreen(page, "activity-log");
  });

  it("hides what a member may not use, answers 403 in words, and deactivation ends the session", async () => {
    const bob = await api("POST", "/users", { name: "Bob Builder", email: "bob@demo.example" });
    expect(bob.status).toBe(201);
    const bobContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const bobPage = await signIn(bobContext, "bob@demo.example");
    await bobPage.getByRole("link", { name: "API tokens" }).waitFor();
    expect(await bobPage.getByRole("link", { name: "Integrations" }).count()).toBe(0);
    expect(await bobPage.getByRole("link", { name: "Activity log" }).count()).toBe(0);
    await checkScreen(bobPage, "my-api-tokens-phone");
    const denied = await bobPage.goto(`${base}/integrations/api-tokens`);
    expect(denied?.status()).toBe(403);
    expect(await textOf(bobPage.getByRole("alert"))).toContain("integrations.manage");
    await checkScreen(bobPage, "forbidden");
    expect((await api("PATCH", `/users/${bob.json.id}`, { status: "deactivated" })).status).toBe(200);
    const ended = await bobPage.goto(`${base}/me/api-tokens`);
    expect(ended?.status()).toBe(403);
    expect(await textOf(bobPage.getByRole("alert"))).toContain("no longer an active member");
    await bobContext.close();
  });

  it("refuses a person who is not a member, in words", async () => {
    const strangerContext = await browser.newContext();
    const strangerPage = await signIn(strangerContext, "stranger@elsewhere.example");
    expect(await textOf(strangerPage.getByRole("alert"))).toContain("not an active member");
    await checkScreen(strangerPage, "sign-in-refused");
    await strangerContext.close();
  });

  it("lets a person in two organizations pick one", async () => {
    const second = await fetch(`${origin}${prefix}/orgs`, {
      method: "POST",
      headers: { authorization: `Bearer ${inject("adminSecret")}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Second Site Ltd", admin: { name: "Ada at Second", email: "ada@demo.example" } }),
    });
    expect(second.status).toBe(201);
    const pickContext = await browser.newContext();
    const pickPage = await signIn(pickContext, "ada@demo.example");
    await arrive(pickPage, (url) => url.pathname.endsWith("/console/orgs"));
    await checkScreen(pickPage, "org-picker");
    await pickPage.getByRole("link", { name: "Second Site Ltd" }).click();
    await arrive(pickPage, `${base}/me/api-tokens`);
    await pickPage.getByText("Ada at Second").waitFor();
    await pickContext.close();
  });

  it("signs out, ending the server-side session", async () => {
    const cookie = (await context.cookies()).find((c) => c.name === "portcullis_console")!;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "You are signed out" }).waitFor();
    await checkScreen(page, "signed-out");
    // The old cookie value is dead even if replayed.
    const replay = await fetch(`${base}/me/api-tokens`, { headers: { cookie: `portcullis_console=${cookie.value}` }, redirect: "manual" });
    expect(replay.status).toBe(302);
    expect(replay.headers.get("location")).not.toContain(origin);
    await context.close();
  });
});
