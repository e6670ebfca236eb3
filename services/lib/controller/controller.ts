/**
 * A controller in the Kubernetes pattern: informer handlers only turn changes
 * into keys on a work queue; N workers take keys and run an idempotent
 * `sync(key)` that reads the caches and writes with compare-and-swap. A sync
 * that fails (a Conflict included: the cache was behind) is retried with the
 * key's back-off; one that succeeds resets it.
 */
import { isConflict, isNotFound } from '../errors/index.js';
import { WorkQueue, type RateLimit } from './work-queue.js';

/** What a sync may ask for besides success: to look again after a while. */
export type SyncResult = void | { requeueAfterMs: number };

export type ControllerOptions = {
  /** For logs and metrics, e.g. `replicaset`. */
  name: string;
  sync: (key: string) => Promise<SyncResult>;
  /** Workers in parallel (never two on one key). Default 2. */
  workers?: number;
  rateLimit?: RateLimit;
  log?: (message: string) => void;
};

export type ControllerStats = { syncs: number; failures: number; conflicts: number; queued: number };

export class Controller {
  readonly queue: WorkQueue<string>;
  private readonly running: Promise<void>[] = [];
  private readonly counts = { syncs: 0, failures: 0, conflicts: 0 };

  constructor(private readonly opts: ControllerOptions) {
    this.queue = new WorkQueue<string>(opts.rateLimit);
  }

  get name(): string {
    return this.opts.name;
  }

  stats(): ControllerStats {
    return { ...this.counts, queued: this.queue.length };
  }

  /** Queues a key (`namespace/name`, or `name` for cluster-scoped objects). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  start(): void {
    const n = this.opts.workers ?? 2;
    for (let i = 0; i < n; i++) this.running.push(this.work());
  }

  /** Stops taking keys and waits for the syncs under way. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running.splice(0));
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const result = await this.opts.sync(key);
        this.counts.syncs++;
        this.queue.forget(key);
        if (result && result.requeueAfterMs >= 0) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (e) {
        this.counts.failures++;
        if (isConflict(e)) this.counts.conflicts++;
        // NotFound during a sync means the object went away under it: the next
        // event about it says what to do, but a retry is cheap and idempotent.
        else if (!isNotFound(e)) this.opts.log?.(`${this.opts.name}: sync ${key} failed (retry ${this.queue.retries(key) + 1}): ${(e as Error).message}`);
        if (!this.queue.isShuttingDown) this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}

/** The queue key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name}` : (name ?? '');
}

/** The namespace ('' when cluster-scoped) and name of a key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
