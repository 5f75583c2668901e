/**
 * SPEC §10 event types from every path that makes them: the management API, the directory API,
 * SCIM, the cron and leak reports. Each delivery is verified by the test receiver.
 */
import { describe, expect, it } from "vitest";
import { provisioner, PATCH_OP } from "../scim/support";
import { db, seedUser, seedUserToken } from "../helpers/seed";
import { runCron } from "../helpers/cron";
import { attemptDelivery } from "../../src/signals/deliver";
import { adminApi, callWith, createServiceToken, deliverAll, OPTIONS, received, receiverEndpoint, signalsOrg, type Endpoint, type SignalsOrg } from "./support";
import { PREFIX } from "../helpers/worker";
import { setDeadline } from "../helpers/token-state";

async function payloads(org: SignalsOrg, endpoint: Endpoint) {
  await deliverAll(org);
  const got = await received(endpoint);
  expect(got.every((r) => r.verified)).toBe(true);
  return got.map((r) => r.payload);
}

describe("events from the management API", () => {
  it("service tokens: token.created, token.revoked, token.regenerated, token.deleted", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org);
    const token = await createServiceToken(org);
    expect((await adminApi(org, "POST", `/service-tokens/${token.id}/revoke`)).status).toBe(200);
    const regenerated = (await (await adminApi(org, "POST", `/service-tokens/${token.id}/regenerate`)).json()) as { hint: string; expires_at: string };
    expect((await adminApi(org, "POST", `/service-tokens/${token.id}/revoke`)).status).toBe(200);
    expect((await adminApi(org, "DELETE", `/service-tokens/${token.id}`)).status).toBe(204);
    const common = { org_id: org.orgId, token_id: token.id, token_kind: "service_user", name: "Nightly export" };
    expect(await payloads(org, endpoint)).toEqual([
      { type: "token.created", timestamp: expect.any(String), data: { ...common, hint: token.hint, expires_at: token.expires_at } },
      { type: "token.revoked", timestamp: expect.any(String), data: { ...common, hint: token.hint } },
      { type: "token.regenerated", timestamp: expect.any(String), data: { ...common, hint: regenerated.hint, expires_at: regenerated.expires_at } },
      { type: "token.revoked", timestamp: expect.any(String), data: { ...common, hint: regenerated.hint } },
      { type: "token.deleted", timestamp: expect.any(String), data: { ...common, hint: regenerated.hint } },
    ]);
  });

  it("service tokens: token.rolled, with the new hint and never a secret (SPEC §9)", async () => {
    const org = await signalsOrg();
    const token = await createServiceToken(org);
    const endpoint = await receiverEndpoint(org, { events: ["token.rolled"] });
    const res = await adminApi(org, "POST", `/service-tokens/${token.id}/roll`, { grace_seconds: 60 });
    expect(res.status).toBe(200);
    const rolled = (await res.json()) as { hint: string; token: string };
    const got = await payloads(org, endpoint);
    expect(got).toEqual([
      {
        type: "token.rolled",
        timestamp: expect.any(String),
        data: expect.objectContaining({ org_id: org.orgId, token_id: token.id, token_kind: "service_user", name: "Nightly export", hint: rolled.hint }),
      },
    ]);
    expect(JSON.stringify(got)).not.toContain(rolled.token);
    expect(JSON.stringify(got)).not.toContain(token.token);
  });

  it("user tokens: token.created and token.revoked with the member's id", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org);
    const res = await adminApi(org, "POST", "/me/api-tokens", { name: "Laptop CLI" });
    expect(res.status).toBe(201);
    const token = (await res.json()) as { id: string; hint: string; expires_at: string };
    expect((await adminApi(org, "POST", `/me/api-tokens/${token.id}/revoke`)).status).toBe(200);
    const common = { org_id: org.orgId, token_id: token.id, token_kind: "user", name: "Laptop CLI", hint: token.hint, member_id: org.adminId };
    expect(await payloads(org, endpoint)).toEqual([
      { type: "token.created", timestamp: expect.any(String), data: { ...common, expires_at: token.expires_at } },
      { type: "token.revoked", timestamp: expect.any(String), data: common },
    ]);
  });

  it("only the subscribed event types reach an endpoint", async () => {
    const org = await signalsOrg();
    const revocations = await receiverEndpoint(org, { events: ["token.revoked"] });
    const everything = await receiverEndpoint(org);
    const token = await createServiceToken(org);
    await adminApi(org, "POST", `/service-tokens/${token.id}/revoke`);
    expect((await payloads(org, revocations)).map((p) => p.type)).toEqual(["token.revoked"]);
    expect((await payloads(org, everything)).map((p) => p.type)).toEqual(["token.created", "token.revoked"]);
  });

  it("another organization's changes never reach an endpoint", async () => {
    const org = await signalsOrg();
    const other = await signalsOrg("Other");
    const endpoint = await receiverEndpoint(org);
    await createServiceToken(other);
    await deliverAll(other);
    expect(await payloads(org, endpoint)).toEqual([]);
  });
});

describe("member.deactivated", () => {
  it("from the directory API: one message per token the deactivation ended", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["member.deactivated"] });
    const member = await seedUser(org.orgId, { name: "Dana Inspector" });
    const a = await seedUserToken(org.orgId, member.id, "CI");
    const b = await seedUserToken(org.orgId, member.id, "Laptop");
    expect((await adminApi(org, "PATCH", `/users/${member.id}`, { status: "deactivated" })).status).toBe(200);
    const got = await payloads(org, endpoint);
    expect(got.map((p) => p.data).sort((x, y) => String(x["token_id"]).localeCompare(String(y["token_id"])))).toEqual(
      [a, b]
        .sort((x, y) => x.id.localeCompare(y.id))
        .map((t) => ({ org_id: org.orgId, token_id: t.id, token_kind: "user", name: t.id === a.id ? "CI" : "Laptop", hint: expect.stringMatching(/^pcu_…/), member_id: member.id })),
    );
    expect(got.every((p) => p.type === "member.deactivated")).toBe(true);
  });

  it("from the directory API: removing a member; a member without tokens gets one message", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["member.deactivated"] });
    const member = await seedUser(org.orgId, { name: "Robin" });
    expect((await adminApi(org, "DELETE", `/users/${member.id}`)).status).toBe(204);
    expect(await payloads(org, endpoint)).toEqual([
      {
        type: "member.deactivated",
        timestamp: expect.any(String),
        data: { org_id: org.orgId, token_id: null, token_kind: null, name: null, hint: null, member_id: member.id },
      },
    ]);
  });

  it("from SCIM: PATCH active=false", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["member.deactivated"] });
    const idp = await provisioner(org.orgId);
    const member = await seedUser(org.orgId, { name: "Sam" });
    const token = await seedUserToken(org.orgId, member.id, "Deploy");
    const res = await callWith(org, `${PREFIX}/scim/v2/Users/${member.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${idp.secret}`, "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] }),
    });
    expect(res.status).toBe(200);
    expect(await payloads(org, endpoint)).toEqual([
      {
        type: "member.deactivated",
        timestamp: expect.any(String),
        data: { org_id: org.orgId, token_id: token.id, token_kind: "user", name: "Deploy", hint: expect.stringMatching(/^pcu_…/), member_id: member.id },
      },
    ]);
  });
});

describe("events from the cron", () => {
  it("token.expired for a token idle past its window", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["token.expired"] });
    const token = await createServiceToken(org);
    const now = Date.now();
    await setDeadline(token.id, now - 1_000);
    await runCron(now, org.env);
    for (const id of org.queue.take()) await attemptDelivery(db(), id, Date.now(), OPTIONS);
    expect((await received(endpoint)).map((r) => [r.verified, r.payload])).toEqual([
      [
        true,
        {
          type: "token.expired",
          timestamp: new Date(now).toISOString(),
          data: { org_id: org.orgId, token_id: token.id, token_kind: "service_user", name: "Nightly export", hint: token.hint, expires_at: new Date(now - 1_000).toISOString() },
        },
      ],
    ]);
  });
});

describe("events from leak reports", () => {
  it("POST /credentials/revoke makes token.leaked", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["token.leaked", "token.revoked"] });
    const token = await createServiceToken(org);
    const res = await callWith(org, `${PREFIX}/credentials/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credentials: [token.token] }),
    });
    expect(res.status).toBe(202);
    expect(await payloads(org, endpoint)).toEqual([
      { type: "token.leaked", timestamp: expect.any(String), data: { org_id: org.orgId, token_id: token.id, token_kind: "service_user", name: "Nightly export", hint: token.hint } },
    ]);
  });
});
