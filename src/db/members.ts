/**
 * Membership status changes (SPEC §1): deactivating or removing a member ends all of that
 * member's tokens in the org for good, in the same D1 batch as the status change, so no
 * interleaving can leave an inactive member with a live token. Reactivation restores the
 * membership only; ended tokens stay expired. The directory API and SCIM both call this: one
 * code path for deprovisioning.
 */
import { and, eq, sql } from "drizzle-orm";
import { activityInsert, type Actor } from "./activity";
import { atomically, type Orm } from "./client";
import { apiTokens, users } from "./schema";
import { changes } from "./tokens";

export type MemberStatusChange = "deactivated" | "active" | "removed";

export interface StatusChangeResult {
  found: boolean;
  /** Ids of tokens this change ended (for cache invalidation). */
  endedTokenIds: string[];
}

/** Statements ending every active token of `userId` (no event per token: one member event says why). */
function endTokens(db: Orm, orgId: string, userId: string, now: number) {
  return db
    .update(apiTokens)
    .set({ status: "expired", expiredAt: now, updatedAt: now })
    .where(and(eq(apiTokens.orgId, orgId), eq(apiTokens.userId, userId), eq(apiTokens.status, "active")));
}

export async function setMemberStatus(
  db: Orm,
  input: { orgId: string; userId: string; status: MemberStatusChange; actor: Actor; now?: number },
): Promise<StatusChangeResult> {
  const now = input.now ?? Date.now();
  const member = await db.query.users.findFirst({
    where: and(eq(users.id, input.userId), eq(users.orgId, input.orgId), sql`${users.status} <> 'removed'`),
  });
  if (!member) return { found: false, endedTokenIds: [] };
  if (member.status === input.status) return { found: true, endedTokenIds: [] };
  const ending = input.status !== "active";
  const live = ending
    ? await db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(and(eq(apiTokens.userId, input.userId), eq(apiTokens.status, "active")))
    : [];
  const type = input.status === "removed" ? "user.removed" : input.status === "deactivated" ? "user.deactivated" : "user.reactivated";
  const update = db
    .update(users)
    .set({ status: input.status, updatedAt: now })
    .where(and(eq(users.id, input.userId), eq(users.orgId, input.orgId), sql`${users.status} <> 'removed'`));
  const event = activityInsert(db, {
    orgId: input.orgId,
    type,
    actor: input.actor,
    target: { type: "user", id: member.id, name: member.name },
    details: ending ? { tokens_ended: live.length } : {},
    at: now,
  });
  const results = ending
    ? await atomically(db, [update, endTokens(db, input.orgId, input.userId, now), event])
    : await atomically(db, [update, event]);
  if (changes(results[0]) === 0) return { found: false, endedTokenIds: [] };
  return { found: true, endedTokenIds: live.map((t) => t.id) };
}
