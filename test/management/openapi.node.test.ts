/**
 * The OpenAPI document (SPEC §4: "OpenAPI 3.1 document of this API") checked by a real
 * OpenAPI validator against the official 3.1 schema. Runs in Node (vitest project "node"):
 * the validator reads its schemas from disk and compiles them with code generation, neither
 * of which workerd allows. The document comes from the same app the Worker serves.
 */
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

describe("GET /docs/docs.js", () => {
  it("is a script that parses (a syntax error would leave the reference page blank)", async () => {
    const res = await createApp(PREFIX).request(`${PREFIX}/docs/docs.js`, {}, {} as Env);
    expect(res.status).toBe(200);
    const source = await res.text();
    expect(() => new Script(source, { filename: "docs.js" })).not.toThrow();
    expect(() => new Script(`${source}\n}`, { filename: "broken.js" })).toThrow(SyntaxError);
  });
});
