/**
 * Cursor pagination, `?limit=&cursor=` (SPEC §4). Cursors are opaque; they encode the last id
 * returned.
 */
import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";

export const PaginationQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ example: 50 }),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export function encodeCursor(lastId: string): string {
  return btoa(lastId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  try {
    const id = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    if (!/^[a-z]+_[0-9A-Z]{26}$/.test(id)) throw new Error("bad cursor");
    return id;
  } catch {
    throw new ApiError("invalid_request", "Invalid request: cursor is not one this API returned.");
  }
}

/**
 * The page after `cursor` in creation order. Call it outside `read(...)`: a bad cursor is a
 * 400 from here, and `guard` would turn any error thrown inside it into a 503.
 */
export function pageAfter(query: { limit: number; cursor?: string | undefined }) {
  return { afterId: decodeCursor(query.cursor), limit: query.limit };
}

/** Given `limit + 1` rows, the rows of this page and the cursor for the next one. */
export function paginate<T extends { id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const pageRows = rows.slice(0, limit);
  return { rows: pageRows, nextCursor: encodeCursor(pageRows[pageRows.length - 1]!.id) };
}
