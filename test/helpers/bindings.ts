/**
 * Stand-ins for the Worker's bindings, passed as env overrides to `call()`: D1 that counts its
 * statements, fails them, or fails only its writes, and rate limiters that count or never limit.
 */
import { env } from "cloudflare:workers";

/** A D1 binding that counts prepared statements and batches (for the per-request D1 budget). */
export function countingDb(db: D1Database = env.DB) {
  const counts = { prepare: 0, batch: 0, exec: 0 };
  const wrapped = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "prepare") {
        return (sql: string) => {
          counts.prepare++;
          return target.prepare(sql);
        };
      }
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          counts.batch++;
          return target.batch(statements);
        };
      }
      if (prop === "exec") {
        return (sql: string) => {
          counts.exec++;
          return target.exec(sql);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: wrapped, counts };
}

/** A D1 binding whose every call fails as production D1 does, or hangs. */
export function failingDb(message = "D1_ERROR: Network connection lost.", mode: "throw" | "hang" = "throw") {
  const fail = () => (mode === "hang" ? new Promise<never>(() => {}) : Promise.reject(new Error(message)));
  const statement = {
    bind: () => statement,
    first: fail,
    all: fail,
    run: fail,
    raw: fail,
  };
  let calls = 0;
  const db = {
    prepare: () => {
      calls++;
      return statement;
    },
    batch: () => {
      calls++;
      return fail();
    },
    exec: fail,
    dump: fail,
    withSession: () => db,
  } as unknown as D1Database;
  return { db, calls: () => calls };
}

/**
 * D1 that answers reads but fails every write (an UPDATE/INSERT/DELETE statement or a batch),
 * counting the writes attempted.
 */
export function writeFailingDb(message = "D1_ERROR: Network connection lost.") {
  const counts = { writes: 0 };
  const isWrite = (sql: string) => /^\s*(update|insert|delete)/i.test(sql);
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const real = target.prepare(sql);
          if (!isWrite(sql)) return real;
          const failing = {
            bind: () => failing,
            run: () => {
              counts.writes++;
              return Promise.reject(new Error(message));
            },
            first: () => Promise.reject(new Error(message)),
            all: () => Promise.reject(new Error(message)),
            raw: () => Promise.reject(new Error(message)),
          };
          return failing;
        };
      }
      if (prop === "batch") {
        return () => {
          counts.writes++;
          return Promise.reject(new Error(message));
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, counts };
}

const WRITE = /^\s*(insert|update|delete|replace)\b/i;

/**
 * env.DB with a broken `batch()`. Reads (prepare/first/all/raw) reach the real database, so a
 * route gets as far as its write. Two ways to break it:
 * - "reject": the batch is refused before D1 runs any of it (a lost connection);
 * - "midway": the batch's own statements run on the real D1, then a statement placed after the
 *   first one fails, so D1 must roll back what already ran (a change interrupted between statements).
 * Writes sent outside a batch are recorded in `strayWrites`: a change must never need one.
 */
export function batchFailingDb(mode: "reject" | "midway", message = "D1_ERROR: Network connection lost.") {
  const real = env.DB;
  const strayWrites: string[] = [];
  const batches: number[] = [];
  const track = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") {
          return (...args: unknown[]) => track(target.bind(...args), sql);
        }
        if (prop === "run" || prop === "all" || prop === "first" || prop === "raw") {
          return (...args: unknown[]) => {
            if (WRITE.test(sql)) strayWrites.push(sql);
            return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        if (prop === "__target") return target;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const unwrap = (stmt: D1PreparedStatement): D1PreparedStatement =>
    ((stmt as unknown as { __target?: D1PreparedStatement }).__target ?? stmt);
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => track(target.prepare(sql), sql);
      }
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          batches.push(statements.length);
          if (mode === "reject") throw new Error(message);
          const failing = target.prepare("INSERT INTO injected_failure_no_such_table (x) VALUES (1)");
          const inner = statements.map(unwrap);
          return target.batch([...inner.slice(0, 1), failing, ...inner.slice(1)]);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: db as D1Database, strayWrites, batches };
}

/** A rate limiter that never limits, for tests that fail authentication on purpose many times. */
export const openLimiter: RateLimit = {
  async limit() {
    return { success: true };
  },
};

/** A rate limiter that counts the keys it was asked about and allows what `allow` says (all, by default). */
export function fakeLimiter(allow: (key: string, count: number) => boolean = () => true) {
  const counts = new Map<string, number>();
  const limiter: RateLimit = {
    async limit({ key }) {
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return { success: allow(key, count) };
    },
  };
  return { limiter, counts };
}
