/**
 * GET /activity-log (SPEC §4): events newest first with the actor's id, type and display name
 * (the user's name, or the service user's name for service tokens — seeds: "Activity logs"),
 * filterable by actor and type, cursor-paginated, never another organization's.
 */
import { describe, expect, it } from "vitest";
import { activityInsert } from "../../src/db/activity";
import { describeSecurity } from "../helpers/security";
import { adminSession, db, seedOrg, seedPermissionSet, seedServiceToken, seedUser, seedUserToken, type SeededOrg } from "../helpers/seed";
import { api, bearer, call, marker } from "../helpers/worker";
import { errorCode } from "../helpers/errors";

interface ActivityEvent {
  id: string;
  type: string;
  occurred_at: string;
  actor: { id: string | null; type: string; name: string };
  target: { type: string; id: string; name: string | null } | null;
  details: Record<string, unknown> | null;
}
interface EventPage {
  data: ActivityEvent[];
  next_cursor: string | null;
}

async function log(org: SeededOrg, query = ""): Promise<EventPage> {
  const res = await api("GET", `/activity-log${query}`, await adminSession(org));
  expect(res.status).toBe(200);
  return (await res.json()) as EventPage;
}

describe("GET /activity-log", () => {
  it("lists events newest first with actor name and type, target and details", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    const group = (await (await api("POST", "/groups", admin, { name: "Night shift" })).json()) as { id: string };
    await api("PATCH", `/groups/${group.id}`, admin, { name: "Day shift" });

    const res = await api("GET", "/activity-log", admin);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as EventPage;
    expect(body.next_cursor).toBeNull();
    expect(body.data.map((e) => e.type)).toEqual(["group.updated", "group.created", "org.created"]);
    const [updated, created, bootstrap] = body.data;
    expect(updated).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: "group.updated",
      occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      actor: { id: org.adminId, type: "user", name: org.adminName },
      target: { type: "group", id: group.id, name: "Day shift" },
      details: { name: { from: "Night shift", to: "Day shift" } },
    });
    expect(created!.details).toBeNull();
    expect(bootstrap).toMatchObject({ actor: { id: null, type: "operator", name: "Operator" }, target: { type: "organization", id: org.orgId } });
  });

  it("orders by when events happened, not by when they were written", async () => {
    const org = await seedOrg();
    const base = Date.now() - 60_000;
    const actor = { id: org.adminId, type: "user" as const, name: org.adminName };
    for (const [offset, name] of [[2000, "second"], [0, "first"], [4000, "third"]] as const) {
      await activityInsert(db(), { orgId: org.orgId, type: "token.revoked", actor, target: { type: "api_token", id: `tok_${name}`, name }, at: base + offset });
    }
    const events = (await log(org, "?type=token.revoked")).data;
    expect(events.map((e) => e.target!.name)).toEqual(["third", "second", "first"]);
    expect(events.map((e) => e.occurred_at)).toEqual([4000, 2000, 0].map((o) => new Date(base + o).toISOString()));
  });

  it("shows the service user's name for a service token's changes and the user's name for a user token's use", async () => {
    const org = await seedOrg();
    const directory = await seedPermissionSet(org.orgId, ["platform_management.groups", "inspections.view"], "Directory");
    const service = await seedServiceToken(org.orgId, { name: "HR sync", permissionSetIds: [directory] });
    expect((await api("POST", "/groups", service.secret, { name: "From HR" })).status).toBe(201);
    const user = await seedUser(org.orgId, { name: "Dana Inspector", permissionSetIds: [directory] });
    const token = await seedUserToken(org.orgId, user.id);
    expect((await call(`/inspections/${marker()}`, { headers: bearer(token.secret) })).status).toBe(200);

    const events = (await log(org)).data;
    expect(events.find((e) => e.type === "group.created")!.actor).toEqual({ id: service.serviceUserId, type: "service_user", name: "HR sync" });
    const firstUse = events.find((e) => e.type === "token.first_used" && e.target?.id === token.id);
    expect(firstUse!.actor).toEqual({ id: user.id, type: "user", name: "Dana Inspector" });
  });

  it("keeps the actor's name as it was when the event happened", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    await api("POST", "/sites", admin, { name: "Depot" });
    await api("PATCH", `/users/${org.adminId}`, admin, { name: "Renamed Admin" });
    await api("POST", "/sites", admin, { name: "Yard" });
    const sites = (await log(org, "?type=site.created")).data;
    expect(sites.map((e) => [e.target!.name, e.actor.name])).toEqual([
      ["Yard", "Renamed Admin"],
      ["Depot", org.adminName],
    ]);
  });

  it("filters by actor_id, actor_type and type, alone and together", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    const directory = await seedPermissionSet(org.orgId, ["platform_management.groups", "platform_management.sites"]);
    const service = await seedServiceToken(org.orgId, { name: "HR sync", permissionSetIds: [directory] });
    await api("POST", "/groups", admin, { name: "By admin" });
    await api("POST", "/groups", service.secret, { name: "By service" });
    await api("POST", "/sites", service.secret, { name: "Site by service" });
    // A token event as the token routes write it, to filter by a type this file does not produce.
    await activityInsert(db(), {
      orgId: org.orgId,
      type: "token.revoked",
      actor: { id: org.adminId, type: "user", name: org.adminName },
      target: { type: "api_token", id: "tok_01JABCDEFGHJKMNPQRSTVWXYZ0", name: "CLI" },
    });

    // The service token's first use is logged too (written after the response, so its place
    // among the same millisecond's events is not fixed).
    const byService = (await log(org, `?actor_id=${service.serviceUserId}`)).data;
    expect(byService.filter((e) => e.type !== "token.first_used").map((e) => e.type)).toEqual(["site.created", "group.created"]);
    expect(byService.filter((e) => e.type === "token.first_used").map((e) => e.target!.id)).toEqual([service.id]);
    expect(byService.every((e) => e.actor.name === "HR sync")).toBe(true);

    const serviceTypes = (await log(org, "?actor_type=service_user")).data;
    expect(serviceTypes).toHaveLength(3);
    expect(serviceTypes.filter((e) => e.type !== "token.first_used").map((e) => e.target!.name)).toEqual(["Site by service", "By service"]);

    const groupsCreated = (await log(org, "?type=group.created")).data;
    expect(groupsCreated.map((e) => e.target!.name)).toEqual(["By service", "By admin"]);

    const revoked = (await log(org, "?type=token.revoked")).data;
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.actor.name).toBe(org.adminName);

    const combined = (await log(org, `?actor_id=${org.adminId}&actor_type=user&type=group.created`)).data;
    expect(combined.map((e) => e.target!.name)).toEqual(["By admin"]);

    // The bootstrap and the test seed's service token creation are the operator's.
    expect((await log(org, "?actor_type=operator")).data.map((e) => e.type)).toEqual(["token.created", "org.created"]);
    expect((await log(org, "?type=user.removed")).data).toEqual([]);
  });

  it("pages newest first with next_cursor, without repeats or gaps, also under a filter", async () => {
    const org = await seedOrg();
    const admin = await adminSession(org);
    for (let i = 0; i < 5; i++) await api("POST", "/groups", admin, { name: `Group ${i}` });
    const all = (await log(org)).data.map((e) => e.id);
    expect(all).toHaveLength(6);
    expect([...all].sort().reverse()).toEqual(all);

    const walk = async (filter: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: EventPage = await log(org, `?limit=2${filter}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.map((e) => e.id));
        cursor = page.next_cursor;
      } while (cursor);
      return seen;
    };
    expect(await walk("")).toEqual(all);
    expect(await walk("&type=group.created")).toEqual(all.slice(0, 5));
  });

  it("never shows another organization's events, even when asked for its actor", async () => {
    const org = await seedOrg();
    const other = await seedOrg("Other");
    await api("POST", "/groups", await adminSession(other), { name: "Theirs" });
    const mine = (await log(org)).data;
    expect(mine.map((e) => e.type)).toEqual(["org.created"]);
    expect(mine[0]!.target!.id).toBe(org.orgId);
    expect((await log(org, `?actor_id=${other.adminId}`)).data).toEqual([]);
  });

  it.each(["actor_type=robot", "type=DROP%20TABLE", "type=token", "limit=0", "limit=1000", "cursor=abc", "actor=x", "actor_id="])(
    "rejects ?%s with 400 invalid_request",
    async (query) => {
      const org = await seedOrg();
      const res = await api("GET", `/activity-log?${query}`, await adminSession(org));
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    },
  );
});

describeSecurity("GET /activity-log", { method: "GET", path: "/activity-log", permission: "platform_management.audit_log" });
