/**
 * The event recorder every control loop uses to tell users what it did
 * (`kubectl describe` / `kubectl get events`): v1 Events written through the
 * API, with Kubernetes' aggregation — the same reason and message about the same
 * object within the aggregation window bumps `count` and `lastTimestamp` on one
 * Event instead of writing another. Recording never throws and never blocks the
 * caller: an Event that cannot be written is dropped (and said in the log).
 */
import type { KObject } from '../api/resources.js';
import type { KeelsonClient } from '../client/index.js';

export type EventType = 'Normal' | 'Warning';

export type EventRecorderOptions = {
  client: KeelsonClient;
  /** source.component and reportingController, e.g. `default-scheduler`, `replicaset-controller`. */
  component: string;
  /** source.host / reportingInstance. */
  host?: string;
  /** Same object + reason + message within this window → one Event, counted. Default 10 min. */
  aggregateMs?: number;
  /** Most writes in flight; more are dropped (a storm of Events must not slow a control loop). Default 64. */
  maxInFlight?: number;
  log?: (message: string) => void;
};

type Seen = { name: string; namespace: string; count: number; first: string; at: number; writing?: Promise<void> };

const MAX_SEEN = 4_096;

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private inFlight = 0;
  private seq = 0;

  constructor(private readonly opts: EventRecorderOptions) {}

  /** Records that `reason` happened to `object` (a Pod, Node, ReplicaSet, …). */
  event(object: KObject, type: EventType, reason: string, message: string): void {
    const meta = object.metadata ?? {};
    // Events about cluster-scoped objects live in "default", as in Kubernetes.
    const namespace = meta.namespace || 'default';
    const key = `${object.kind}/${namespace}/${meta.name}/${meta.uid ?? ''}/${type}/${reason}/${message}`;
    const now = new Date();
    const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const prior = this.seen.get(key);
    const window = this.opts.aggregateMs ?? 600_000;
    if (prior && now.getTime() - prior.at < window) {
      prior.count++;
      prior.at = now.getTime();
      this.write(prior, () => this.bump(prior, stamp));
      return;
    }
    if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
    const name = `${meta.name}.${now.getTime().toString(16)}${(this.seq++ & 0xfff).toString(16)}`;
    const entry: Seen = { name, namespace, count: 1, first: stamp, at: now.getTime() };
    this.seen.set(key, entry);
    const ev: KObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        kind: object.kind,
        apiVersion: object.apiVersion,
        namespace: meta.namespace ?? '',
        name: meta.name,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      source: { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) },
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.host ?? '',
    };
    const queued = this.write(entry, async () => {
      await this.opts.client.create(ev);
    });
    if (!queued) this.seen.delete(key);
  }

  /** Resolves once the writes under way are done (for tests and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.seen.values()].map((s) => s.writing));
  }

  private async bump(s: Seen, stamp: string): Promise<void> {
    const count = s.count;
    await this.opts.client.patch('events', s.namespace, s.name, 'merge', { count, lastTimestamp: stamp });
  }

  /** Writes are chained per Event (a bump waits for the create) and bounded overall. */
  private write(s: Seen, op: () => Promise<void>): boolean {
    if (this.inFlight >= (this.opts.maxInFlight ?? 64)) {
      this.opts.log?.(`events: dropped one (${this.inFlight} writes in flight)`);
      return false;
    }
    this.inFlight++;
    const run = (s.writing ?? Promise.resolve()).then(op).catch((e: Error) => this.opts.log?.(`events: could not record ${s.namespace}/${s.name}: ${e.message}`));
    s.writing = run.finally(() => this.inFlight--);
    return true;
  }
}
