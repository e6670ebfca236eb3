/**
 * The controllers' work queue, with client-go's guarantees: a key waits in the
 * queue at most once however often it is added; a key being worked on is never
 * handed to a second worker — added meanwhile, it comes back after `done`; and a
 * key that keeps failing is retried with a per-key exponential back-off until
 * `forget` says it succeeded.
 */

export type RateLimit = {
  /** The first retry's wait. Default 5 ms (client-go's). */
  initialMs: number;
  /** The cap of the doubling. Default 30 s (client-go's is 1000 s, too long for a fast control plane). */
  maxMs: number;
};

export const DEFAULT_RATE_LIMIT: RateLimit = { initialMs: 5, maxMs: 30_000 };

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  /** Keys that need work: queued, or re-added while processing. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly rateLimit: RateLimit = DEFAULT_RATE_LIMIT) {
    if (!(rateLimit.initialMs > 0 && rateLimit.maxMs >= rateLimit.initialMs)) {
      throw new Error(`work queue rate limit needs initialMs > 0 and maxMs >= initialMs, not ${JSON.stringify(rateLimit)}`);
    }
  }

  /** Keys waiting (not the ones being worked on, nor the delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // comes back at done()
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after `ms`; an earlier pending delay for it wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Adds the key after its back-off: 5 ms, 10 ms, 20 ms, … up to the cap. */
  addRateLimited(key: K): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, this.backOffMs(n));
  }

  /** How many times the key was retried since it last succeeded. */
  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The key succeeded: its back-off starts over. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** The next key to work on, or undefined once the queue shuts down. Call `done` after. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The work on the key is over; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (!this.dirty.has(key)) return;
    this.dirty.delete(key);
    this.add(key);
  }

  /** Stops handing out keys: waiting workers get undefined; delayed keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private backOffMs(retries: number): number {
    return Math.min(this.rateLimit.maxMs, this.rateLimit.initialMs * 2 ** Math.min(retries, 40));
  }
}
