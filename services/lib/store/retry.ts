/**
 * Riding out a JetStream stream-leader election. When the server leading the
 * object store's stream dies, nats-server 2.9.10 takes ~4–6 s to elect another;
 * meanwhile a write gets an instant "no responders" (the client's
 * `jetstream is not enabled`) and a request already sent to the dead server
 * times out. Both are worth retrying inside a bounded deadline, so that a
 * client sees a slower answer rather than an error. A lost compare-and-swap,
 * a codec error, a closed connection are answers, never retried.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { RequestError, TimeoutError } from '@nats-io/nats-core';

/** How long and how often the store retries one call. */
export type RetryPolicy = {
  /**
   * Total time one store call may take before it fails with 503 (default 10 s:
   * the 4–6 s election plus margin, well under clients' own timeouts).
   */
  deadlineMs: number;
  /**
   * Timeout of one request to the server (default 2 s). A request sent to a
   * server that then died is only answered by this timeout: it bounds how much
   * of the deadline one lost request costs.
   */
  attemptTimeoutMs: number;
  /** First pause between attempts; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  deadlineMs: 10_000,
  attemptTimeoutMs: 2_000,
  backoffMs: 50,
  maxBackoffMs: 500,
};

/**
 * JetStream API errors that mean "no stream leader right now" (errors.json of
 * nats-server): 10008 system temporarily unavailable, 10009 cluster can not
 * handle request, 10004 incomplete results.
 */
const TRANSIENT_API_CODES = new Set([10004, 10008, 10009]);

function isNoResponders(e: unknown): boolean {
  if (e instanceof RequestError) return e.isNoResponders();
  // jetstream wraps "no responders" as JetStreamNotEnabled; the account-level
  // "not enabled" (10039) is a configuration error and keeps its API cause.
  // (JetStreamNotEnabled is not exported by @nats-io/jetstream's front door: match its name.)
  return e instanceof Error && e.name === 'JetStreamNotEnabled' && e.cause instanceof RequestError && e.cause.isNoResponders();
}

/**
 * A write given up at the deadline after an attempt that may have been stored
 * (a timeout: the server may have it in its log, to be committed once it has a
 * quorum again). Not a refusal: the caller must not claim it was not written.
 */
export class WriteOutcomeUnknown extends Error {
  override name = 'WriteOutcomeUnknown';
}

/** The compare-and-swap slot of a write is held by a write the leader has not stored yet. */
export class WriteInFlight extends Error {
  override name = 'WriteInFlight';
}

/** A failure that a later attempt may not have: no stream leader yet, or no answer. */
export function isRetryable(e: unknown): boolean {
  if (isNoResponders(e) || e instanceof TimeoutError || e instanceof WriteInFlight) return true;
  return e instanceof JetStreamApiError && TRANSIENT_API_CODES.has(e.code);
}

/**
 * Whether a failed write may still have been applied: the server refused it
 * (an API error) or nobody received it (no responders) — otherwise, as after a
 * timeout, it may have been stored and only the acknowledgement lost.
 */
export function mayHaveBeenApplied(e: unknown): boolean {
  const refused = e instanceof JetStreamApiError || e instanceof WriteInFlight || (e instanceof Error && e.cause instanceof JetStreamApiError);
  return !(refused || isNoResponders(e));
}

/** What one attempt is given: its number (from 1) and when the whole call must be done. */
export type Attempt = { attempt: number; deadline: number };

/** The timeout for one request of an attempt: the policy's, cut short by the deadline. */
export function requestTimeout(policy: RetryPolicy, a: Attempt, now: () => number = Date.now): number {
  return Math.max(1, Math.min(policy.attemptTimeoutMs, a.deadline - now()));
}

export type RetryHooks = {
  /** Called before each pause, for logs and tests. */
  onRetry?: (e: unknown, attempt: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
};

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable, or
 * the deadline passes (then the last error is thrown). `fn` must be safe to run
 * again after a failure — writes carry one message id across attempts — and
 * its requests must give up by the deadline (see `requestTimeout`).
 */
export async function retrying<T>(policy: RetryPolicy, fn: (a: Attempt) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? pause;
  const deadline = now() + policy.deadlineMs;
  let backoff = policy.backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn({ attempt, deadline });
    } catch (e) {
      const wait = Math.min(backoff, deadline - now());
      if (!isRetryable(e) || wait <= 0) throw e;
      hooks.onRetry?.(e, attempt);
      await sleep(wait);
      backoff = Math.min(backoff * 2, policy.maxBackoffMs);
    }
  }
}

/** Settles like `p`, or rejects with a TimeoutError after `ms` (for requests with a fixed timeout). */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError()), ms);
  });
  p.catch(() => undefined); // the loser of the race may reject later: not unhandled
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
