/**
 * Membership status changes (SPEC §1): deactivating or removing a member ends all of that
 * member's tokens in the org for good, in the same D1 batch as the status change, so no
 * interleaving can leave an inactive member with a live token. Reactivation restores the
 * membership only; ended tokens stay expired. One code path for deprovisioning, whoever asks:
 * `updateMember` (db/directory/members.ts: PATCH /users/{id}, SCIM PUT and PATCH `active`) puts
 * the planned statements in its own batch; `setMemberStatus` runs them alone (DELETE /users/{id},
 * SCIM DELETE).
 */
import { and, eq, sql, type SQL } from "drizzle-orm";
import { activityInsertWhen, type Actor } from "./activity";
import { atomically, type BatchItem, type Orm } from "./client";
import { apiTokens, userGroups, userPermissionSets, users, userSites } from "./schema";
import { changes } from "./tokens";

export type MemberStatusChange = "deactivated" | "active" | "removed";

export interface StatusChangeResult {
  found: boolean;
  /** Ids of tokens this change ended (for cache invalidation). */
  endedTokenIds: string[];
}

export interface StatusChangeInput {
  orgId: string;
  userId: string;
  status: MemberStatusChange;
  actor: Actor;
  now?: number;
}

/**
 * The statements of a status change, unexecuted, so a caller can put them in one batch with
 * other edits of the same member (PATCH /users/{id} changing status and fields together).
 * The last statement is the status update; its `changes` tell whether the member still had the
 * status read when planning. Empty `statements` with `found` means the member already has that status.
 */
export interface StatusChangePlan extends StatusChangeResult {
  statements: BatchItem[];
}

/** Ends every active token of `userId` (no event per token: the one member event says why). */
function endTokens(db: Orm, orgId: string, userId: string, now: number, when: SQL | undefined) {
  return db
    .update(apiTokens)
    .set({ status: "expired", expiredAt: now, updatedAt: now })
    .where(and(eq(apiTokens.orgId, orgId), eq(apiTokens.userId, userId), eq(apiTokens.status, "active"), when));
}

export interface StatusChangeOptions {
  /** The member as the caller already read it (skips a read). */
  known?: { id: string; name: string; status: "active" | "deactivated" };
  /**
   * A condition every planned statement carries, so the change applies only with the caller's
   * other statements of the same batch (updateMember: the member still live, the email still free).
   */
  when?: SQL;
}

export async function planMemberStatus(db: Orm, input: StatusChangeInput, options: StatusChangeOptions = {}): Promise<StatusChangePlan> {
  const { known, when } = options;
  const now = input.now ?? Date.now();
  const member =
    known ??
    (await db.query.users.findFirst({
      columns: { id: true, name: true, status: true },
      where: and(eq(users.id, input.userId), eq(users.orgId, input.orgId), sql`${users.status} <> 'removed'`),
    }));
  if (!member) return { found: false, endedTokenIds: [], statements: [] };
  if (member.status === input.status) return { found: true, endedTokenIds: [], statements: [] };
  const ending = input.status !== "active";
  const live = ending
    ? await db
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(and(eq(apiTokens.orgId, input.orgId), eq(apiTokens.userId, input.userId), eq(apiTokens.status, "active")))
    : [];
  const type = input.status === "removed" ? "user.removed" : input.status === "deactivated" ? "user.deactivated" : "user.reactivated";
  // Every statement holds only while the member still has the status read above (and the
  // caller's condition), and the status update comes last: of two concurrent changes to the same
  // status, the second ends nothing and records no second event (nor a second webhook).
  const unchanged = and(
    sql`EXISTS (SELECT 1 FROM users WHERE id = ${input.userId} AND org_id = ${input.orgId} AND status = ${member.status})`,
    when,
  );
  const statements: BatchItem[] = [
    activityInsertWhen(unchanged!, {
      orgId: input.orgId,
      type,
      actor: input.actor,
      target: { type: "user", id: member.id, name: member.name },
      details: ending ? { tokens_ended: live.length } : {},
      at: now,
    }),
  ];
  if (ending) statements.push(endTokens(db, input.orgId, input.userId, now, unchanged));
  // A removed member holds nothing: the row stays only so the activity log keeps their name.
  if (input.status === "removed") {
    statements.push(
      db.delete(userPermissionSets).where(and(eq(userPermissionSets.userId, input.userId), unchanged)),
      db.delete(userGroups).where(and(eq(userGroups.userId, input.userId), unchanged)),
      db.delete(userSites).where(and(eq(userSites.userId, input.userId), unchanged)),
    );
  }
  statements.push(
    db
      .update(users)
      .set({ status: input.status, updatedAt: now })
      .where(and(eq(users.id, input.userId), eq(users.orgId, input.orgId), eq(users.status, member.status), when)),
  );
  return { found: true, endedTokenIds: live.map((t) => t.id), statements };
}

export async function setMemberStatus(db: Orm, input: StatusChangeInput): Promise<StatusChangeResult> {
  const plan = await planMemberStatus(db, input);
  if (!plan.found || plan.statements.length === 0) return { found: plan.found, endedTokenIds: [] };
  const results = await atomically(db, plan.statements);
  if (changes(results[results.length - 1]) > 0) return { found: true, endedTokenIds: plan.endedTokenIds };
  // Another writer changed the status first: this call changed nothing; say whether the member is still there.
  const still = await db.query.users.findFirst({
    columns: { id: true },
    where: and(eq(users.id, input.userId), eq(users.orgId, input.orgId), sql`${users.status} <> 'removed'`),
  });
  return { found: still !== undefined, endedTokenIds: [] };
}
