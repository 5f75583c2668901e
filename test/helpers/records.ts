/** What D1 holds after a request, read the same way by every test: token rows and their events. */
import { and, eq } from "drizzle-orm";
import { activityEvents, apiTokens } from "../../src/db/schema";
import { db } from "./seed";

/** The api_tokens row with this id, as drizzle reads it (undefined when there is none). */
export async function tokenRow(id: string) {
  return db().query.apiTokens.findFirst({ where: eq(apiTokens.id, id) });
}

/** The activity events of `type` about this token. */
export async function eventsFor(tokenId: string, type: string) {
  return db()
    .select()
    .from(activityEvents)
    .where(and(eq(activityEvents.targetId, tokenId), eq(activityEvents.type, type)));
}

/** The `error.code` of a JSON error response. */
export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}
