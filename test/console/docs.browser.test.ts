// The API reference (SPEC §4 `GET <prefix>/docs`) in a real Chromium against `wrangler dev`:
// Swagger UI, served by the Worker itself, renders the operations of /openapi.json under the
// page's strict CSP without a single violation (SPEC §8).
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";

const origin = new URL(inject("consoleBase")).origin;
const prefix = "/_portcullis/v1";

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
});

it("renders the operation list from the OpenAPI document with no CSP violation", async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  // Chromium reports each refused load or inline script as a console error ("Refused to ...").
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content Security Policy/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`response: ${r.status()} ${r.url()}`);
  });
  page.on("requestfailed", (req) => problems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ""}`));

  const res = await page.goto(`${origin}${prefix}/docs`);
  expect(res?.status()).toBe(200);
  await page.getByText("Create a service user and its API token").first().waitFor({ timeout: 30_000 });
  expect(await page.locator(".opblock").count()).toBeGreaterThan(10);
  expect(await page.locator(".opblock-summary-path", { hasText: "/service-tokens" }).count()).toBeGreaterThan(0);
  expect(problems).toEqual([]);
  await page.close();
});
