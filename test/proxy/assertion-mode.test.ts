/**
 * ASSERTION_MODE (SPEC §3.1) and the UPSTREAM service binding (SPEC §3.2), seen from the
 * upstream: what it receives and what it can verify with the published JWKS.
 */
import { env } from "cloudflare:workers";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import type { Subject } from "../../src/auth/subject";
import { ConfigError, parseConfig } from "../../src/config";
import type { Env } from "../../src/env";
import { SHARED_REUSE_SECONDS, identityHeaders } from "../../src/proxy/assertion";
import { bearer, call, marker, PREFIX, upstreamRequests } from "../helpers/worker";
import { seedInspector, seedIntegration } from "../helpers/seed";

const AUDIENCE = new URL(env.UPSTREAM_URL!).origin;

async function verifyWithJwks(jwt: string): Promise<JWTPayload> {
  const keys = (await (await call(`${PREFIX}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(keys), { algorithms: ["ES256"], issuer: "portcullis", audience: AUDIENCE, maxTokenAge: "60s" });
  return payload;
}

/** One proxied GET through the real upstream; what the upstream saw. */
async function through(secret: string, overrides: Partial<Env> = {}, suffix = ""): Promise<Record<string, string>> {
  const m = marker();
  const res = await call(`/inspections/${m}${suffix}`, { headers: bearer(secret), env: overrides });
  expect(res.status).toBe(200);
  const [seen] = await upstreamRequests(m);
  return seen!.headers;
}

describe("ASSERTION_MODE=shared (the default)", () => {
  it("reuses one assertion per token and subject state, and the upstream verifies it with the JWKS", async () => {
    const { token } = await seedIntegration();
    const first = await through(token.secret);
    const second = await through(token.secret);
    const jwt = first["x-portcullis-assertion"]!;
    expect(second["x-portcullis-assertion"]).toBe(jwt);
    const payload = await verifyWithJwks(jwt);
    expect(payload).toMatchObject({ sub: token.serviceUserId, token_id: token.id, permissions: ["inspections.view"] });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload).not.toHaveProperty("htm");
    expect(payload).not.toHaveProperty("htu");
  });

  it("two tokens never share an assertion", async () => {
    const a = await seedIntegration();
    const b = await seedIntegration();
    const fromA = decodeJwt((await through(a.token.secret))["x-portcullis-assertion"]!);
    const fromB = decodeJwt((await through(b.token.secret))["x-portcullis-assertion"]!);
    expect(fromA.jti).not.toBe(fromB.jti);
    expect(fromA["token_id"]).toBe(a.token.id);
    expect(fromB["token_id"]).toBe(b.token.id);
  });

  it("a permission change yields a new assertion on the very next request (the subject is read afresh)", async () => {
    const { token, setId } = await seedIntegration(["inspections.view"]);
    const before = (await through(token.secret))["x-portcullis-assertion"]!;
    await env.DB.prepare("UPDATE permission_sets SET permissions = ?1 WHERE id = ?2").bind(JSON.stringify(["inspections.edit", "inspections.view"]), setId).run();
    const after = await through(token.secret);
    expect(after["x-portcullis-assertion"]).not.toBe(before);
    expect(after["x-portcullis-permissions"]).toBe("inspections.edit,inspections.view");
    const payload = await verifyWithJwks(after["x-portcullis-assertion"]!);
    expect(payload["permissions"]).toEqual(["inspections.edit", "inspections.view"]);
    expect(payload.jti).not.toBe(decodeJwt(before).jti);
  });

  it("a revoked token is refused on the next request although its assertion is still reusable", async () => {
    const { token } = await seedIntegration();
    await through(token.secret);
    await env.DB.prepare("UPDATE api_tokens SET status = 'revoked' WHERE id = ?1").bind(token.id).run();
    const res = await call(`/inspections/${marker()}`, { headers: bearer(token.secret) });
    expect(res.status).toBe(401);
  });

  it(`is handed out for at most ${SHARED_REUSE_SECONDS} s after its iat, then signed anew`, async () => {
    const { token } = await seedIntegration();
    const subject: Subject = {
      type: "service_user",
      id: token.serviceUserId,
      name: "Warehouse sync",
      orgId: "org_x",
      permissions: ["inspections.view"],
      groups: [],
      sites: [],
      credential: "api_token",
      tokenId: token.id,
      authTime: null,
    };
    const options = {
      mode: "shared" as const,
      privateJwk: JSON.parse(env.ASSERTION_PRIVATE_KEY!) as JsonWebKey,
      issuer: "portcullis",
      audience: AUDIENCE,
      method: "GET",
      htu: `${AUDIENCE}/x`,
    };
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const jwtAt = async (now: number) => (await identityHeaders(subject, token.id, {}, { ...options, now })).find(([n]) => n === "x-portcullis-assertion")![1];
    const first = await jwtAt(t0);
    expect(await jwtAt(t0 + SHARED_REUSE_SECONDS * 1000 - 1)).toBe(first);
    const renewed = await jwtAt(t0 + SHARED_REUSE_SECONDS * 1000);
    expect(renewed).not.toBe(first);
    expect(decodeJwt(renewed).iat).toBe(t0 / 1000 + SHARED_REUSE_SECONDS);
    // Another audience is another assertion, even for the same subject at the same moment.
    const elsewhere = (await identityHeaders(subject, token.id, {}, { ...options, audience: "https://other.example", now: t0 + 1 }))[8]![1];
    expect(decodeJwt(elsewhere).aud).toBe("https://other.example");
  });
});

describe("ASSERTION_MODE=request", () => {
  it("signs a fresh assertion per request, bound with htm and htu (without the query), unique jti", async () => {
    const { token } = await seedInspector();
    const request = { ASSERTION_MODE: "request" };
    const m = marker();
    const get = await call(`/inspections/${m}?page=2&sort=asc`, { headers: bearer(token.secret), env: request });
    expect(get.status).toBe(200);
    const head = await call(`/inspections/${m}`, { method: "HEAD", headers: bearer(token.secret), env: request });
    expect(head.status).toBe(200);
    const [a, b] = await upstreamRequests(m);
    const first = await verifyWithJwks(a!.headers["x-portcullis-assertion"]!);
    const second = await verifyWithJwks(b!.headers["x-portcullis-assertion"]!);
    expect(first).toMatchObject({ htm: "GET", htu: `${env.UPSTREAM_URL}/inspections/${m}` });
    expect(second).toMatchObject({ htm: "HEAD", htu: `${env.UPSTREAM_URL}/inspections/${m}` });
    expect(first.jti).not.toBe(second.jti);
    // The same request twice is still two assertions.
    const again = decodeJwt((await through(token.secret, request))["x-portcullis-assertion"]!);
    const again2 = decodeJwt((await through(token.secret, request))["x-portcullis-assertion"]!);
    expect(again.jti).not.toBe(again2.jti);
  });
});

describe("ASSERTION_MODE=off", () => {
  it("sends the identity headers and no assertion, and needs no signing key", async () => {
    const { token, user } = await seedInspector();
    const headers = await through(token.secret, { ASSERTION_MODE: "off", ASSERTION_PRIVATE_KEY: "" });
    expect(headers["x-portcullis-assertion"]).toBeUndefined();
    expect(headers["x-portcullis-subject-id"]).toBe(user.id);
    expect(headers["x-portcullis-token-id"]).toBe(token.id);
  });

  it("a client-sent X-Portcullis-Assertion is still removed", async () => {
    const { token } = await seedInspector();
    const m = marker();
    const res = await call(`/inspections/${m}`, { headers: bearer(token.secret, { "x-portcullis-assertion": "forged" }), env: { ASSERTION_MODE: "off" } });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-portcullis-assertion"]).toBeUndefined();
  });

  it("without the key, the other modes refuse to forward (500), never forward unsigned", async () => {
    const { token } = await seedInspector();
    for (const mode of ["shared", "request"]) {
      const m = marker();
      const res = await call(`/inspections/${m}`, { headers: bearer(token.secret), env: { ASSERTION_MODE: mode, ASSERTION_PRIVATE_KEY: "" } });
      expect(res.status).toBe(500);
      expect(await upstreamRequests(m)).toEqual([]);
    }
  });
});

describe("ASSERTION_MODE validation", () => {
  it("accepts shared, request, off; defaults to shared; rejects anything else naming the variable", () => {
    const base = { ...env, UPSTREAM_URL: "http://127.0.0.1:9" } as Env;
    expect(parseConfig(base).assertionMode).toBe("shared");
    for (const mode of ["shared", "request", "off"] as const) expect(parseConfig({ ...base, ASSERTION_MODE: mode }).assertionMode).toBe(mode);
    for (const bad of ["Shared", "none", "per-request", " off"]) {
      expect(() => parseConfig({ ...base, ASSERTION_MODE: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ ...base, ASSERTION_MODE: bad })).toThrow(/ASSERTION_MODE/);
    }
  });

  it("UPSTREAM must be a service binding, not a string", () => {
    expect(() => parseConfig({ ...env, UPSTREAM: "http://x" as unknown as Fetcher } as Env)).toThrow(/UPSTREAM must be a service binding/);
  });
});

/** A stand-in service binding: records what it was sent and answers like an upstream Worker. */
function fakeBinding() {
  const seen: Request[] = [];
  const binding = {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Request(input, init));
      return new Response('{"via":"binding"}', { status: 200, headers: { "content-type": "application/json", "x-from": "binding" } });
    },
    connect: () => {
      throw new Error("not used");
    },
  } as unknown as Fetcher;
  return { binding, seen };
}

describe("UPSTREAM service binding", () => {
  it("wins over UPSTREAM_URL: the request goes through the binding with identity attached, never to the URL", async () => {
    const { token } = await seedIntegration();
    const { binding, seen } = fakeBinding();
    const m = marker();
    const res = await call(`/inspections/${m}?q=1`, { headers: bearer(token.secret, { "x-portcullis-subject-id": "spoof" }), env: { UPSTREAM: binding } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-from")).toBe("binding");
    expect(await upstreamRequests(m)).toEqual([]);
    expect(seen).toHaveLength(1);
    const sent = seen[0]!;
    expect(sent.url).toBe(`${env.UPSTREAM_URL}/inspections/${m}?q=1`);
    expect(sent.headers.get("authorization")).toBeNull();
    expect(sent.headers.get("x-portcullis-subject-id")).toBe(token.serviceUserId);
    const payload = await verifyWithJwks(sent.headers.get("x-portcullis-assertion")!);
    expect(payload.sub).toBe(token.serviceUserId);
  });

  it("works without UPSTREAM_URL: the request keeps its own origin, and off needs no audience", async () => {
    const { token } = await seedIntegration();
    const { binding, seen } = fakeBinding();
    const res = await call(`/inspections/${marker()}`, { headers: bearer(token.secret), env: { UPSTREAM: binding, UPSTREAM_URL: "", ASSERTION_MODE: "off" } });
    expect(res.status).toBe(200);
    expect(new URL(seen[0]!.url).origin).toBe("https://portcullis.test");
    expect(seen[0]!.headers.get("x-portcullis-assertion")).toBeNull();
  });

  it("a rejected credential never reaches the binding", async () => {
    const { binding, seen } = fakeBinding();
    const res = await call(`/inspections/${marker()}`, { headers: bearer("pcs_nope"), env: { UPSTREAM: binding } });
    expect(res.status).toBe(401);
    expect(seen).toEqual([]);
  });
});
