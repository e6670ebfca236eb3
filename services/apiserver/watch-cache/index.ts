/**
 * The watch cache: one informer over the whole store, plus a bounded history of
 * recent events per resource so that watches can start from a resourceVersion.
 * Lists and watches are served from here; a watch from a revision older than the
 * history holds is refused with 410 Expired, as in Kubernetes.
 */
import type { KObject, ResourceInfo } from '../../lib/api/resources.js';
import { errors } from '../../lib/errors/index.js';
import { Informer, type EventType, type InformerEvent } from '../../lib/informer/index.js';
import type { Store } from '../../lib/store/index.js';

export type WatchEvent = { type: EventType; object: KObject; revision: number };

export type WatchRequest = {
  resource: ResourceInfo;
  namespace?: string;
  /** Send only events after this revision; undefined = current state first. */
  fromRevision?: number;
  /** Label/field selector test; events move objects in and out of view. */
  matches?: (o: KObject) => boolean;
};

export type Watcher = { stop(): void };

/** A ring of the last `capacity` events of one resource. */
class History {
  private readonly events: InformerEvent[] = [];
  private start = 0;
  /** Every event after this revision is still held. */
  lowWater: number;
  constructor(
    private readonly capacity: number,
    since: number,
  ) {
    this.lowWater = since;
  }

  push(e: InformerEvent): void {
    if (this.events.length < this.capacity) {
      this.events.push(e);
      return;
    }
    this.lowWater = this.events[this.start]!.revision;
    this.events[this.start] = e;
    this.start = (this.start + 1) % this.capacity;
  }

  /** Held events after `revision`, oldest first. */
  since(revision: number): InformerEvent[] {
    const ordered = [...this.events.slice(this.start), ...this.events.slice(0, this.start)];
    return ordered.filter((e) => e.revision > revision);
  }
}

export type WatchCacheOptions = {
  /** Events kept per resource for watches that resume (default 1,000). */
  historySize?: number;
  /** How long a consistent read waits for the cache to catch up (default 5 s). */
  freshnessTimeoutMs?: number;
};

export class WatchCache {
  readonly informer: Informer;
  private readonly histories = new Map<string, History>();
  private readonly watchers = new Map<string, Set<(e: InformerEvent) => void>>();
  private syncedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: WatchCacheOptions = {},
  ) {
    this.informer = new Informer(store, { log: (m) => console.error(`apiserver watch cache: ${m}`) });
    this.informer.on((e) => this.onEvent(e));
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.syncedAt = this.informer.revision;
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get revision(): number {
    return this.informer.revision;
  }

  get synced(): boolean {
    return this.informer.hasSynced;
  }

  get(resource: ResourceInfo, namespace: string, name: string): KObject | undefined {
    return this.informer.get(resource, namespace, name);
  }

  list(resource: ResourceInfo, namespace?: string): KObject[] {
    return this.informer.list(resource, namespace);
  }

  /**
   * Waits until the cache holds every write the store has acknowledged, so a
   * list served from it is as fresh as a read from the store (read-your-writes).
   * Returns the revision the cache is at. Only when the store has no quorum
   * (its head unknown, or its stream without a leader) and no watch on it can
   * be opened is the cache served as it is — an outage answers reads from what
   * was last known, as the HA setup promises; nothing can be acknowledged
   * meanwhile. While the stream has a leader, a cache that cannot catch up in
   * time (its watch being resumed after a failover) is a 503, never a stale
   * answer: a list that silently lacked acknowledged writes looked like lost
   * data to the chaos test.
   */
  async fresh(): Promise<number> {
    let head: { revision: number; led: boolean };
    try {
      head = await this.store.head();
    } catch (e) {
      return this.informer.revision;
    }
    const outage = () => !head.led && !this.informer.watching;
    if (outage()) return this.informer.revision;
    try {
      await this.informer.waitForRevision(head.revision, this.opts.freshnessTimeoutMs ?? 5_000);
    } catch (e) {
      if (outage()) return this.informer.revision;
      const why = this.informer.watching ? (e as Error).message : `its store watch is being resumed (${(e as Error).message})`;
      throw errors.unavailable(`the watch cache is behind the store: ${why}`, e);
    }
    return this.informer.revision;
  }

  /** Starts a watch; `send` gets events in revision order until `stop()`. */
  watch(req: WatchRequest, send: (e: WatchEvent) => void): Watcher {
    const { resource, namespace, matches = () => true } = req;
    const inScope = (o: KObject) => !namespace || !resource.namespaced || o.metadata?.namespace === namespace;
    const visible = (o: KObject | undefined) => !!o && inScope(o) && matches(o);
    let last = req.fromRevision ?? this.informer.revision;

    const deliver = (e: InformerEvent) => {
      if (e.revision <= last) return;
      last = e.revision;
      const now = visible(e.object) && e.type !== 'DELETED';
      const before = e.type === 'MODIFIED' ? visible(e.old) : e.type === 'DELETED' ? visible(e.object) : false;
      if (now && before) send({ type: 'MODIFIED', object: e.object, revision: e.revision });
      else if (now) send({ type: 'ADDED', object: e.object, revision: e.revision });
      else if (before) send({ type: 'DELETED', object: e.object, revision: e.revision });
    };

    if (req.fromRevision === undefined) {
      for (const o of this.list(resource, namespace)) {
        if (matches(o)) send({ type: 'ADDED', object: o, revision: Number(o.metadata?.resourceVersion ?? 0) });
      }
    } else {
      const history = this.history(resource);
      if (req.fromRevision < history.lowWater) {
        throw errors.expired(`too old resource version: ${req.fromRevision} (${history.lowWater})`);
      }
      for (const e of history.since(req.fromRevision)) deliver(e);
    }
    let set = this.watchers.get(resource.plural);
    if (!set) this.watchers.set(resource.plural, (set = new Set()));
    set.add(deliver);
    return { stop: () => set!.delete(deliver) };
  }

  /** How many watches are open (for metrics). */
  watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  private history(resource: ResourceInfo): History {
    let h = this.histories.get(resource.plural);
    if (!h) {
      h = new History(this.opts.historySize ?? 1_000, this.syncedAt);
      this.histories.set(resource.plural, h);
    }
    return h;
  }

  private onEvent(e: InformerEvent): void {
    if (e.initial) return;
    this.history(e.key.resource).push(e);
    const set = this.watchers.get(e.key.resource.plural);
    if (set) for (const w of set) w(e);
  }
}
