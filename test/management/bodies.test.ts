/**
 * Issue 6 §17: request bodies on every management route that takes one. Over 64 KiB → 413
 * (declared or streamed without Content-Length), a media type other than JSON → 415,
 * malformed JSON → 400, unknown fields, wrong types and names of 0 or 101 characters → 400.
 * Then a property test per route: random JSON and random objects built from the route's own
 * field names never get a 5xx, and never a 2xx unless the body is one the spec accepts.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { PERMISSION_PATTERN } from "../../src/domain/permissions";
import { MAX_BODY_BYTES } from "../../src/management/body-guard";
import { adminSession, freshEmail, seedOrg, seedPermissionSet, seedServiceToken, seedUser, sessionJwt, type SeededOrg } from "../helpers/seed";
import { call, PREFIX } from "../helpers/worker";
import { errorOf } from "../helpers/errors";
import { openLimiter } from "../helpers/bindings";

/** fast-check runs per route; with 13 routes this keeps the file well under a minute. */
const RUNS_PER_ROUTE = 200;

/** What a body-taking route needs: a place to send it, a credential, and what the spec accepts. */
interface Context {
  org: SeededOrg;
  admin: string;
  memberId: string;
  serviceTokenId: string;
  groupId: string;
  siteId: string;
  setId: string;
}

type Verdict = "valid" | "invalid" | "unknown";

interface BodyRoute {
  route: string;
  method: "POST" | "PATCH";
  path(ctx: Context): string;
  credential(ctx: Context): Promise<string | null>;
  /** A body the route accepts, and the status it answers with. */
  valid(ctx: Context): Record<string, unknown>;
  ok: number;
  /** Where the route's display names live, for the 0/101-character checks. */
  names: string[][];
  /** One wrong-typed value per field. */
  wrongTypes: Record<string, unknown>[];
  /** The route's fields and plausible-to-wrong values for each, for the property test. */
  fields(ctx: Context): Record<string, fc.Arbitrary<unknown>>;
  /** The spec's judgment of a body, written independently of the route's zod schema. */
  verdict(body: unknown, ctx: Context): Verdict;
  /** Statuses a valid body may still get (unknown ids → 400, limits and duplicates → 409). */
  validStatuses: number[];
}

// ---------------------------------------------------------------------------------------------
// The spec's rules, as plain predicates.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const onlyKeys = (v: Record<string, unknown>, keys: string[]) => Object.keys(v).every((k) => keys.includes(k));
/** A display name: a string of 1–100 characters after trimming (SPEC §4, NameSchema). */
const isName = (v: unknown) => typeof v === "string" && v.trim().length >= 1 && v.trim().length <= 100;
const isIdList = (v: unknown, max: number) =>
  Array.isArray(v) && v.length <= max && v.every((id) => typeof id === "string" && id.length >= 1 && id.length <= 100);
const isWindow = (v: unknown) => v === 31 || v === 45 || v === 60 || v === 180;

/** Combine per-field verdicts: any invalid → invalid; any unknown → unknown. */
function all(...verdicts: Verdict[]): Verdict {
  if (verdicts.includes("invalid")) return "invalid";
  return verdicts.includes("unknown") ? "unknown" : "valid";
}
const check = (ok: boolean): Verdict => (ok ? "valid" : "invalid");
/** Email syntax is the validator's call; without an "@" (or over 254 characters) it is surely invalid. */
function emailVerdict(v: unknown): Verdict {
  if (typeof v !== "string" || !v.includes("@") || v.trim().length > 254) return "invalid";
  return "unknown";
}
/** Ids of this org are valid; any other id list is well-formed but refused (400 unknown id). */
function optional(body: Record<string, unknown>, key: string, verdict: (v: unknown) => Verdict): Verdict {
  return key in body ? verdict(body[key]) : "valid";
}

// ---------------------------------------------------------------------------------------------
// Field arbitraries: right-shaped and wrong-shaped values mixed.

const anyJson = fc.jsonValue({ maxDepth: 2 });
/** Each field's values: right-shaped ones two times in three, wrong-shaped ones otherwise. */
const mostly = <T>(good: fc.Arbitrary<T>, ...bad: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ weight: 2 * bad.length, arbitrary: good as fc.Arbitrary<unknown> }, ...bad.map((arbitrary) => ({ weight: 1, arbitrary })));
const nameLike = mostly(
  fc.string({ minLength: 1, maxLength: 100 }).filter((n) => n.trim().length > 0),
  fc.string({ minLength: 0, maxLength: 110 }),
  fc.constantFrom("", " ", "\t\n", "x".repeat(100), "y".repeat(101), ` ${"z".repeat(100)} `, "Warehouse sync"),
  anyJson,
);
const idLike = (own: string[]) =>
  mostly(
    fc.uniqueArray(fc.constantFrom(...own), { maxLength: own.length }),
    fc.array(fc.oneof(fc.string({ maxLength: 110 }), fc.constantFrom(...own), anyJson), { maxLength: 4 }),
    anyJson,
  );
const windowLike = mostly(fc.constantFrom(31, 45, 60, 180), fc.constantFrom(0, 30, 46, -45, 45.5, 1e300), fc.integer(), anyJson);
const emailLike = mostly(
  fc.emailAddress(),
  fc.string({ maxLength: 20 }),
  fc.constant(`${"a".repeat(250)}@example.com`),
  anyJson,
);
const permissionsLike = mostly(
  fc.array(fc.constantFrom("inspections.view", "inspections.edit", "platform_management.users"), { maxLength: 3 }),
  fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("Inspections.View", "inspections", "a.b", "x".repeat(101))), { maxLength: 3 }),
  anyJson,
);
const statusLike = mostly(fc.constantFrom("active", "deactivated"), fc.constantFrom("removed", "ACTIVE", ""), anyJson);

/** A name no group has yet, for routes where names are unique. */
const freshName = () => `North ${crypto.randomUUID().slice(0, 8)}`;
/** A 100-character name of its own, so a route with unique names accepts each. */
const hundred = () => `${crypto.randomUUID().slice(0, 8)}${"y".repeat(92)}`;

const ROUTES: BodyRoute[] = [
  {
    route: "POST /service-tokens",
    method: "POST",
    path: () => "/service-tokens",
    credential: async (ctx) => ctx.admin,
    valid: (ctx) => ({ name: "Sync", inactivity_days: 60, permission_set_ids: [ctx.setId] }),
    ok: 201,
    names: [["name"]],
    wrongTypes: [{ name: 7 }, { name: "Sync", inactivity_days: "45" }, { name: "Sync", inactivity_days: 44 }, { name: "Sync", permission_set_ids: "ps_1" }, { name: null }],
    fields: (ctx) => ({ name: nameLike, inactivity_days: windowLike, permission_set_ids: idLike([ctx.setId]) }),
    verdict: (b, ctx) =>
      !isObject(b) || !onlyKeys(b, ["name", "inactivity_days", "permission_set_ids"]) || !("name" in b)
        ? "invalid"
        : all(
            check(isName(b["name"])),
            optional(b, "inactivity_days", (v) => check(isWindow(v))),
            optional(b, "permission_set_ids", (v) => check(isIdList(v, 100) && (v as string[]).every((id) => id === ctx.setId))),
          ),
    validStatuses: [201, 409],
  },
  {
    route: "PATCH /service-tokens/{id}",
    method: "PATCH",
    path: (ctx) => `/service-tokens/${ctx.serviceTokenId}`,
    credential: async (ctx) => ctx.admin,
    valid: () => ({ name: "Renamed sync", inactivity_days: 180 }),
    ok: 200,
    names: [["name"]],
    wrongTypes: [{ name: 7 }, { inactivity_days: "45" }, { inactivity_days: 44 }, { permission_set_ids: [1] }, {}],
    fields: (ctx) => ({ name: nameLike, inactivity_days: windowLike, permission_set_ids: idLike([ctx.setId]) }),
    verdict: (b, ctx) =>
      !isObject(b) || !onlyKeys(b, ["name", "inactivity_days", "permission_set_ids"]) || Object.keys(b).length === 0
        ? "invalid"
        : all(
            optional(b, "name", (v) => check(isName(v))),
            optional(b, "inactivity_days", (v) => check(isWindow(v))),
            optional(b, "permission_set_ids", (v) => check(isIdList(v, 100) && (v as string[]).every((id) => id === ctx.setId))),
          ),
    validStatuses: [200],
  },
  {
    route: "POST /me/api-tokens",
    method: "POST",
    path: () => "/me/api-tokens",
    // A fresh member each time: every valid body creates a token, and a member holds at most 10.
    credential: async (ctx) => sessionJwt({ sub: (await seedUser(ctx.org.orgId)).id, org: ctx.org.orgId }),
    valid: () => ({ name: "CLI" }),
    ok: 201,
    names: [["name"]],
    wrongTypes: [{ name: 7 }, { name: ["CLI"] }, { name: null }, {}],
    fields: () => ({ name: nameLike }),
    verdict: (b) => (!isObject(b) || !onlyKeys(b, ["name"]) || !("name" in b) ? "invalid" : check(isName(b["name"]))),
    validStatuses: [201, 409],
  },
  {
    route: "POST /users",
    method: "POST",
    path: () => "/users",
    credential: async (ctx) => ctx.admin,
    valid: (ctx) => ({ name: "New Member", email: freshEmail(), permission_set_ids: [ctx.setId], group_ids: [ctx.groupId], site_ids: [ctx.siteId] }),
    ok: 201,
    names: [["name"]],
    wrongTypes: [
      { name: 7, email: freshEmail() },
      { name: "A", email: 7 },
      { name: "A", email: "not-an-email" },
      { name: "A", email: freshEmail(), group_ids: "grp_1" },
      { name: "A", email: freshEmail(), site_ids: [null] },
      { name: "A", email: freshEmail(), permission_set_ids: {} },
    ],
    fields: (ctx) => ({
      name: nameLike,
      email: emailLike,
      permission_set_ids: idLike([ctx.setId]),
      group_ids: idLike([ctx.groupId]),
      site_ids: idLike([ctx.siteId]),
    }),
    verdict: (b) =>
      !isObject(b) || !onlyKeys(b, ["name", "email", "permission_set_ids", "group_ids", "site_ids"]) || !("name" in b) || !("email" in b)
        ? "invalid"
        : all(
            check(isName(b["name"])),
            emailVerdict(b["email"]),
            ...["permission_set_ids", "group_ids", "site_ids"].map((k) => optional(b, k, (v) => check(isIdList(v, 500)))),
          ),
    validStatuses: [201, 400, 409],
  },
  {
    route: "PATCH /users/{id}",
    method: "PATCH",
    path: (ctx) => `/users/${ctx.memberId}`,
    credential: async (ctx) => ctx.admin,
    valid: (ctx) => ({ name: "Renamed Member", group_ids: [ctx.groupId], status: "active" }),
    ok: 200,
    names: [["name"]],
    wrongTypes: [{ name: 7 }, { email: "nope" }, { status: "removed" }, { status: true }, { group_ids: [7] }, { site_ids: "site_1" }],
    fields: (ctx) => ({
      name: nameLike,
      email: emailLike,
      status: statusLike,
      permission_set_ids: idLike([ctx.setId]),
      group_ids: idLike([ctx.groupId]),
      site_ids: idLike([ctx.siteId]),
    }),
    verdict: (b) =>
      !isObject(b) || !onlyKeys(b, ["name", "email", "status", "permission_set_ids", "group_ids", "site_ids"])
        ? "invalid"
        : all(
            optional(b, "name", (v) => check(isName(v))),
            optional(b, "email", emailVerdict),
            optional(b, "status", (v) => check(v === "active" || v === "deactivated")),
            ...["permission_set_ids", "group_ids", "site_ids"].map((k) => optional(b, k, (v) => check(isIdList(v, 500)))),
          ),
    validStatuses: [200, 400, 409],
  },
  ...(["groups", "sites"] as const).flatMap((collection): BodyRoute[] => {
    const nameOnly = (b: unknown, required: boolean): Verdict =>
      !isObject(b) || !onlyKeys(b, ["name"]) || (required && !("name" in b)) ? "invalid" : optional(b, "name", (v) => check(isName(v)));
    // A group's name is unique in its org, ignoring letter case (SPEC §4): a valid body may meet a taken name (409).
    const unique = collection === "groups";
    return [
      {
        route: `POST /${collection}`,
        method: "POST",
        path: () => `/${collection}`,
        credential: async (ctx) => ctx.admin,
        valid: () => ({ name: unique ? freshName() : "North" }),
        ok: 201,
        names: [["name"]],
        wrongTypes: [{ name: 7 }, { name: null }, { name: { first: "x" } }, {}],
        fields: () => ({ name: nameLike }),
        verdict: (b) => nameOnly(b, true),
        validStatuses: unique ? [201, 409] : [201],
      },
      {
        route: `PATCH /${collection}/{id}`,
        method: "PATCH",
        path: (ctx) => `/${collection}/${collection === "groups" ? ctx.groupId : ctx.siteId}`,
        credential: async (ctx) => ctx.admin,
        valid: () => ({ name: "South" }),
        ok: 200,
        names: [["name"]],
        wrongTypes: [{ name: 7 }, { name: null }, { name: ["South"] }],
        fields: () => ({ name: nameLike }),
        verdict: (b) => nameOnly(b, false),
        validStatuses: unique ? [200, 409] : [200],
      },
    ];
  }),
  {
    route: "POST /permission-sets",
    method: "POST",
    path: () => "/permission-sets",
    credential: async (ctx) => ctx.admin,
    valid: () => ({ name: "Viewers", permissions: ["inspections.view"] }),
    ok: 201,
    names: [["name"]],
    wrongTypes: [{ name: 7, permissions: [] }, { name: "V" }, { name: "V", permissions: "inspections.view" }, { name: "V", permissions: ["Inspections.View"] }, { name: "V", permissions: [1] }],
    fields: () => ({ name: nameLike, permissions: permissionsLike }),
    verdict: (b) =>
      !isObject(b) || !onlyKeys(b, ["name", "permissions"]) || !("name" in b) || !("permissions" in b)
        ? "invalid"
        : all(check(isName(b["name"])), check(isPermissions(b["permissions"]))),
    validStatuses: [201],
  },
  {
    route: "PATCH /permission-sets/{id}",
    method: "PATCH",
    path: (ctx) => `/permission-sets/${ctx.setId}`,
    credential: async (ctx) => ctx.admin,
    valid: () => ({ name: "Viewers", permissions: ["inspections.view", "inspections.edit"] }),
    ok: 200,
    names: [["name"]],
    wrongTypes: [{ name: 7 }, { permissions: "inspections.view" }, { permissions: ["inspections"] }, { permissions: [null] }],
    fields: () => ({ name: nameLike, permissions: permissionsLike }),
    verdict: (b) =>
      !isObject(b) || !onlyKeys(b, ["name", "permissions"])
        ? "invalid"
        : all(optional(b, "name", (v) => check(isName(v))), optional(b, "permissions", (v) => check(isPermissions(v)))),
    validStatuses: [200],
  },
  {
    route: "POST /orgs",
    method: "POST",
    path: () => "/orgs",
    credential: async () => "test-admin-secret",
    valid: () => ({ name: "Globex", admin: { name: "Globex Admin", email: freshEmail() } }),
    ok: 201,
    names: [["name"], ["admin", "name"]],
    wrongTypes: [
      { name: 7, admin: { name: "A", email: freshEmail() } },
      { name: "G", admin: "A" },
      { name: "G", admin: { name: "A", email: freshEmail(), role: "owner" } },
      { name: "G", admin: { name: "A" } },
    ],
    fields: () => ({
      name: nameLike,
      admin: fc.oneof(fc.record({ name: nameLike, email: emailLike }, { requiredKeys: [] }), anyJson),
    }),
    verdict: (b) => {
      if (!isObject(b) || !onlyKeys(b, ["name", "admin"]) || !("name" in b) || !isObject(b["admin"])) return "invalid";
      const admin = b["admin"];
      if (!onlyKeys(admin, ["name", "email"]) || !("name" in admin) || !("email" in admin)) return "invalid";
      return all(check(isName(b["name"])), check(isName(admin["name"])), emailVerdict(admin["email"]));
    },
    validStatuses: [201],
  },
  {
    route: "POST /credentials/revoke",
    method: "POST",
    path: () => "/credentials/revoke",
    credential: async () => null,
    valid: () => ({ credentials: ["pcs_not_a_real_token"] }),
    ok: 202,
    names: [],
    wrongTypes: [{ credentials: "pcs_x" }, { credentials: [] }, { credentials: [7] }, { credentials: ["x".repeat(1025)] }, {}],
    fields: () => ({
      credentials: fc.oneof(fc.array(fc.string({ maxLength: 60 }), { maxLength: 3 }), fc.constant([]), fc.constant(["x".repeat(1025)]), anyJson),
    }),
    verdict: (b) => {
      if (!isObject(b) || !onlyKeys(b, ["credentials"]) || !("credentials" in b)) return "invalid";
      const list = b["credentials"];
      return check(Array.isArray(list) && list.length >= 1 && list.length <= 1000 && list.every((s) => typeof s === "string" && s.length <= 1024));
    },
    validStatuses: [202],
  },
];

function isPermissions(v: unknown): boolean {
  return Array.isArray(v) && v.length <= 200 && v.every((p) => typeof p === "string" && p.length <= 100 && PERMISSION_PATTERN.test(p));
}

// ---------------------------------------------------------------------------------------------

let ctx: Context;

beforeAll(async () => {
  const org = await seedOrg();
  const member = await seedUser(org.orgId, { name: "Dana Inspector", groupNames: ["North"], siteNames: ["Depot"] });
  const setId = await seedPermissionSet(org.orgId, ["inspections.view"], "Viewers");
  const serviceToken = await seedServiceToken(org.orgId, { permissionSetIds: [setId] });
  ctx = {
    org,
    admin: await adminSession(org),
    memberId: member.id,
    serviceTokenId: serviceToken.id,
    groupId: member.groupIds[0]!,
    siteId: member.siteIds[0]!,
    setId,
  };
});

async function send(
  route: BodyRoute,
  body: BodyInit | null,
  headers: Record<string, string> = { "content-type": "application/json" },
  credential?: string | null,
): Promise<Response> {
  const cred = credential === undefined ? await route.credential(ctx) : credential;
  return call(PREFIX + route.path(ctx), {
    method: route.method,
    headers: { ...(cred ? { authorization: `Bearer ${cred}` } : {}), ...headers },
    body,
    env: { LEAK_REPORT_LIMITER: openLimiter, AUTH_FAILURE_LIMITER: openLimiter },
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** The route's valid body, padded with JSON whitespace to exactly `bytes` bytes. */
function paddedTo(route: BodyRoute, bytes: number): string {
  const json = JSON.stringify(route.valid(ctx));
  return json + " ".repeat(bytes - new TextEncoder().encode(json).byteLength);
}

/** `text` as a stream of 4 KiB chunks, so the request has no Content-Length. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 4096));
      offset += 4096;
    },
  });
}

function withName(body: Record<string, unknown>, path: string[], name: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path[path.length - 1]!] = name;
  return copy;
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect((await errorOf(res)).code).toBe(code);
}

for (const route of ROUTES) {
  describe(`${route.route}: body limits, media type and validation (issue 6 §17)`, () => {
    it("accepts a valid body of exactly 64 KiB, declared or streamed", async () => {
      expect(new TextEncoder().encode(paddedTo(route, MAX_BODY_BYTES)).byteLength).toBe(MAX_BODY_BYTES);
      expect((await send(route, paddedTo(route, MAX_BODY_BYTES))).status).toBe(route.ok);
      expect((await send(route, streamed(paddedTo(route, MAX_BODY_BYTES)))).status).toBe(route.ok);
    });

    it("64 KiB + 1 byte with Content-Length → 413 payload_too_large", async () => {
      const body = paddedTo(route, MAX_BODY_BYTES + 1);
      const res = await send(route, body, { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES + 1) });
      await expectError(res, 413, "payload_too_large");
    });

    it("64 KiB + 1 byte streamed without Content-Length → 413 payload_too_large", async () => {
      await expectError(await send(route, streamed(paddedTo(route, MAX_BODY_BYTES + 1))), 413, "payload_too_large");
    });

    it("a body larger than its Content-Length claims is still counted → 413", async () => {
      await expectError(await send(route, paddedTo(route, MAX_BODY_BYTES + 1), { "content-type": "application/json", "content-length": "100" }), 413, "payload_too_large");
    });

    it("a valid body sent as text/plain, as a form, or without a content type → 415 unsupported_media_type", async () => {
      const json = JSON.stringify(route.valid(ctx));
      await expectError(await send(route, json, { "content-type": "text/plain" }), 415, "unsupported_media_type");
      await expectError(await send(route, "name=x", { "content-type": "application/x-www-form-urlencoded" }), 415, "unsupported_media_type");
      await expectError(await send(route, json, {}), 415, "unsupported_media_type");
      await expectError(await send(route, json, { "content-type": "application/jsonx" }), 415, "unsupported_media_type");
    });

    it("accepts application/json in any letter case and with a charset parameter", async () => {
      expect((await send(route, JSON.stringify(route.valid(ctx)), { "content-type": "Application/JSON; charset=utf-8" })).status).toBe(route.ok);
    });

    it("malformed JSON → 400 invalid_request", async () => {
      for (const text of ['{"name":', "{name: 'x'}", "", "{}}", '{"a":1,}', "\u0000", "[1,2"]) {
        await expectError(await send(route, text), 400, "invalid_request");
      }
    });

    it("JSON that is not an object → 400 invalid_request", async () => {
      for (const value of [null, [], [route.valid(ctx)], "name", 42, true]) {
        await expectError(await send(route, JSON.stringify(value)), 400, "invalid_request");
      }
    });

    it("an unknown field beside valid ones → 400 invalid_request, nothing created", async () => {
      for (const extra of [{ id: "x" }, { token: "pcs_x" }, { status_: "active" }, { __proto__x: 1 }, JSON.parse('{"__proto__": {"admin": true}}') as object]) {
        await expectError(await send(route, JSON.stringify({ ...route.valid(ctx), ...extra })), 400, "invalid_request");
      }
    });

    it("wrong types and values → 400 invalid_request", async () => {
      for (const body of route.wrongTypes) {
        const res = await send(route, JSON.stringify(body));
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((await errorOf(res)).code).toBe("invalid_request");
      }
    });

    if (route.names.length > 0) {
      it("names of 0 or 101 characters (or only spaces) → 400; 100 characters and a padded 100 are accepted", async () => {
        for (const path of route.names) {
          for (const name of ["", "y".repeat(101), "   ", "\t\n", ` ${"y".repeat(101)} `]) {
            const res = await send(route, JSON.stringify(withName(route.valid(ctx), path, name)));
            expect(res.status, `${path.join(".")}=${JSON.stringify(name)}`).toBe(400);
            expect((await errorOf(res)).code).toBe("invalid_request");
          }
          for (const name of [hundred(), `  ${hundred()}  `]) {
            expect((await send(route, JSON.stringify(withName(route.valid(ctx), path, name)))).status).toBe(route.ok);
          }
        }
      });
    }
  });
}

describe("property: random bodies on every body-taking route (issue 6 §17)", () => {
  for (const route of ROUTES) {
    it(`${route.route}: ${RUNS_PER_ROUTE} random bodies, never a 5xx, never a 2xx for a body the spec refuses`, async () => {
      const credential = await route.credential(ctx);
      const fields = route.fields(ctx);
      const keys = Object.keys(fields);
      const randomKey = fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "id", "token"));
      const body = fc.oneof(
        anyJson,
        // Objects with all of the route's keys, or any subset, holding right- and wrong-shaped values.
        fc.record(fields),
        fc.record(fields, { requiredKeys: [] }),
        // The same, plus random keys with random values.
        fc.tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(randomKey, anyJson, { maxKeys: 3 })).map(([known, extra]) => ({ ...extra, ...known })),
      );
      const seen = { valid: 0, invalid: 0, unknown: 0 };
      await fc.assert(
        fc.asyncProperty(body, async (value) => {
          const verdict = route.verdict(value, ctx);
          seen[verdict]++;
          const res = await send(route, JSON.stringify(value), { "content-type": "application/json" }, credential);
          const status = res.status;
          const text = await res.text();
          expect(status, text).toBeLessThan(500);
          if (verdict === "invalid") {
            expect(status, `${JSON.stringify(value)} → ${text}`).toBe(400);
            expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe("invalid_request");
          }
          if (verdict === "valid") expect(route.validStatuses, `${JSON.stringify(value)} → ${status} ${text}`).toContain(status);
          // Only the validator may judge an email the predicate cannot: accepted, or refused as invalid input.
          if (verdict === "unknown") expect([...route.validStatuses, 400], `${JSON.stringify(value)} → ${status} ${text}`).toContain(status);
        }),
        { numRuns: RUNS_PER_ROUTE },
      );
      // The generators reach both sides of the spec's line, not just garbage.
      expect(seen.invalid).toBeGreaterThan(0);
      expect(seen.valid + seen.unknown).toBeGreaterThan(0);
    });
  }
});
