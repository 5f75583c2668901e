import { readFile } from "node:fs/promises";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/**
 * The files wrangler.toml's `[[rules]] type = "Text"` bundles as strings, imported the same way
 * by the Node project (the workers project reads those rules itself), where vite would otherwise
 * run the script or apply the stylesheet. The virtual prefix keeps vite's CSS pipeline away.
 */
const TEXT_MODULES = new Set(["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css"]);
// Virtual ids name the specifier, not the file under node_modules, which vitest would hand to Node.
const TEXT_PREFIX = "\0portcullis-text:";
function textModules(): Plugin {
  const files = new Map<string, string>();
  return {
    name: "portcullis-text-modules",
    enforce: "pre",
    async resolveId(source, importer) {
      if (!TEXT_MODULES.has(source)) return null;
      const resolved = await this.resolve(source, importer, { skipSelf: true });
      if (!resolved) return null;
      files.set(source, resolved.id);
      return TEXT_PREFIX + source;
    },
    async load(id) {
      const file = id.startsWith(TEXT_PREFIX) ? files.get(id.slice(TEXT_PREFIX.length)) : undefined;
      return file ? `export default ${JSON.stringify(await readFile(file, "utf8"))};` : null;
    },
  };
}

/** A fresh ES256 key for signing assertions in this test run (never a committed secret). */
async function testSigningKey(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  const assertionKey = await testSigningKey();
  return {
    test: {
      // The summary reporter prints a plain "Tests: N passed, N failed" closing line for CI logs.
      reporters: ["default", "./test/reporters/summary.ts"],
      projects: [
        {
          plugins: [
            cloudflareTest(({ inject }) => ({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  UPSTREAM_URL: `http://127.0.0.1:${inject("upstreamPort")}`,
                  UPSTREAM_TIMEOUT_MS: "1500",
                  ASSERTION_PRIVATE_KEY: assertionKey,
                  ADMIN_SECRET: "test-admin-secret",
                  SESSION_SECRET: "test-session-secret",
                  SESSION_ISSUER: "portcullis-demo-idp",
                  SESSION_AUDIENCE: "portcullis",
                  // Webhooks to the test receiver on 127.0.0.1 (SPEC §10 local exception), with a
                  // short receiver deadline so the timeout path is quick to test.
                  ALLOW_INSECURE_WEBHOOKS: "true",
                  WEBHOOK_TIMEOUT_MS: "1000",
                  SECRET_SCANNING_KEYS_URL: `http://127.0.0.1:${inject("receiverPort")}/secret-scanning/keys`,
                },
              },
            })),
          ],
          test: {
            name: "workers",
            globalSetup: ["./test/global-setup.ts"],
            setupFiles: ["./test/setup.ts"],
            include: ["test/**/*.test.ts"],
            exclude: ["test/**/*.node.test.ts", "test/**/*.browser.test.ts", "**/node_modules/**"],
            testTimeout: 30_000,
            hookTimeout: 60_000,
          },
        },
        // Tests that need Node itself, e.g. the OpenAPI 3.1 validator, which reads its JSON
        // schemas from disk and compiles them with code generation (neither works in workerd).
        {
          plugins: [textModules()],
          test: {
            name: "node",
            environment: "node",
            include: ["test/**/*.node.test.ts"],
            testTimeout: 30_000,
          },
        },
        // The web console in a real headless Chromium (SPEC §8) against `wrangler dev`, the demo
        // IdP and the echo upstream, started once by the setup; one browser for all tests.
        {
          test: {
            name: "browser",
            environment: "node",
            include: ["test/**/*.browser.test.ts"],
            globalSetup: ["./test/console/browser-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
