/**
 * Every D1 call goes through `guard`: a deadline (DB_TIMEOUT_MS), at most one retry for reads
 * that failed with a transient error, and any failure turned into StorageUnavailableError,
 * which the app answers with 503 + Retry-After. Nothing is ever forwarded on a D1 failure.
 */
import type { SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { StorageUnavailableError } from "../errors";
import * as schema from "./schema";

export type Orm = ReturnType<typeof orm>;

export function orm(db: D1Database) {
  return drizzle(db, { schema });
}

const dialect = new SQLiteSyncDialect();

/** A drizzle query (not yet executed) or a raw `sql` chunk. */
export type BatchItem = SQL | { toSQL(): { sql: string; params: unknown[] } };

/** Compile a drizzle query or `sql` chunk into a D1 statement. */
export function statement(db: Orm, item: BatchItem): D1PreparedStatement {
  const { sql, params } = "toSQL" in item ? item.toSQL() : dialect.sqlToQuery(item);
  return db.$client.prepare(sql).bind(...params);
}

/** Every row a SELECT returns, as the caller's type says it reads them. */
export async function selectRows<T>(db: Orm, item: BatchItem): Promise<T[]> {
  const { results } = await statement(db, item).all<T>();
  return results;
}

/**
 * Run several writes as one D1 batch: one transaction, all or nothing (AGENTS.md: a change and its
 * activity event never span two D1 calls). Accepts drizzle queries and raw `sql` chunks alike.
 */
export function atomically(db: Orm, items: BatchItem[]): Promise<D1Result[]> {
  return db.$client.batch(items.map((item) => statement(db, item)));
}

/** Errors D1 raises for conditions that a second attempt may not see. */
const TRANSIENT = /network connection lost|overloaded|reset|internal error|timed? ?out|storage caused object to be reset/i;

class Timeout extends Error {}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Timeout(`D1 did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export interface GuardOptions {
  timeoutMs: number;
  /** Reads may be retried once; writes never are (a retried write could apply twice). */
  retry?: boolean;
}

export async function guard<T>(operation: () => Promise<T>, options: GuardOptions): Promise<T> {
  try {
    return await withDeadline(operation(), options.timeoutMs);
  } catch (first) {
    if (first instanceof StorageUnavailableError) throw first;
    const transient = !(first instanceof Timeout) && TRANSIENT.test(String((first as Error)?.message ?? first));
    if (!options.retry || !transient) throw new StorageUnavailableError(first);
    try {
      return await withDeadline(operation(), options.timeoutMs);
    } catch (second) {
      throw new StorageUnavailableError(second);
    }
  }
}
