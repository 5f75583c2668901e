/**
 * GET /docs: the interactive reference for humans, Swagger UI rendering /openapi.json (SPEC §4).
 * Public and self-contained: the page, Swagger UI's script and styles (from the pinned
 * `swagger-ui-dist` package, bundled into the Worker as text modules, see `[[rules]]` in
 * wrangler.toml) and our initializer are served from here, so it works with no internet access
 * and under a strict CSP: no inline script or style, no third-party origin (SPEC §8).
 * Swagger UI keeps a credential typed into "Authorize" in the page's memory only
 * (`persistAuthorization` stays off).
 */
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import swaggerUiCss from "swagger-ui-dist/swagger-ui.css";
import type { ManagementApp } from "../common";

// Swagger UI's stylesheet draws its icons as `data:` SVG images, and the page's empty `data:` icon
// keeps the browser from asking the proxy for /favicon.ico; everything else is same-origin.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

// The page and the initializer name the prefix, which a deploy may change: revalidate each time.
// Swagger UI's files change only with the package version: a day in caches is harmless.
const NO_CACHE = { ...SECURITY_HEADERS, "cache-control": "no-cache" };
const ASSET_CACHE = { ...SECURITY_HEADERS, "cache-control": "public, max-age=86400" };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function docsHtml(prefix: string): string {
  const p = escapeHtml(prefix);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis management API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${p}/docs/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"></main>
<noscript><p>This page needs JavaScript. The raw description is at <a href="${p}/openapi.json">openapi.json</a>.</p></noscript>
<script src="${p}/docs/swagger-ui-bundle.js"></script>
<script src="${p}/docs/swagger-initializer.js"></script>
</body>
</html>
`;
}

/**
 * Starts Swagger UI on the document. `validatorUrl: null` keeps it from asking
 * validator.swagger.io for a badge image (a third-party origin the CSP refuses).
 */
function initializer(prefix: string): string {
  return `"use strict";
window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(`${prefix}/openapi.json`)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
`;
}

export function registerDocs(app: ManagementApp): void {
  app.get("/docs", (c) => c.body(docsHtml(c.get("config").managementPrefix), 200, { ...NO_CACHE, "content-type": "text/html; charset=utf-8" }));
  app.get("/docs/swagger-initializer.js", (c) =>
    c.body(initializer(c.get("config").managementPrefix), 200, { ...NO_CACHE, "content-type": "text/javascript; charset=utf-8" }),
  );
  app.get("/docs/swagger-ui-bundle.js", (c) => c.body(swaggerUiBundle, 200, { ...ASSET_CACHE, "content-type": "text/javascript; charset=utf-8" }));
  app.get("/docs/swagger-ui.css", (c) => c.body(swaggerUiCss, 200, { ...ASSET_CACHE, "content-type": "text/css; charset=utf-8" }));
}
