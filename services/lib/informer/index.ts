/**
 * The informer: a store watch that fills a local cache and tells handlers what
 * changed. Every component reads the cluster through one of these; the API
 * server's watch cache is one too. It survives connection loss by resuming from
 * the last revision it applied, so no change is missed and none is seen twice.
 */
import type { KObject, ResourceInfo } from '../api/resources.js';
import type { ObjectKey, Store, StoreEvent, StoreWatch } from '../store/index.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export type InformerEvent = {
  type: EventType;
  key: ObjectKey;
  /** The new object; for DELETED, the last one known. */
  object: KObject;
  /** The object before a MODIFIED. */
  old?: KObject;
  revision: number;
  /** True for events replayed while the informer was starting. */
  initial: boolean;
};

export type InformerHandler = (ev: InformerEvent) => void;

export type InformerOptions = {
  /** One resource, or every resource when absent. */
  resource?: ResourceInfo;
  namespace?: string;
  /**
   * Keep only the objects this accepts (a client-side field selector, like the
   * kubelet's `spec.nodeName=NAME`): the rest are not cached, and an object that
   * stops matching is reported DELETED. Saves memory, not traffic.
   */
  filter?: (object: KObject) => boolean;
  /** Wait this long before re-watching after the watch ended unexpectedly. */
  retryMs?: number;
  /** Where to say that the watch ended and is being resumed (default: nowhere). */
  log?: (message: string) => void;
};

/** `namespace/name`, or just `name` for cluster-scoped objects. */
export function cacheKey(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class Informer {
  private readonly caches = new Map<string, Map<string, KObject>>();
  private readonly handlers = new Set<InformerHandler>();
  private readonly waiters: { revision: number; resolve: () => void }[] = [];
  private watch?: StoreWatch;
  private stopped = false;
  private syncedFlag = false;
  /** False from a watch's end until another one is open: the cache cannot move meanwhile. */
  private watchOpen = false;
  private lastRevision = 0;
  private resolveSynced!: () => void;
  /** Resolves once the current state has been loaded into the cache. */
  readonly synced = new Promise<void>((r) => (this.resolveSynced = r));

  constructor(
    private readonly store: Store,
    private readonly opts: InformerOptions = {},
  ) {}

  get hasSynced(): boolean {
    return this.syncedFlag;
  }

  /** Whether a store watch feeds the cache now (false while it is being resumed). */
  get watching(): boolean {
    return this.watchOpen;
  }

  /** The newest store revision this cache reflects. */
  get revision(): number {
    return this.lastRevision;
  }

  /** Adds a handler; returns the function that removes it. */
  on(handler: InformerHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Starts watching; resolves once synced. */
  async start(): Promise<void> {
    await this.rewatch();
    await this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch?.stop();
  }

  get(resource: ResourceInfo, namespace: string, name: string): KObject | undefined {
    return this.caches.get(resource.plural)?.get(cacheKey(resource.namespaced ? namespace : '', name));
  }

  /** Every cached object of a resource, optionally in one namespace. */
  list(resource: ResourceInfo, namespace?: string): KObject[] {
    const cache = this.caches.get(resource.plural);
    if (!cache) return [];
    const all = [...cache.values()];
    if (!namespace || !resource.namespaced) return all;
    return all.filter((o) => o.metadata?.namespace === namespace);
  }

  count(resource: ResourceInfo): number {
    return this.caches.get(resource.plural)?.size ?? 0;
  }

  /**
   * Resolves once the cache has applied `revision` (or rejects after the
   * timeout). Meant for an informer over every resource: a filtered one only
   * advances on its own keys, so a foreign revision may never be reached.
   */
  waitForRevision(revision: number, timeoutMs = 5_000): Promise<void> {
    if (this.lastRevision >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`cache did not reach revision ${revision} within ${timeoutMs} ms (at ${this.lastRevision})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async rewatch(): Promise<void> {
    const resumeFrom = this.syncedFlag ? this.lastRevision : undefined;
    // An empty range says nothing about the store's head, so the cache claims the
    // head instead — the one read BEFORE the watch opened: every event the watch
    // delivers is newer than that. A head read after opening could already count
    // writes whose events are still on their way, and those would be dropped as old.
    const head = resumeFrom === undefined ? await this.store.revision().catch(() => 0) : 0;
    const w = await this.store.watch(
      { resource: this.opts.resource, namespace: this.opts.namespace },
      (ev) => this.apply(ev),
      resumeFrom !== undefined ? { fromRevision: resumeFrom } : {},
    );
    this.watch = w;
    this.watchOpen = true;
    void w.synced.then(() => {
      if (!this.syncedFlag) {
        if (this.lastRevision === 0) this.advance(head);
        this.syncedFlag = true;
        this.resolveSynced();
      }
    });
    void w.done.then(() => this.onWatchEnded());
  }

  private async onWatchEnded(): Promise<void> {
    this.watchOpen = false;
    if (!this.stopped) this.opts.log?.(`informer: the store watch ended at revision ${this.lastRevision}; resuming`);
    const since = Date.now();
    for (let failed = 0; !this.stopped; failed++) {
      await new Promise((r) => setTimeout(r, this.opts.retryMs ?? 500));
      if (this.stopped) return;
      try {
        await this.rewatch();
        if (failed > 0) this.opts.log?.(`informer: watching again from revision ${this.lastRevision} after ${failed} failed attempt(s), ${((Date.now() - since) / 1000).toFixed(1)} s`);
        return;
      } catch (e) {
        // The store is unreachable: keep serving the cache and try again; say why once, then every 10th time.
        if (failed % 10 === 0) this.opts.log?.(`informer: resuming the store watch failed (attempt ${failed + 1}): ${(e as Error).message}`);
      }
    }
  }

  private apply(ev: StoreEvent): void {
    if (ev.revision <= this.lastRevision) return;
    const { resource, namespace, name } = ev.key;
    let cache = this.caches.get(resource.plural);
    if (!cache) {
      cache = new Map();
      this.caches.set(resource.plural, cache);
    }
    const k = cacheKey(namespace, name);
    const old = cache.get(k);
    const initial = !this.syncedFlag;
    let out: InformerEvent | undefined;
    const filter = this.opts.filter;
    if (ev.object && (!filter || filter(ev.object))) {
      cache.set(k, ev.object);
      out = old
        ? { type: 'MODIFIED', key: ev.key, object: ev.object, old, revision: ev.revision, initial }
        : { type: 'ADDED', key: ev.key, object: ev.object, revision: ev.revision, initial };
    } else if (old) {
      cache.delete(k);
      const object = { ...old, metadata: { ...old.metadata, resourceVersion: String(ev.revision) } };
      out = { type: 'DELETED', key: ev.key, object, revision: ev.revision, initial };
    }
    this.advance(ev.revision);
    if (!out) return;
    for (const h of this.handlers) {
      try {
        h(out);
      } catch (e) {
        // A failing handler must not stop the stream for the others.
        console.error('informer handler failed:', e);
      }
    }
  }

  private advance(revision: number): void {
    if (revision <= this.lastRevision) return;
    this.lastRevision = revision;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.revision <= revision) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

export { SharedInformers } from './shared.js';
