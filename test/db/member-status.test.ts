/**
 * Member status changes (SPEC §1, db/members.ts): two writers that both read the member as
 * active and both deactivate (or remove) them must end the tokens once and record one event,
 * so the activity log and its webhooks (SPEC §10) say it happened once.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { atomically } from "../../src/db/client";
import { planMemberStatus, setMemberStatus } from "../../src/db/members";
import { activityEvents, apiTokens, users } from "../../src/db/schema";
import { db, seedOrg, seedUser, seedUserToken } from "../helpers/seed";

const actor = { id: "usr_admin", type: "user" as const, name: "Admin" };

async function eventsOf(orgId: string, type: string) {
  return db()
    .select()
    .from(activityEvents)
    .where(and(eq(activityEvents.orgId, orgId), eq(activityEvents.type, type)));
}

describe("two concurrent status changes of one member", () => {
  for (const status of ["deactivated", "removed"] as const) {
    it(`to ${status}: the second changes nothing and records no second event`, async () => {
      const org = await seedOrg();
      const user = await seedUser(org.orgId, { name: "Rae Racer" });
      const token = await seedUserToken(org.orgId, user.id);
      // Both writers plan while the member is still active, as two requests arriving together do.
      const first = await planMemberStatus(db(), { orgId: org.orgId, userId: user.id, status, actor, now: 1_000 });
      const second = await planMemberStatus(db(), { orgId: org.orgId, userId: user.id, status, actor, now: 2_000 });
      expect(first.endedTokenIds).toEqual([token.id]);
      expect(second.endedTokenIds).toEqual([token.id]);
      await atomically(db(), first.statements);
      await atomically(db(), second.statements);

      const type = status === "removed" ? "user.removed" : "user.deactivated";
      const events = await eventsOf(org.orgId, type);
      expect(events).toHaveLength(1);
      expect(events[0]!.occurredAt).toBe(1_000);
      const [row] = await db().select().from(apiTokens).where(eq(apiTokens.id, token.id));
      expect(row!.status).toBe("expired");
      expect(row!.expiredAt).toBe(1_000);
      const member = await db().query.users.findFirst({ where: eq(users.id, user.id) });
      expect(member!.status).toBe(status);
      expect(member!.updatedAt).toBe(1_000);
    });
  }

  it("a status change planned before another writer changed it applies nothing, and setMemberStatus says so", async () => {
    const org = await seedOrg();
    const user = await seedUser(org.orgId, { name: "Lee Late" });
    const stale = await planMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "deactivated", actor, now: 1_000 });
    // Meanwhile the member is removed.
    expect(await setMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "removed", actor, now: 1_500 })).toEqual({
      found: true,
      endedTokenIds: [],
    });
    await atomically(db(), stale.statements);
    const member = await db().query.users.findFirst({ where: eq(users.id, user.id) });
    expect(member!.status).toBe("removed");
    expect(await eventsOf(org.orgId, "user.deactivated")).toHaveLength(0);
    // A second removal finds no member to remove.
    expect(await setMemberStatus(db(), { orgId: org.orgId, userId: user.id, status: "removed", actor })).toEqual({ found: false, endedTokenIds: [] });
  });
});
