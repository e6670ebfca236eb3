/**
 * Load shapes, all bounded in count and in time: a closed loop with a fixed
 * number of operations in flight, and an open loop at a fixed rate.
 */
import { nowMs, Samples } from './stats.js';

export type LoadResult = {
  /** Operations finished (successfully or not). */
  done: number;
  errors: number;
  firstError?: string;
  /** Wall time from the first start to the last finish, ms. */
  elapsedMs: number;
  /** Per-operation latency of the successful ones, ms. */
  latencies: Samples;
  /** True when the deadline stopped the run before `count` operations. */
  timedOut: boolean;
};

/**
 * Runs `op(i)` for i = 0..count-1 with `inFlight` operations outstanding at any
 * moment, stopping early (timedOut) once `deadlineMs` have passed.
 */
export async function closedLoop(count: number, inFlight: number, deadlineMs: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latencies = new Samples(count);
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = nowMs();
  const stopAt = start + deadlineMs;
  let timedOut = false;
  const worker = async () => {
    while (next < count) {
      if (nowMs() > stopAt) {
        timedOut = true;
        return;
      }
      const i = next++;
      const t0 = nowMs();
      try {
        await op(i);
        latencies.push(nowMs() - t0);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return { done, errors, firstError, elapsedMs: nowMs() - start, latencies, timedOut };
}

export type PacedResult = LoadResult & {
  /** Sends that were due but skipped because `maxInFlight` were outstanding. */
  skipped: number;
};

/**
 * Starts `op(i)` at `ratePerSec` for `seconds` (count = rate × seconds), never
 * with more than `maxInFlight` outstanding (those sends are skipped and
 * counted), then waits at most `drainMs` for the outstanding ones.
 */
export async function openLoop(
  ratePerSec: number,
  seconds: number,
  maxInFlight: number,
  drainMs: number,
  op: (i: number) => Promise<void>,
): Promise<PacedResult> {
  const total = Math.round(ratePerSec * seconds);
  const latencies = new Samples(total);
  let started = 0;
  let done = 0;
  let errors = 0;
  let skipped = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  const start = nowMs();
  let lastFinish = start;
  const pending = new Set<Promise<void>>();
  while (started + skipped < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) * ratePerSec) / 1000) + 1);
    while (started + skipped < due) {
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      const i = started++;
      inFlight++;
      const t0 = nowMs();
      const p = op(i).then(
        () => {
          latencies.push(nowMs() - t0);
        },
        (e: unknown) => {
          errors++;
          firstError ??= (e as Error).message;
        },
      );
      const tracked: Promise<void> = p.finally(() => {
        inFlight--;
        done++;
        lastFinish = nowMs();
        pending.delete(tracked);
      });
      pending.add(tracked);
    }
    if (nowMs() - start > seconds * 1000 + drainMs) break; // never spin past the bound
    await new Promise((r) => setTimeout(r, 1));
  }
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(pending).then(() => true),
    new Promise<boolean>((r) => (drainTimer = setTimeout(() => r(false), drainMs))),
  ]);
  clearTimeout(drainTimer);
  return { done, errors, firstError, elapsedMs: lastFinish - start, latencies, timedOut: !drained, skipped };
}
