/** SPEC §10 webhook endpoints: create (secret once), list, delete, deliveries view, URL rules. */
import { describe, expect, it } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../../src/signals/events";
import { checkWebhookUrl } from "../../src/signals/url-rules";
import { seedPermissionSet, seedServiceToken } from "../helpers/seed";
import { api } from "../helpers/worker";
import { adminApi, RECEIVER, signalsOrg } from "./support";
import { errorCode } from "../helpers/errors";

describe("POST /webhooks", () => {
  it("creates an endpoint subscribed to every event by default and shows the secret once", async () => {
    const org = await signalsOrg();
    const res = await adminApi(org, "POST", "/webhooks", { url: "https://hooks.example.com/portcullis" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["created_at", "events", "id", "secret", "url"]);
    expect(body["events"]).toEqual([...WEBHOOK_EVENT_TYPES]);
    expect(body["secret"]).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(body["url"]).toBe("https://hooks.example.com/portcullis");

    const list = (await (await adminApi(org, "GET", "/webhooks")).json()) as { data: Record<string, unknown>[]; next_cursor: string | null };
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toEqual({ id: body["id"], url: body["url"], events: body["events"], created_at: body["created_at"] });
    expect(JSON.stringify(list)).not.toContain(String(body["secret"]));
    expect(list.next_cursor).toBeNull();
  });

  it("keeps the chosen events, in the specification's order", async () => {
    const org = await signalsOrg();
    const res = await adminApi(org, "POST", "/webhooks", { url: "https://hooks.example.com/a", events: ["token.leaked", "token.created", "token.leaked"] });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { events: string[] }).events).toEqual(["token.created", "token.leaked"]);
  });

  it("refuses an unknown event type and unknown fields with 400", async () => {
    const org = await signalsOrg();
    const unknownType = await adminApi(org, "POST", "/webhooks", { url: "https://hooks.example.com/a", events: ["token.used"] });
    expect(unknownType.status).toBe(400);
    expect(await errorCode(unknownType)).toBe("invalid_request");
    expect((await adminApi(org, "POST", "/webhooks", { url: "https://hooks.example.com/a", secret: "mine" })).status).toBe(400);
    expect((await adminApi(org, "POST", "/webhooks", { url: "https://hooks.example.com/a", events: [] })).status).toBe(400);
  });

  it.each([
    ["http://hooks.example.com/x", "https"],
    ["ftp://hooks.example.com/x", "https"],
    ["https://10.1.2.3/x", "private"],
    ["https://192.168.0.10/x", "private"],
    ["https://172.16.5.4/x", "private"],
    ["https://127.0.0.1/x", "loopback"],
    ["https://[::1]/x", "loopback"],
    ["https://169.254.169.254/latest/meta-data", "linkLocal"],
    ["https://[fe80::1]/x", "linkLocal"],
    ["https://[::ffff:10.0.0.1]/x", "private"],
    ["https://0x7f.1/x", "loopback"],
    ["https://localhost/x", "loopback"],
    ["https://user:pass@hooks.example.com/x", "credentials"],
    ["not a url", "absolute"],
  ])("refuses %s outside local development", async (url, reason) => {
    const org = await signalsOrg();
    const res = await adminApi(org, "POST", "/webhooks", { url }, { env: { ALLOW_INSECURE_WEBHOOKS: "false" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(reason);
  });

  it("allows http://localhost and http://127.0.0.1 only with ALLOW_INSECURE_WEBHOOKS=true", async () => {
    const org = await signalsOrg();
    for (const url of ["http://localhost:8791/hooks/demo", "http://127.0.0.1:8791/hooks/demo"]) {
      expect((await adminApi(org, "POST", "/webhooks", { url }, { env: { ALLOW_INSECURE_WEBHOOKS: "true" } })).status).toBe(201);
      expect((await adminApi(org, "POST", "/webhooks", { url }, { env: { ALLOW_INSECURE_WEBHOOKS: "false" } })).status).toBe(400);
    }
    // The exception is for loopback only: private ranges stay refused.
    expect((await adminApi(org, "POST", "/webhooks", { url: "http://10.0.0.1/x" }, { env: { ALLOW_INSECURE_WEBHOOKS: "true" } })).status).toBe(400);
    expect((await adminApi(org, "POST", "/webhooks", { url: "https://192.168.1.1/x" }, { env: { ALLOW_INSECURE_WEBHOOKS: "true" } })).status).toBe(400);
  });

  it("needs integrations.manage", async () => {
    const org = await signalsOrg();
    const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewers");
    const token = await seedServiceToken(org.orgId, { permissionSetIds: [setId] });
    const res = await api("POST", "/webhooks", token.secret, { url: "https://hooks.example.com/x" }, { env: org.env });
    expect(res.status).toBe(403);
    expect((await api("GET", "/webhooks", token.secret, undefined, { env: org.env })).status).toBe(403);
    expect((await api("GET", "/webhooks", null)).status).toBe(401);
  });
});

describe("DELETE /webhooks/{id} and GET /webhooks/{id}/deliveries", () => {
  it("deletes an endpoint (204), after which it is 404; another org's endpoint is 404", async () => {
    const org = await signalsOrg();
    const other = await signalsOrg("Other");
    const created = (await (await adminApi(org, "POST", "/webhooks", { url: `${RECEIVER}/hooks/x` })).json()) as { id: string };
    expect((await adminApi(other, "GET", `/webhooks/${created.id}/deliveries`)).status).toBe(404);
    expect((await adminApi(other, "DELETE", `/webhooks/${created.id}`)).status).toBe(404);
    const deliveries = await adminApi(org, "GET", `/webhooks/${created.id}/deliveries`);
    expect(deliveries.status).toBe(200);
    expect(await deliveries.json()).toEqual({ data: [], next_cursor: null });
    expect((await adminApi(org, "DELETE", `/webhooks/${created.id}`)).status).toBe(204);
    expect((await adminApi(org, "DELETE", `/webhooks/${created.id}`)).status).toBe(404);
    expect((await adminApi(org, "GET", `/webhooks/${created.id}/deliveries`)).status).toBe(404);
  });
});

describe("URL rules (also applied at delivery time)", () => {
  it("accepts public https URLs and names", () => {
    expect(checkWebhookUrl("https://hooks.example.com/x?y=1", false).ok).toBe(true);
    expect(checkWebhookUrl("https://203.0.113.9/x", false).ok).toBe(false); // TEST-NET is reserved
    expect(checkWebhookUrl("https://8.8.8.8/x", false).ok).toBe(true);
    expect(checkWebhookUrl("https://[2606:4700::1111]/x", false).ok).toBe(true);
    expect(checkWebhookUrl("https://100.64.0.1/x", false).ok).toBe(false); // carrier-grade NAT
    expect(checkWebhookUrl("https://[fc00::1]/x", false).ok).toBe(false); // unique local
    expect(checkWebhookUrl("https://0.0.0.0/x", false).ok).toBe(false);
    expect(checkWebhookUrl("https://a.localhost/x", true).ok).toBe(false);
  });
});
