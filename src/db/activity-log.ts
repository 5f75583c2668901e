/**
 * Reading the activity log (SPEC §4): one organization's events, newest first, optionally
 * narrowed to one actor, one actor type and one event type. Ids are time-sortable, so "newest
 * first" is `ORDER BY id DESC` and the cursor is the last id seen; each filter has an index
 * that starts (org_id, …, id).
 */
import { and, desc, eq, lt } from "drizzle-orm";
import type { Orm } from "./client";
import { activityEvents, type ActivityEventRow } from "./schema";

export interface ActivityFilter {
  actorId?: string;
  actorType?: ActivityEventRow["actorType"];
  type?: string;
}

export async function listActivity(
  db: Orm,
  orgId: string,
  filter: ActivityFilter,
  page: { beforeId: string | null; limit: number },
): Promise<ActivityEventRow[]> {
  return db
    .select()
    .from(activityEvents)
    .where(
      and(
        eq(activityEvents.orgId, orgId),
        filter.actorId !== undefined ? eq(activityEvents.actorId, filter.actorId) : undefined,
        filter.actorType !== undefined ? eq(activityEvents.actorType, filter.actorType) : undefined,
        filter.type !== undefined ? eq(activityEvents.type, filter.type) : undefined,
        page.beforeId ? lt(activityEvents.id, page.beforeId) : undefined,
      ),
    )
    .orderBy(desc(activityEvents.id))
    .limit(page.limit + 1);
}
