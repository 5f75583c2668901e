import type { Subject } from "../domain/subject";
import type { Actor } from "../db/activity";

/** The actor recorded in the activity log for a change made by `subject`. */
export function actorOf(subject: Subject): Actor {
  return { id: subject.id, type: subject.type, name: subject.name };
}

/** A stored epoch-milliseconds time as ISO 8601, the form every API surface returns. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
