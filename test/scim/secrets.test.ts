/**
 * SPEC §11: no error, in any API (SCIM included), echoes a token secret; only its hint. A
 * secret pasted into a SCIM id, filter, member list, PATCH path or paging parameter comes back,
 * if at all, as `pcs_…abcd`.
 */
import { describe, expect, it } from "vitest";
import { tokenHint } from "../../src/token/format";
import { expectNoSecret } from "../helpers/leaks";
import { seedOrg } from "../helpers/seed";
import { GROUP, patch, provisioner, scim, scimBody, USER } from "./support";

describe("SCIM errors never echo a token secret", () => {
  it("in ids, filters, member lists, PATCH paths and paging parameters", async () => {
    const org = await seedOrg();
    const token = await provisioner(org.orgId);
    const secret = token.secret;
    const group = await scimBody(await scim("POST", "/Groups", secret, { schemas: [GROUP], displayName: "Leaky" }));
    const user = await scimBody(await scim("POST", "/Users", secret, { schemas: [USER], userName: `leak-${crypto.randomUUID().slice(0, 6)}@example.com` }));
    const cases: [string, () => Promise<Response>, boolean][] = [
      ["user id", () => scim("GET", `/Users/${secret}`, secret), true],
      ["group id", () => scim("GET", `/Groups/${secret}`, secret), true],
      ["user PATCH id", () => scim("PATCH", `/Users/${secret}`, secret, patch([{ op: "replace", path: "active", value: false }])), true],
      ["filter attribute", () => scim("GET", `/Users?filter=${encodeURIComponent(`${secret} eq "x"`)}`, secret), true],
      ["unparsable filter", () => scim("GET", `/Users?filter=${encodeURIComponent(`userName eq ${secret}`)}`, secret), true],
      ["group filter", () => scim("GET", `/Groups?filter=${encodeURIComponent(`${secret} co "x"`)}`, secret), false],
      ["members on create", () => scim("POST", "/Groups", secret, { schemas: [GROUP], displayName: "G2", members: [{ value: secret }] }), true],
      ["members on PATCH", () => scim("PATCH", `/Groups/${group["id"]}`, secret, patch([{ op: "add", path: "members", value: [{ value: secret }] }])), true],
      ["PATCH path", () => scim("PATCH", `/Users/${user["id"]}`, secret, patch([{ op: "replace", path: `${secret}[value eq "x"].y`, value: 1 }])), false],
      ["count", () => scim("GET", `/Users?count=${secret}`, secret), true],
      ["startIndex", () => scim("GET", `/Users?startIndex=${secret.slice(0, 20)}`, secret), false],
      ["userName", () => scim("POST", "/Users", secret, { schemas: [USER], userName: secret }), false],
    ];
    for (const [why, send, hinted] of cases) {
      const res = await send();
      if (hinted) expect(res.status, why).toBeGreaterThanOrEqual(400);
      const text = await res.text();
      // Nothing of the secret's random part, 8 characters or more (every run of 8 from every 4th character), may appear.
      expectNoSecret(text, [secret], why, 8, 4);
      if (hinted) expect(text, why).toContain(tokenHint(secret).slice(0, 5));
    }
  });
});
