/**
 * How much one scheduled invocation may do (SPEC §6). A Worker invocation may make at most
 * 1,000 D1 queries and should stay well inside its CPU and wall-clock limits, so each job has a
 * fixed ceiling of batches, and all jobs share one deadline. Whatever a run leaves undone, the
 * next run (every 5 minutes, wrangler.toml) continues.
 */
export interface JobLimits {
  /** Rows per batch (one transaction). */
  batchSize: number;
  /** Batches per invocation. */
  maxBatches: number;
  /** D1 queries one batch costs: the ceiling of queries is maxBatches × this. */
  queriesPerBatch: number;
}

export interface RunLimits {
  idleTokens: JobLimits;
  inactiveMembers: JobLimits;
  retention: JobLimits;
  /** Expiry warnings (SPEC §10): both windows share the ceiling. */
  expiryWarnings: JobLimits;
  /** Webhook backstop: a batch is outbox events, each costing a few queries. */
  webhooks: JobLimits;
  /** Wall-clock time after which no job starts another batch. */
  timeBudgetMs: number;
}

export const RUN_LIMITS: RunLimits = {
  // 1 read of candidate ids + 1 batch of 2 statements (events, update) = 3 queries.
  idleTokens: { batchSize: 500, maxBatches: 100, queriesPerBatch: 3 },
  inactiveMembers: { batchSize: 500, maxBatches: 20, queriesPerBatch: 3 },
  // One DELETE … LIMIT per batch.
  retention: { batchSize: 1_000, maxBatches: 100, queriesPerBatch: 1 },
  // 1 read of the mark + 1 of candidates + 1 batch of 3 statements; plus the prune (one batch's worth).
  expiryWarnings: { batchSize: 500, maxBatches: 20, queriesPerBatch: 6 },
  // Per event ≤ 4 (endpoints, token, insert, delete) + the pass's outbox read, orphan cleanup and overdue read.
  webhooks: { batchSize: 25, maxBatches: 1, queriesPerBatch: 25 * 4 + 3 },
  timeBudgetMs: 25_000,
};

/** The most D1 queries one invocation can make under `limits` (683 with RUN_LIMITS). */
export function maxQueries(limits: RunLimits): number {
  return [limits.idleTokens, limits.inactiveMembers, limits.retention, limits.expiryWarnings, limits.webhooks].reduce((sum, job) => sum + job.maxBatches * job.queriesPerBatch, 0);
}
