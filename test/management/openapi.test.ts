/**
 * GET /openapi.json and GET /docs (SPEC §4): the document is public, generated
 * from the same zod schemas that validate requests, and lists every management route; the
 * reference page is public, self-contained (no third-party origin) and locked down by CSP.
 * The document's validity against the OpenAPI 3.1 schema, and the initializer's syntax, are
 * checked in Node by openapi.node.test.ts.
 */
import { describe, expect, it } from "vitest";
import { createManagementApp } from "../../src/management";
import { api, call, PREFIX } from "../helpers/worker";

type Operation = {
  tags?: string[];
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
  parameters?: { name: string; in: string }[];
};
type Schema = { $ref?: string; additionalProperties?: unknown; properties?: Record<string, unknown> };
type OpenApiDocument = {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
};

const METHODS = ["get", "post", "put", "patch", "delete"];

async function openApi(): Promise<OpenApiDocument> {
  const res = await api("GET", "/openapi.json", null);
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

function operations(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

function resolve(doc: OpenApiDocument, schema: Schema): Schema {
  return schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()!]! : schema;
}

/** The directory routes this file's resource owns, as documented. */
const DIRECTORY = [
  "GET /users",
  "POST /users",
  "GET /users/{id}",
  "PATCH /users/{id}",
  "DELETE /users/{id}",
  "GET /groups",
  "POST /groups",
  "GET /groups/{id}",
  "PATCH /groups/{id}",
  "DELETE /groups/{id}",
  "GET /sites",
  "POST /sites",
  "GET /sites/{id}",
  "PATCH /sites/{id}",
  "DELETE /sites/{id}",
  "GET /permission-sets",
  "POST /permission-sets",
  "GET /permission-sets/{id}",
  "PATCH /permission-sets/{id}",
  "DELETE /permission-sets/{id}",
  "GET /seats",
  "GET /activity-log",
];

/** Every other route of the SPEC §4 table (SCIM is described by its own RFC 7643 schemas). */
const TOKENS_AND_MORE = [
  "GET /me",
  "GET /me/api-tokens",
  "POST /me/api-tokens",
  "POST /me/api-tokens/{id}/revoke",
  "GET /service-tokens",
  "POST /service-tokens",
  "GET /service-tokens/{id}",
  "PATCH /service-tokens/{id}",
  "DELETE /service-tokens/{id}",
  "POST /service-tokens/{id}/revoke",
  "POST /service-tokens/{id}/regenerate",
  "POST /introspect",
  "GET /.well-known/jwks.json",
  "POST /orgs",
];

describe("GET /openapi.json", () => {
  it("is public OpenAPI 3.1 JSON served under the prefix", async () => {
    const res = await call(`${PREFIX}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const doc = (await res.json()) as OpenApiDocument;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: PREFIX }]);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(["bearer", "operator"]));
  });

  it("documents every directory, seats and activity-log route", async () => {
    expect(operations(await openApi())).toEqual(expect.arrayContaining(DIRECTORY));
  });

  it("documents every route of the SPEC §4 table", async () => {
    expect(operations(await openApi())).toEqual(expect.arrayContaining([...DIRECTORY, ...TOKENS_AND_MORE]));
  });

  it("documents every route the management app serves (nothing undocumented)", async () => {
    const documented = new Set(operations(await openApi()));
    const served = createManagementApp(PREFIX)
      .routes.filter((r) => METHODS.includes(r.method.toLowerCase()))
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`)
      // Not API operations: the document itself, the reference page, and SCIM (RFC 7644 has its own discovery).
      .filter((op) => !/ \/(openapi\.json|docs|docs\/.*|scim\/.*)$/.test(op));
    expect(served.length).toBeGreaterThan(DIRECTORY.length);
    expect(served.filter((op) => !documented.has(op))).toEqual([]);
  });

  it("declares the bearer credential and the 401/403 answers on every directory route", async () => {
    const doc = await openApi();
    for (const op of DIRECTORY) {
      const [method, path] = op.split(" ") as [string, string];
      const operation = doc.paths[path]![method.toLowerCase()]!;
      expect(operation.security, op).toEqual([{ bearer: [] }]);
      expect(Object.keys(operation.responses), op).toEqual(expect.arrayContaining(["401", "403", "503"]));
      expect(operation.tags?.length, op).toBe(1);
    }
  });

  it("documents request bodies that reject unknown fields, as the API does", async () => {
    const doc = await openApi();
    const bodies = DIRECTORY.filter((op) => /^(POST|PATCH)/.test(op)).map((op) => {
      const [method, path] = op.split(" ") as [string, string];
      return [op, doc.paths[path]![method.toLowerCase()]!.requestBody!.content["application/json"]!.schema] as const;
    });
    expect(bodies).toHaveLength(8);
    for (const [op, schema] of bodies) expect(resolve(doc, schema).additionalProperties, op).toBe(false);
    expect(Object.keys(resolve(doc, doc.components.schemas["User"]!).properties!)).toEqual([
      "id",
      "name",
      "email",
      "status",
      "permission_set_ids",
      "group_ids",
      "site_ids",
    ]);
  });

  it("documents the activity-log filters and the pagination parameters", async () => {
    const doc = await openApi();
    const params = doc.paths["/activity-log"]!["get"]!.parameters!.map((p) => `${p.in}:${p.name}`);
    expect(params.sort()).toEqual(["query:actor_id", "query:actor_type", "query:cursor", "query:limit", "query:type"]);
  });
});

describe("GET /docs", () => {
  it("serves Swagger UI's page under a strict CSP with no inline script or style", async () => {
    const res = await call(`${PREFIX}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain(`<link rel="stylesheet" href="${PREFIX}/docs/swagger-ui.css">`);
    expect(html).toContain(`<script src="${PREFIX}/docs/swagger-ui-bundle.js"></script>`);
    expect(html).toContain(`<script src="${PREFIX}/docs/swagger-initializer.js"></script>`);
    // No CDN, no other origin: the page must work without internet access.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("serves Swagger UI's script and stylesheet with their content types, cacheable, under the same CSP", async () => {
    for (const [file, type, marker] of [
      ["swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"],
      ["swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"],
    ] as const) {
      const res = await call(`${PREFIX}/docs/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type"), file).toBe(type);
      expect(res.headers.get("x-content-type-options"), file).toBe("nosniff");
      expect(res.headers.get("content-security-policy"), file).toContain("default-src 'none'");
      expect(res.headers.get("cache-control"), file).toMatch(/^public, max-age=\d+$/);
      const body = await res.text();
      expect(body.length, file).toBeGreaterThan(100_000);
      expect(body, file).toContain(marker);
    }
  });

  it("serves an initializer that points Swagger UI at this prefix's OpenAPI document", async () => {
    const res = await call(`${PREFIX}/docs/swagger-initializer.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const source = await res.text();
    expect(source).toContain(`url: "${PREFIX}/openapi.json"`);
    expect(source).toContain(`dom_id: "#swagger-ui"`);
    // No badge request to validator.swagger.io, which the CSP would refuse.
    expect(source).toContain("validatorUrl: null");
    expect(source).not.toMatch(/https?:\/\//);
  });
});
