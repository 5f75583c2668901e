/**
 * Reading `Authorization: Bearer` (RFC 6750 §2.1, RFC 7235 §2.1) as a pure function: the proxy
 * and the management API both rely on it, so its edges are pinned here, including the inputs a
 * runtime would never hand over (NUL) and arbitrary Unicode.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readBearer } from "../../src/auth/bearer";
import { generateToken } from "../../src/token/format";

const token = generateToken("service_user");

describe("readBearer", () => {
  it.each([
    [null, { ok: false, reason: "missing" }],
    ["", { ok: false, reason: "missing" }],
    ["   ", { ok: false, reason: "missing" }],
    [`Bearer ${token}`, { ok: true, credential: token }],
    [`bearer ${token}`, { ok: true, credential: token }],
    [`BEARER    ${token}`, { ok: true, credential: token }],
    ["Bearer", { ok: false, reason: "malformed" }],
    ["Bearer ", { ok: false, reason: "malformed" }],
    [`Bearer\t${token}`, { ok: false, reason: "malformed" }],
    [`Bearer ${token} extra`, { ok: false, reason: "malformed" }],
    [`Bearer ${token}\u0000`, { ok: false, reason: "malformed" }],
    [`Bearer \u0000${token}`, { ok: false, reason: "malformed" }],
    [`Bearer ${token.slice(0, 9)}\u0000${token.slice(10)}`, { ok: false, reason: "malformed" }],
    [`Bearer ${token}\n`, { ok: false, reason: "malformed" }],
    [`Bearer pcѕ_${token.slice(4)}`, { ok: false, reason: "malformed" }],
    [`Bearerx ${token}`, { ok: false, reason: "other_scheme" }],
    [`Basic ${token}`, { ok: false, reason: "other_scheme" }],
    [`Token ${token}`, { ok: false, reason: "other_scheme" }],
    [token, { ok: false, reason: "other_scheme" }],
    [`Bearer ${token}, Bearer ${token}`, { ok: false, reason: "multiple" }],
    [`Bearer ${token},`, { ok: false, reason: "multiple" }],
  ])("%j → %j", (header, expected) => {
    expect(readBearer(header)).toEqual(expected);
  });

  it("never accepts a credential holding anything outside token68 (property, 10,000 runs of full Unicode)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), fc.constantFrom("Bearer ", "bearer  ", ""), (value, scheme) => {
        const result = readBearer(scheme + value);
        if (result.ok) expect(result.credential).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
      }),
      { numRuns: 10_000 },
    );
  });
});
