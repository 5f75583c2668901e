/**
 * Property tests for SPEC §11 ("one tenant's request can never change how another tenant's
 * request is handled"): random JSON keys and SCIM PATCH paths, with the prototype's names
 * mixed in at every depth and in every case, never reach a shared prototype and never change
 * what another organization's PATCH, filter or body produces.
 *
 * 10,000 runs go through the same functions the SCIM handlers call (in process, fast); a
 * smaller sample goes through the Worker with D1, followed by another org's full provisioning.
 */
import fc from "fast-check";
import type { ScimPatchOperation } from "scim-patch";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors";
import { hasForbiddenKey } from "../../src/safe-json";
import { memberFilter } from "../../src/scim/filter";
import { applyPatch, patchOperations } from "../../src/scim/patch";
import { seedOrg } from "../helpers/seed";
import { GROUP, PATCH_OP, provisioner, scim, scimBody, uniqueEmail, USER } from "./support";

const IN_PROCESS_RUNS = 10_000;
const THROUGH_WORKER_RUNS = 150;

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
/** Every own property of the shared prototypes, with its value, as the isolate started. */
const PRISTINE = PROTOTYPES.map((proto) => new Map(Object.getOwnPropertyNames(proto).map((name) => [name, Object.getOwnPropertyDescriptor(proto, name)!.value])));

function prototypesChanged(): string[] {
  return PROTOTYPES.flatMap((proto, i) =>
    Object.getOwnPropertyNames(proto).filter((name) => !PRISTINE[i]!.has(name) || Object.getOwnPropertyDescriptor(proto, name)!.value !== PRISTINE[i]!.get(name)),
  );
}

afterEach(() => {
  PROTOTYPES.forEach((proto, i) => {
    for (const name of Object.getOwnPropertyNames(proto)) if (!PRISTINE[i]!.has(name)) delete (proto as Record<string, unknown>)[name];
  });
});

const RESERVED = ["__proto__", "constructor", "prototype", "__PROTO__", "Constructor", "PROTOTYPE"];
const ATTRIBUTES = ["name", "givenName", "familyName", "formatted", "displayName", "emails", "members", "value", "active", "userName", "groups", "display", "toString", "valueOf", "hasOwnProperty"];
const key = fc.oneof(fc.constantFrom(...RESERVED, ...ATTRIBUTES), fc.string({ maxLength: 8 }));

/** JSON text (so `__proto__` becomes an own key, as JSON.parse makes it) with chosen keys at any depth. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null)).map((v) => JSON.stringify(v)),
    fc.array(tie("node"), { maxLength: 3 }).map((items) => `[${items.join(",")}]`),
    fc.array(fc.tuple(key, tie("node")), { maxLength: 4 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`),
  ),
})).node;

const segment = fc.oneof(
  fc.constantFrom(...RESERVED, ...ATTRIBUTES),
  key,
  key.map((k) => `${k}[value eq "${k}"]`),
  key.map((k) => `emails[${k} eq "x"]`),
);
const scimPath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join(".")),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `urn:ietf:params:scim:schemas:core:2.0:User:${s.join(".")}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:${s.join(".")}`),
);
const operation = fc.record({
  op: fc.constantFrom("add", "replace", "remove", "Add", "Replace", "Remove"),
  path: fc.option(scimPath, { nil: undefined }),
  value: jsonText,
});

/** The PATCH body text an attacker sends: Operations built from random paths and values. */
const patchBodyText = fc.array(operation, { minLength: 1, maxLength: 3 }).map(
  (ops) =>
    `{"schemas":["${PATCH_OP}"],"Operations":[${ops
      .map((o) => `{"op":${JSON.stringify(o.op)}${o.path === undefined ? "" : `,"path":${JSON.stringify(o.path)}`},"value":${o.value}}`)
      .join(",")}]}`,
);

const USER_RESOURCE = () => ({
  schemas: [USER],
  id: "usr_fuzz",
  userName: "a@example.com",
  displayName: "Ada",
  name: { formatted: "Ada" },
  emails: [{ value: "a@example.com", type: "work", primary: true }],
  active: true,
  groups: [],
  meta: { resourceType: "User" },
});

/** Org A's request as the SCIM handler runs it: refuse, or parse, patch and render. */
function orgARequest(text: string): void {
  const body = JSON.parse(text) as Record<string, unknown>;
  if (hasForbiddenKey(body)) return; // readObject: 400
  try {
    const ops = patchOperations(body);
    applyPatch(USER_RESOURCE(), ops, ["emails", "groups"]);
    applyPatch({ schemas: [GROUP], id: "grp_fuzz", displayName: "G", members: [], meta: {} }, ops, ["members"]);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
}

/** What org B's ordinary requests produce, in process. */
function orgBOutcome() {
  const ops = patchOperations({
    schemas: [PATCH_OP],
    Operations: [
      { op: "replace", value: { name: { givenName: "Bea", familyName: "Brown" }, active: "False" } },
      { op: "add", path: "emails", value: [{ value: "b@example.com", type: "home" }] },
    ],
  });
  const patched = applyPatch(USER_RESOURCE(), ops as ScimPatchOperation[], ["emails", "groups"]) as Record<string, unknown>;
  const fresh: Record<string, unknown> = JSON.parse('{"userName":"b@example.com","name":{"givenName":"Bea"}}');
  return {
    patched: JSON.parse(JSON.stringify(patched)),
    inherited: [({} as Record<string, unknown>)["givenName"], (fresh["name"] as Record<string, unknown>)["familyName"], fresh["displayName"]],
    filter: memberFilter('userName eq "b@example.com"'),
  };
}

describe("SPEC §11 property: another org's requests never change how this org's are handled", () => {
  it(`${IN_PROCESS_RUNS} random PATCH bodies (keys and paths) leave the prototypes and org B's outcome untouched`, () => {
    const baseline = orgBOutcome();
    fc.assert(
      fc.property(patchBodyText, (text) => {
        orgARequest(text);
        expect(prototypesChanged()).toEqual([]);
        expect(orgBOutcome()).toEqual(baseline);
      }),
      { numRuns: IN_PROCESS_RUNS, seed: 0x5eed, endOnFailure: true },
    );
  });

  it("a body holding a reserved key at any depth is always refused (checked against JSON.parse's own key walk)", () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        let reserved = false;
        const parsed: unknown = JSON.parse(text, function (name) {
          if (["__proto__", "constructor", "prototype"].includes(name.toLowerCase())) reserved = true;
          return (this as Record<string, unknown>)[name];
        });
        expect(hasForbiddenKey(parsed)).toBe(reserved);
      }),
      { numRuns: 2_000, seed: 0xb0d1 },
    );
  });

  it(`${THROUGH_WORKER_RUNS} random PATCHes from org A through the Worker, then org B provisions exactly as before`, async () => {
    const orgB = await seedOrg("Org B");
    const tokenB = await provisioner(orgB.orgId);
    const runB = async () => {
      const email = uniqueEmail("bea");
      const created = await scim("POST", "/Users", tokenB.secret, { schemas: [USER], userName: email, name: { givenName: "Bea", familyName: "Baker" } });
      const user = await scimBody(created);
      const patched = await scim("PATCH", `/Users/${user["id"]}`, tokenB.secret, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.familyName", value: "Brown" }] });
      const body = await scimBody(patched);
      return [created.status, user["displayName"], user["name"], patched.status, body["displayName"], body["name"], Object.keys(body).sort()];
    };
    const before = await runB();

    const orgA = await seedOrg("Org A");
    const tokenA = await provisioner(orgA.orgId);
    const victim = await scimBody(await scim("POST", "/Users", tokenA.secret, { schemas: [USER], userName: uniqueEmail("eve"), displayName: "Eve" }));
    await fc.assert(
      fc.asyncProperty(patchBodyText, async (text) => {
        const res = await scim("PATCH", `/Users/${victim["id"]}`, tokenA.secret, text);
        expect(res.status).toBeLessThan(500);
        expect(prototypesChanged()).toEqual([]);
      }),
      { numRuns: THROUGH_WORKER_RUNS, seed: 0xa11ce, endOnFailure: true },
    );
    expect(await runB()).toEqual(before);
  });
});
