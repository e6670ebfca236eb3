/**
 * Kubernetes' slowStartBatch: call `fn` `count` times in batches of 1, 2, 4, …
 * (all calls of a batch in parallel), and stop after the first batch with a
 * failure. A template that cannot be created (a quota, an invalid field) then
 * costs one failed request, not a thousand.
 */

/** The first batch's size (Kubernetes' SlowStartInitialBatchSize). */
export const SLOW_START_INITIAL_BATCH = 1;

export type SlowStartResult = {
  /** Calls that succeeded; `count - successes` were skipped or failed. */
  successes: number;
  /** The first failure of the batch that stopped it. */
  error?: unknown;
};

export async function slowStartBatch(count: number, fn: () => Promise<void>, initialBatch = SLOW_START_INITIAL_BATCH): Promise<SlowStartResult> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initialBatch); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length > 0) return { successes, error: failed[0]!.reason };
    remaining -= batch;
  }
  return { successes };
}
