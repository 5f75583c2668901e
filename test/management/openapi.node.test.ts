/**
 * The OpenAPI document (SPEC §4: "OpenAPI 3.1 document of this API") checked by a real
 * OpenAPI validator against the official 3.1 schema. Runs in Node (vitest project "node"):
 * the validator reads its schemas from disk and compiles them with code generation, neither
 * of which workerd allows. The document comes from the same app the Worker serves.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Script } from "node:vm";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";

const PREFIX = "/_portcullis/v1";

async function openApiDocument(): Promise<Record<string, unknown>> {
  const res = await createApp(PREFIX).request(`${PREFIX}/openapi.json`, {}, {} as Env);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("GET /openapi.json, validated", () => {
  it("is a valid OpenAPI 3.1 document, every $ref resolving", async () => {
    const document = await openApiDocument();
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("the validator does reject a broken document (so the check above can fail)", async () => {
    const document = await openApiDocument();
    const paths = document["paths"] as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    // A response object without its required description, and a dangling $ref.
    paths["/users"]!["get"]!.responses["200"] = { content: { "application/json": { schema: { $ref: "#/components/schemas/Nope" } } } };
    const result = await new Validator().validate(document);
    expect(result.valid).toBe(false);
  });
});

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; message: string }[];
}

const ROOT = path.resolve(import.meta.dirname, "../..");

/** `redocly lint` (the CLI, recommended rules as configured in redocly.yaml) over `document`. */
async function redoclyLint(document: unknown): Promise<LintReport> {
  const dir = await mkdtemp(path.join(tmpdir(), "portcullis-openapi-"));
  try {
    const file = path.join(dir, "openapi.json");
    await writeFile(file, JSON.stringify(document));
    const cli = path.join(ROOT, "node_modules/.bin/redocly");
    const args = ["lint", file, "--config", path.join(ROOT, "redocly.yaml"), "--format=json"];
    // The CLI exits 1 when it finds errors; the report on stdout is what we judge.
    const { stdout } = await promisify(execFile)(cli, args, { env: { ...process.env, REDOCLY_TELEMETRY: "off" } }).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }),
    );
    return JSON.parse(stdout) as LintReport;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Operations = Record<string, Record<string, { operationId?: string; security?: unknown; responses: Record<string, unknown> }>>;

describe("GET /openapi.json, linted by redocly", () => {
  it("has no error and no warning under the recommended rules", async () => {
    const report = await redoclyLint(await openApiDocument());
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it("reports an operation without security (error) and one without an operationId (warning)", async () => {
    const document = await openApiDocument();
    const paths = document["paths"] as Operations;
    delete paths["/users"]!["get"]!.security;
    delete paths["/me"]!["get"]!.operationId;
    const report = await redoclyLint(document);
    expect(report.problems.map((p) => p.ruleId)).toEqual(expect.arrayContaining(["security-defined", "operation-operationId"]));
  }, 60_000);

  it("gives every operation a unique operationId, declared security, and 4XX answers (the JWKS document aside)", async () => {
    const paths = (await openApiDocument())["paths"] as Operations;
    const operations = Object.entries(paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ name: `${method} ${p}`, op })));
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(operations.length);
    for (const { name, op } of operations) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.security, name).toBeDefined();
      if (name !== "get /.well-known/jwks.json") expect(Object.keys(op.responses).some((s) => s.startsWith("4")), name).toBe(true);
    }
  });
});

describe("GET /docs/swagger-initializer.js", () => {
  it("is a script that parses (a syntax error would leave the reference page blank)", async () => {
    const res = await createApp(PREFIX).request(`${PREFIX}/docs/swagger-initializer.js`, {}, {} as Env);
    expect(res.status).toBe(200);
    const source = await res.text();
    expect(() => new Script(source, { filename: "swagger-initializer.js" })).not.toThrow();
    expect(() => new Script(`${source}\n}`, { filename: "broken.js" })).toThrow(SyntaxError);
  });
});
