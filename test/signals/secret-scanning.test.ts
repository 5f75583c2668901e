/**
 * SPEC §10 GitHub secret scanning partner endpoint: reports signed with ECDSA P-256 (DER,
 * base64) by a key published at SECRET_SCANNING_KEYS_URL (the test receiver serves the set).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { derToRaw } from "../../src/signals/secret-scanning";
import { generateToken } from "../../src/token/format";
import { seedServiceToken } from "../helpers/seed";
import { PREFIX } from "../helpers/worker";
import { adminApi, callWith, deliverAll, RECEIVER, received, receiverEndpoint, signalsOrg } from "./support";
import { tokenRow } from "../helpers/records";
import { errorCode } from "../helpers/errors";

interface SigningKey {
  id: string;
  privateKey: CryptoKey;
  pem: string;
}

async function newKey(id: string): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const b64 = btoa(String.fromCharCode(...spki)).replace(/(.{64})/g, "$1\n");
  return { id, privateKey: pair.privateKey, pem: `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n` };
}

/** RFC 3279 §2.2.3: raw r||s → DER SEQUENCE { INTEGER r, INTEGER s }, as GitHub sends it. */
function rawToDer(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if (v[0]! & 0x80) v = Uint8Array.from([0, ...v]);
    return [0x02, v.length, ...v];
  };
  const body = [...integer(raw.subarray(0, 32)), ...integer(raw.subarray(32))];
  return Uint8Array.from([0x30, body.length, ...body]);
}

async function sign(key: SigningKey, body: string): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(body)));
  return btoa(String.fromCharCode(...rawToDer(raw)));
}

const sha256 = async (value: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))].map((b) => b.toString(16).padStart(2, "0")).join("");

let current: SigningKey;
let retired: SigningKey;
let other: SigningKey;

beforeAll(async () => {
  current = await newKey(`key-${crypto.randomUUID()}`);
  retired = await newKey(`key-${crypto.randomUUID()}`);
  other = await newKey(`key-${crypto.randomUUID()}`);
  // `other` is never published: reports signed with it are forgeries.
  const res = await fetch(`${RECEIVER}/secret-scanning/keys`, {
    method: "PUT",
    body: JSON.stringify({
      public_keys: [
        { key_identifier: retired.id, key: retired.pem, is_current: false },
        { key_identifier: current.id, key: current.pem, is_current: true },
      ],
    }),
  });
  expect(res.status).toBe(204);
});

type Org = Awaited<ReturnType<typeof signalsOrg>>;

function report(org: Org, body: string, headers: Record<string, string>) {
  return callWith(org, `${PREFIX}/secret-scanning/github`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

describe("POST /secret-scanning/github", () => {
  it("revokes each live token reported and labels every token", async () => {
    const org = await signalsOrg();
    const endpoint = await receiverEndpoint(org, { events: ["token.leaked"] });
    const live = await seedServiceToken(org.orgId, { name: "Pasted in a gist" });
    const revoked = await seedServiceToken(org.orgId, { name: "Old" });
    await env.DB.prepare("UPDATE api_tokens SET status = 'revoked' WHERE id = ?1").bind(revoked.id).run();
    const unknown = generateToken("user");
    const forged = `${live.secret.slice(0, -6)}AAAAAA`;
    const reports = [
      { token: live.secret, type: "portcullis_service_token", url: "https://gist.github.com/x", source: "gist" },
      { token: revoked.secret, type: "portcullis_service_token", url: "https://github.com/a/b", source: "content" },
      { token: unknown, type: "portcullis_user_token", url: "https://github.com/a/b", source: "content" },
      { token: forged, type: "portcullis_service_token", url: "https://github.com/a/b", source: "content" },
    ];
    const body = JSON.stringify(reports);
    const res = await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(current, body) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { token_hash: await sha256(live.secret), token_type: "portcullis_service_token", label: "true_positive" },
      { token_hash: await sha256(revoked.secret), token_type: "portcullis_service_token", label: "false_positive" },
      { token_hash: await sha256(unknown), token_type: "portcullis_user_token", label: "false_positive" },
      { token_hash: await sha256(forged), token_type: "portcullis_service_token", label: "false_positive" },
    ]);
    expect((await tokenRow(live.id))!.status).toBe("revoked");
    const events = await env.DB.prepare("SELECT type, target_id FROM activity_events WHERE type = 'token.revoked_leaked' AND org_id = ?1").bind(org.orgId).all();
    expect(events.results).toEqual([{ type: "token.revoked_leaked", target_id: live.id }]);

    await deliverAll(org);
    const got = await received(endpoint);
    expect(got.map((r) => [r.verified, r.payload.type, r.payload.data["token_id"]])).toEqual([[true, "token.leaked", live.id]]);

    // Reported again: already revoked, so no longer a live token, and nothing is recorded twice.
    const again = await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(current, body) });
    expect(((await again.json()) as { label: string }[]).map((l) => l.label)).toEqual(["false_positive", "false_positive", "false_positive", "false_positive"]);
  });

  it("treats a rolled token's previous secret as live during its grace, and revokes the token (SPEC §9)", async () => {
    const org = await signalsOrg();
    const token = await seedServiceToken(org.orgId, { name: "Rolled, then leaked" });
    const rolled = await adminApi(org, "POST", `/service-tokens/${token.id}/roll`, { grace_seconds: 3600 });
    expect(rolled.status).toBe(200);
    const body = JSON.stringify([{ token: token.secret, type: "portcullis_service_token", url: "https://github.com/a/b", source: "content" }]);
    const res = await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(current, body) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { label: string }[]).map((l) => l.label)).toEqual(["true_positive"]);
    expect((await tokenRow(token.id))!.status).toBe("revoked");
  });

  it("refuses a report signed by another key (401), revoking nothing", async () => {
    const org = await signalsOrg();
    const live = await seedServiceToken(org.orgId);
    const body = JSON.stringify([{ token: live.secret, type: "t", url: "u", source: "content" }]);
    const res = await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(other, body) });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("unauthorized");
    expect((await tokenRow(live.id))!.status).toBe("active");
  });

  it("refuses a tampered body (401)", async () => {
    const org = await signalsOrg();
    const live = await seedServiceToken(org.orgId);
    const signed = JSON.stringify([{ token: generateToken("service_user"), type: "t", url: "u", source: "content" }]);
    const tampered = JSON.stringify([{ token: live.secret, type: "t", url: "u", source: "content" }]);
    const res = await report(org, tampered, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(current, signed) });
    expect(res.status).toBe(401);
    expect((await tokenRow(live.id))!.status).toBe("active");
  });

  it("refuses a report without the signature headers (401)", async () => {
    const org = await signalsOrg();
    const live = await seedServiceToken(org.orgId);
    const body = JSON.stringify([{ token: live.secret, type: "t", url: "u", source: "content" }]);
    const signature = await sign(current, body);
    expect((await report(org, body, {})).status).toBe(401);
    expect((await report(org, body, { "github-public-key-identifier": current.id })).status).toBe(401);
    expect((await report(org, body, { "github-public-key-signature": signature })).status).toBe(401);
    expect((await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": "bm90IGRlcg==" })).status).toBe(401);
    expect((await tokenRow(live.id))!.status).toBe("active");
  });

  it("refuses an unknown key identifier (401)", async () => {
    const org = await signalsOrg();
    const live = await seedServiceToken(org.orgId);
    const body = JSON.stringify([{ token: live.secret, type: "t", url: "u", source: "content" }]);
    const res = await report(org, body, { "github-public-key-identifier": other.id, "github-public-key-signature": await sign(other, body) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("unknown key identifier");
    expect((await tokenRow(live.id))!.status).toBe("active");
  });

  it("accepts a report signed with a published key that is not the current one", async () => {
    const org = await signalsOrg();
    const body = JSON.stringify([]);
    const res = await report(org, body, { "github-public-key-identifier": retired.id, "github-public-key-signature": await sign(retired, body) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it("answers 400 to a signed body that is not an array of reports", async () => {
    const org = await signalsOrg();
    const body = JSON.stringify({ token: "x" });
    const res = await report(org, body, { "github-public-key-identifier": current.id, "github-public-key-signature": await sign(current, body) });
    expect(res.status).toBe(400);
  });
});

describe("DER signatures", () => {
  it("converts DER to raw r||s, padding short integers and dropping sign bytes", () => {
    const r = new Uint8Array(32).fill(0x80); // high bit set: DER adds a 0x00
    const s = new Uint8Array(32);
    s[31] = 1; // tiny: DER shortens it to one byte
    const raw = Uint8Array.from([...r, ...s]);
    expect(derToRaw(rawToDer(raw))).toEqual(raw);
    expect(derToRaw(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toBeNull();
    expect(derToRaw(Uint8Array.from([...rawToDer(raw), 0]))).toBeNull();
  });
});
