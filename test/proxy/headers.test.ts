/**
 * What reaches the upstream (issue 6 §7): no client-sent X-Portcullis-* in any spelling or
 * number, no hop-by-hop header and nothing named in Connection, never Authorization.
 */
import { describe, expect, it } from "vitest";
import { bearer, call, marker, upstreamRequests } from "../helpers/worker";
import { seedIntegration } from "../helpers/seed";

function spoofed(secret: string | null): Headers {
  const headers = new Headers(secret ? bearer(secret) : {});
  headers.append("X-Portcullis-Subject-Id", "usr_admin");
  headers.append("x-portcullis-subject-id", "usr_second");
  headers.append("X-PORTCULLIS-PERMISSIONS", "platform_management.users,integrations.manage");
  headers.append("x-PortCullis-Org-Id", "org_victim");
  headers.append("X-Portcullis-Assertion", "eyJhbGciOiJub25lIn0.e30.");
  headers.append("X-Portcullis-Anything-Else", "1");
  return headers;
}

const HOP_BY_HOP = {
  connection: "keep-alive, X-Hop-Secret, x-hop-other",
  "keep-alive": "timeout=99",
  "proxy-authorization": "Basic c2VjcmV0OnNlY3JldA==",
  "proxy-connection": "keep-alive",
  "proxy-authenticate": "Basic",
  te: "trailers, deflate",
  trailer: "X-Checksum",
  upgrade: "websocket",
  "x-hop-secret": "named in Connection",
  "x-hop-other": "also named",
};

describe("headers reaching the upstream", () => {
  it("client-sent X-Portcullis-* in any case, repeated, are replaced by exactly one real value each", async () => {
    const { org, token } = await seedIntegration([]);
    const m = marker();
    expect((await call(`/any/${m}`, { headers: spoofed(token.secret) })).status).toBe(200);
    const [seen] = await upstreamRequests(m);
    const identity = Object.entries(seen!.headers).filter(([name]) => name.startsWith("x-portcullis-"));
    expect(identity.map(([name]) => name).sort()).toEqual(
      ["assertion", "groups", "org-id", "permissions", "sites", "subject-id", "subject-name", "subject-type", "token-id"].map(
        (h) => `x-portcullis-${h}`,
      ),
    );
    expect(seen!.headers["x-portcullis-subject-id"]).toBe(token.serviceUserId);
    expect(seen!.headers["x-portcullis-permissions"]).toBe("");
    expect(seen!.headers["x-portcullis-org-id"]).toBe(org.orgId);
    expect(seen!.headers["x-portcullis-assertion"]).not.toContain("eyJhbGciOiJub25lIn0");
  });

  it("on a public route every client-sent X-Portcullis-* header is dropped and none is added", async () => {
    const res = await call("/health", { headers: spoofed(null) });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { headers: Record<string, string> };
    expect(Object.keys(seen.headers).filter((name) => name.startsWith("x-portcullis-"))).toEqual([]);
  });

  it("hop-by-hop headers and every header named in Connection are removed; end-to-end ones stay", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const res = await call(`/any/${m}`, {
      headers: bearer(token.secret, { ...HOP_BY_HOP, "x-end-to-end": "kept", accept: "application/json" }),
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    for (const [name, value] of Object.entries(HOP_BY_HOP)) {
      // The runtime's own HTTP client may add its own connection management; the client's values never pass.
      expect(seen!.headers[name] === undefined || !seen!.headers[name]!.includes(value), name).toBe(true);
    }
    expect(seen!.headers["x-hop-secret"]).toBeUndefined();
    expect(seen!.headers["x-hop-other"]).toBeUndefined();
    expect(seen!.headers["proxy-authorization"]).toBeUndefined();
    expect(seen!.headers["x-end-to-end"]).toBe("kept");
    expect(seen!.headers["accept"]).toBe("application/json");
  });

  it("path-override headers (X-Original-URL, X-Rewrite-URL) never reach the upstream, not even on a public route", async () => {
    const res = await call("/health", { headers: { "X-Original-URL": "/inspections/1", "x-rewrite-url": "/inspections/1" } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { headers: Record<string, string> };
    expect(seen.headers["x-original-url"]).toBeUndefined();
    expect(seen.headers["x-rewrite-url"]).toBeUndefined();
  });

  it("Authorization is never forwarded, whatever its spelling", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const res = await call(`/any/${m}`, { headers: { AUTHORIZATION: `Bearer ${token.secret}` } });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["authorization"]).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(token.secret);
  });

  it("X-Forwarded-For is the connecting IP, not what the client claims; the original Host is X-Forwarded-Host", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const res = await call(`/any/${m}`, {
      headers: bearer(token.secret, { "cf-connecting-ip": "203.0.113.5", "x-forwarded-for": "10.0.0.1", host: "api.example.com" }),
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    expect(seen!.headers["x-forwarded-for"]).toBe("203.0.113.5");
    expect(seen!.headers["host"]).not.toBe("api.example.com");
  });

  it("underscore spellings of identity, path-override, method-override and address headers never reach the upstream", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const smuggled = {
      X_Portcullis_Subject_Id: "usr_admin",
      "x_portcullis-permissions": "platform_management.users",
      "X-Portcullis_Org_Id": "org_victim",
      X_Original_URL: "/inspections/1",
      x_rewrite_url: "/inspections/1",
      X_HTTP_Method_Override: "DELETE",
      X_Forwarded_For: "10.0.0.1",
      X_Forwarded_Host: "evil.example",
      X_Real_IP: "10.0.0.2",
    };
    const res = await call(`/any/${m}`, { headers: bearer(token.secret, { ...smuggled, "cf-connecting-ip": "203.0.113.9" }) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    const names = Object.keys(seen!.headers);
    expect(names.filter((name) => name.includes("_"))).toEqual([]);
    expect(seen!.headers["x-portcullis-subject-id"]).toBe(token.serviceUserId);
    expect(seen!.headers["x-forwarded-for"]).toBe("203.0.113.9");
  });

  it("client-address headers the client sends never reach the upstream; Portcullis sets X-Forwarded-For and -Host itself", async () => {
    const { token } = await seedIntegration([]);
    const m = marker();
    const claimed = {
      forwarded: "for=10.0.0.1;host=evil.example;proto=http",
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "http",
      "x-forwarded-port": "8080",
      "x-forwarded-prefix": "/admin",
      "x-real-ip": "10.0.0.2",
      "true-client-ip": "10.0.0.3",
      "x-client-ip": "10.0.0.4",
      "x-forwarded-for": "10.0.0.5",
    };
    const res = await call(`/any/${m}`, { headers: bearer(token.secret, claimed) });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(m);
    for (const name of Object.keys(claimed)) {
      // Set by Portcullis from Host and CF-Connecting-IP, never the client's value.
      if (name === "x-forwarded-host" || name === "x-forwarded-for") expect(seen!.headers[name], name).not.toBe(claimed[name]);
      else expect(seen!.headers[name], name).toBeUndefined();
    }
  });
});
