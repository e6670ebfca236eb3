/**
 * The proxy (kube-proxy): watches Services and Endpoints through shared
 * informers and keeps its backends — user-space listeners, iptables rules — in
 * step with them.
 *
 *   const proxy = await startProxy({ client, backends: [new UserspaceBackend({ ... })] });
 *   ...
 *   await proxy.stop(); // listeners closed, rules removed
 *
 * Every change marks the map dirty; one sync at a time rebuilds it
 * (service-map.ts) and hands it to every backend, so a burst of changes costs
 * one sync, and a change during a sync is picked up by the next one at once.
 * What a sync takes after the first change that asked for it is kept as the
 * sync latency (the proxy benchmark's figure).
 */
import { resourceForKind } from '../lib/api/resources.js';
import type { KeelsonClient } from '../lib/client/index.js';
import { SharedInformers, type Informer } from '../lib/informer/index.js';
import { buildServiceMap } from './service-map.js';
import type { ProxyBackend, ServicePort } from './types.js';

export type { Endpoint, Protocol, ProxyBackend, ServicePort, SessionAffinity } from './types.js';
export { buildServiceMap } from './service-map.js';

const SERVICES = resourceForKind('Service')!;
const ENDPOINTS = resourceForKind('Endpoints')!;

export type ProxyOptions = {
  client: KeelsonClient;
  backends: ProxyBackend[];
  /** Informers to share with other components of the same process (the kubelet in `keelson agent`). */
  informers?: SharedInformers;
  log?: (message: string) => void;
};

export type ProxyStats = {
  syncs: number;
  servicePorts: number;
  endpoints: number;
  /** First change → its sync done, ms: the last one, and the worst since start. */
  lastSyncLatencyMs: number;
  maxSyncLatencyMs: number;
  /** Backend syncs that threw (they should not: a backend logs and goes on). */
  syncErrors: number;
};

export type Proxy = {
  /** The service ports of the last sync, once every backend has applied them. */
  current(): ServicePort[];
  stats(): ProxyStats;
  /** Resolves once every change seen so far has been synced. */
  flushed(): Promise<void>;
  /** Observes each sync's latency (ms): for benchmarks and metrics. */
  onSync(fn: (latencyMs: number) => void): () => void;
  stop(): Promise<void>;
};

export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const informers = opts.informers ?? new SharedInformers(opts.client);
  const [services, endpoints] = await Promise.all([informers.get('services'), informers.get('endpoints')]);
  const p = new ProxyLoop(services, endpoints, opts.backends, opts.log ?? (() => undefined));
  const offs = [services.on(() => p.changed()), endpoints.on(() => p.changed())];
  p.changed();
  await p.flushed();
  return {
    current: () => p.ports,
    stats: () => p.stats(),
    flushed: () => p.flushed(),
    onSync: (fn) => p.onSync(fn),
    stop: async () => {
      for (const off of offs) off();
      await p.stop();
      if (!opts.informers) await informers.stop();
      await Promise.all(opts.backends.map((b) => b.stop().catch((e: Error) => opts.log?.(`proxy: a backend did not stop cleanly: ${e.message}`))));
    },
  };
}

class ProxyLoop {
  ports: ServicePort[] = [];
  private dirtySince: number | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(ms: number) => void>();
  private readonly counts = { syncs: 0, lastSyncLatencyMs: 0, maxSyncLatencyMs: 0, syncErrors: 0 };

  constructor(
    private readonly services: Informer,
    private readonly endpoints: Informer,
    private readonly backends: ProxyBackend[],
    private readonly log: (m: string) => void,
  ) {}

  changed(): void {
    this.dirtySince ??= performance.now();
    this.running ??= this.drain();
  }

  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  onSync(fn: (ms: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stats(): ProxyStats {
    return { ...this.counts, servicePorts: this.ports.length, endpoints: this.ports.reduce((n, p) => n + p.endpoints.length, 0) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushed();
  }

  /** Syncs until nothing changed during the last one; a microtask late, so one burst of events is one sync. */
  private async drain(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.dirtySince !== undefined && !this.stopped) {
        const since = this.dirtySince;
        this.dirtySince = undefined;
        const ports = buildServiceMap(this.services.list(SERVICES), this.endpoints.list(ENDPOINTS));
        for (const b of this.backends) {
          try {
            await b.sync(ports);
          } catch (e) {
            this.counts.syncErrors++;
            this.log(`proxy: a backend failed to sync: ${(e as Error).message}`);
          }
        }
        // What current() shows is what the backends have applied, not what they are applying.
        this.ports = ports;
        const ms = performance.now() - since;
        this.counts.syncs++;
        this.counts.lastSyncLatencyMs = ms;
        this.counts.maxSyncLatencyMs = Math.max(this.counts.maxSyncLatencyMs, ms);
        for (const fn of this.listeners) fn(ms);
      }
    } finally {
      this.running = undefined;
    }
  }
}
