/**
 * The user-space data plane of the proxy (kube-proxy's userspace mode): Node.js
 * sockets on each service port's cluster IP and node port, forwarding to its
 * ready endpoints. sync() diffs the wanted service ports against what runs and
 * touches only what changed: an endpoint change is an in-place balancer update,
 * an address change reopens that port's listeners, and listeners that could not
 * bind wait in `pending` for the next sync. No timers run per service port.
 * With `forwarders`, TCP listeners are shared with that many forwarder
 * processes so that forwarding is not capped at one core (forwarders/pool.ts).
 */
import { availableParallelism } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ProxyBackend, ServicePort } from '../types.js';
import { listenSpecs, type ListenSpec } from './listen-plan.js';
import type { ForwardSettings, Listener } from './listener.js';
import { Route } from './route.js';
import { type UserspaceStats, statsOf } from './stats.js';
import { Demand, type DemandOptions } from './forwarders/demand.js';
import { ForwarderPool } from './forwarders/pool.js';
import { TcpListener } from './tcp.listener.js';
import { UdpListener } from './udp.listener.js';

export type UserspaceBackendOptions = {
  /** Where node ports listen. Default '0.0.0.0'. */
  bindAddress?: string;
  /**
   * Also listen on clusterIP:port of each service port. Works only where the
   * cluster IPs are local addresses (see local-addresses.ts). Default false.
   */
  clusterIPs?: boolean;
  /** A UDP flow without traffic for this long is closed. Default 10 s. */
  udpIdleTimeoutMs?: number;
  /** One TCP connect attempt to an endpoint gives up after this. Default 3 s. */
  connectTimeoutMs?: number;
  /** Endpoints one TCP connection tries (each once) before it is reset. Default 4. */
  maxConnectTries?: number;
  /**
   * Processes besides this one that accept and forward TCP connections of
   * service ports without ClientIP affinity (forwarders/pool.ts); started the
   * first time they are to accept. Default 0: everything in this process.
   * `defaultForwarders()` is one per further core, as `keelson proxy` runs.
   */
  forwarders?: number;
  /**
   * When forwarders accept: 'busy' (default) only while this process is busy
   * with few, long connections (forwarders/demand.ts); 'always' from the start.
   */
  forwardWhen?: 'busy' | 'always';
  /** Tunes 'busy'. */
  demand?: DemandOptions;
  log?: (message: string) => void;
};

/** A socket that should be open but is not, and why (logged again only when the reason changes). */
type Pending = { spec: ListenSpec; reason?: string };

/** Two service ports may want one socket (a misconfiguration): each waits on its own. */
const pendingKey = (spec: ListenSpec) => `${spec.key} ${spec.serviceKey}`;

/** One forwarder process per core beyond the first (haproxy likewise runs a thread per core). */
export function defaultForwarders(): number {
  return Math.max(0, availableParallelism() - 1);
}

export class UserspaceBackend implements ProxyBackend {
  private readonly bindAddress: string;
  private readonly clusterIPs: boolean;
  private readonly settings: ForwardSettings;
  private readonly routes = new Map<string, Route>();
  private readonly listeners = new Map<string, Listener>();
  /** By pendingKey. */
  private readonly pending = new Map<string, Pending>();
  /** Closed listeners whose TCP connections are still finishing. */
  private readonly draining = new Set<Listener>();
  private readonly pool: ForwarderPool | undefined;
  /** Listening sockets the forwarders are letting go of: awaited before binding anew. */
  private unsharing: Promise<void>[] = [];
  /** Undefined: forwarders accept always. */
  private readonly demand: Demand | undefined;
  private sharing = false;
  private demandTimer: NodeJS.Timeout | undefined;
  private lastSample: { elu: EventLoopUtilization; accepted: number; at: number } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastSyncMs = 0;
  private syncs = 0;
  private binds = 0;

  constructor(options: UserspaceBackendOptions = {}) {
    this.bindAddress = options.bindAddress ?? '0.0.0.0';
    this.clusterIPs = options.clusterIPs ?? false;
    this.settings = {
      udpIdleTimeoutMs: positive('udpIdleTimeoutMs', options.udpIdleTimeoutMs ?? 10_000),
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 3_000),
      maxConnectTries: positive('maxConnectTries', options.maxConnectTries ?? 4),
      log: options.log ?? (() => {}),
    };
    const forwarders = options.forwarders ?? 0;
    if (!Number.isInteger(forwarders) || forwarders < 0) throw new Error(`UserspaceBackend: forwarders must be a whole number ≥ 0, not ${forwarders}`);
    if (forwarders > 0) {
      if (options.forwardWhen === 'always') this.sharing = true;
      else {
        this.demand = new Demand(options.demand);
        this.demandTimer = setInterval(() => this.sampleDemand(), DEMAND_SAMPLE_MS).unref();
      }
      this.pool = new ForwarderPool({
        size: forwarders,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        maxConnectTries: this.settings.maxConnectTries,
        routes: () => [...this.routes.values()].map((r) => r.port).filter(isTcp),
        log: this.settings.log,
      });
    }
  }

  sync(ports: ServicePort[]): Promise<void> {
    return this.serially(() => this.apply(ports));
  }

  stop(): Promise<void> {
    return this.serially(async () => {
      this.stopped = true;
      clearInterval(this.demandTimer);
      const all = [...this.listeners.values(), ...this.draining];
      for (const listener of all) listener.destroy();
      this.listeners.clear();
      this.pending.clear();
      this.routes.clear();
      await Promise.all([...all.map((l) => l.closed), this.pool?.stop()]);
    });
  }

  /** Counters for metrics; O(service ports). Forwarders' counts are as they last reported (every 250 ms). */
  stats(): UserspaceStats {
    return statsOf(this.routes.values(), (key) => this.pool?.counters(key), {
      forwarders: this.pool?.running ?? 0,
      listeners: this.listeners.size,
      pendingListeners: this.pending.size,
      drainingListeners: this.draining.size,
      listenerBinds: this.binds,
      syncs: this.syncs,
      lastSyncMs: this.lastSyncMs,
    });
  }

  /** Runs syncs and stop one at a time, in call order; a failure does not block the next. */
  private serially(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => {});
    return run;
  }

  private async apply(ports: ServicePort[]): Promise<void> {
    if (this.stopped) return this.settings.log('proxy: sync after stop ignored');
    const started = performance.now();
    const seen = new Set<string>();
    /** TCP service ports new or changed, and those removed: what the forwarders are told. */
    const changed: ServicePort[] = [];
    const removed: string[] = [];
    for (const port of ports) {
      if (seen.has(port.key)) {
        this.settings.log(`proxy ${port.key}: listed twice; the first one is used`);
        continue;
      }
      seen.add(port.key);
      try {
        if (this.upsert(port) && isTcp(port)) changed.push(this.routes.get(port.key)!.port);
      } catch (err) {
        this.settings.log(`proxy ${port.key}: skipped, cannot be used: ${String(err)}`);
      }
    }
    for (const [key, route] of this.routes) {
      if (seen.has(key)) continue;
      this.release(this.specsOf(route.port));
      this.routes.delete(key);
      if (isTcp(route.port)) removed.push(key);
    }
    this.pool?.routesChanged(changed, removed);
    await Promise.all(this.unsharing.splice(0));
    await Promise.all([...this.pending.values()].map((p) => this.tryOpen(p)));
    // Once synced, a port that took on affinity is accepted in this process alone.
    this.reshare();
    await Promise.all(this.unsharing.splice(0));
    this.syncs++;
    this.lastSyncMs = performance.now() - started;
  }

  /** Returns whether the service port is new or changed. */
  private upsert(port: ServicePort): boolean {
    const route = this.routes.get(port.key);
    if (!route) {
      const created = new Route(port);
      this.routes.set(port.key, created);
      this.reconcile(created, [], this.specsOf(port));
      return true;
    }
    const old = route.port;
    const { changed, addressesChanged } = route.update(port);
    if (addressesChanged) this.reconcile(route, this.specsOf(old), this.specsOf(port));
    return changed;
  }

  /**
   * Shares with the forwarders each open TCP listener whose service port has
   * no ClientIP affinity (while `sharing`), and takes back the others; the
   * caller awaits `unsharing`. O(listeners).
   */
  private reshare(): void {
    const pool = this.pool;
    if (!pool) return;
    for (const [key, listener] of this.listeners) {
      const server = listener instanceof TcpListener ? listener.listening : undefined;
      const wanted = server !== undefined && !listener.route.balancer.hasAffinity && this.sharing;
      if (wanted && !pool.isShared(key)) pool.share(listener.spec, server);
      else if (!wanted && pool.isShared(key)) this.unsharing.push(pool.unshare(key));
    }
  }

  /** Closes the sockets `route` no longer needs and queues the new ones; apply() opens what is queued. */
  private reconcile(route: Route, before: ListenSpec[], after: ListenSpec[]): void {
    const keep = new Set(after.map((s) => s.key));
    this.release(before.filter((s) => !keep.has(s.key)));
    for (const spec of after) {
      if (this.listeners.get(spec.key)?.spec.serviceKey !== route.key) this.pending.set(pendingKey(spec), { spec });
    }
  }

  /** Unqueues, or closes, these sockets of one service port; one another service port holds stays open. */
  private release(specs: ListenSpec[]): void {
    for (const spec of specs) {
      this.pending.delete(pendingKey(spec));
      const listener = this.listeners.get(spec.key);
      if (listener?.spec.serviceKey !== spec.serviceKey) continue;
      this.listeners.delete(spec.key);
      if (this.pool?.isShared(spec.key)) this.unsharing.push(this.pool.unshare(spec.key));
      listener.close();
      this.draining.add(listener);
      void listener.closed.then(() => this.draining.delete(listener));
    }
  }

  /** Once a period: whether the forwarders should accept now (see forwarders/demand.ts). */
  private sampleDemand(): void {
    const elu = performance.eventLoopUtilization();
    // All processes' connections: while the forwarders accept, they may take most of them.
    let accepted = this.pool?.accepted() ?? 0;
    let open = 0;
    for (const route of this.routes.values()) {
      accepted += route.counters.accepted;
      open += route.counters.activeConnections;
    }
    const at = performance.now();
    const last = this.lastSample;
    this.lastSample = { elu, accepted, at };
    if (!last || !this.demand) return;
    const utilization = performance.eventLoopUtilization(elu, last.elu).utilization;
    const sample = { utilization, seconds: (at - last.at) / 1000, accepted: accepted - last.accepted, open, now: at };
    const wanted = this.demand.sample(sample);
    if (wanted === this.sharing) return;
    this.sharing = wanted;
    this.settings.log(`proxy: forwarders ${wanted ? 'accept connections too (this process is busy with long connections)' : 'stop accepting (short connections, or none busy for a while)'}`);
    void this.serially(async () => {
      if (this.stopped) return;
      this.reshare();
      await Promise.all(this.unsharing.splice(0));
    });
  }

  private async tryOpen(pending: Pending): Promise<void> {
    const { spec } = pending;
    const route = this.routes.get(spec.serviceKey);
    if (!route) return void this.pending.delete(pendingKey(spec));
    const holder = this.listeners.get(spec.key);
    if (holder) return this.note(pending, `already used by ${holder.spec.serviceKey}`);
    const listener = spec.protocol === 'UDP' ? new UdpListener(spec, route, this.settings) : new TcpListener(spec, route, this.settings);
    this.listeners.set(spec.key, listener); // claimed while binding, so a twin spec sees it
    try {
      await listener.open();
      this.binds++;
      this.pending.delete(pendingKey(spec));
    } catch (err) {
      this.listeners.delete(spec.key);
      this.note(pending, (err as NodeJS.ErrnoException).code ?? String(err));
    }
  }

  private note(pending: Pending, reason: string): void {
    if (pending.reason === reason) return;
    pending.reason = reason;
    const { spec } = pending;
    this.settings.log(`proxy ${spec.serviceKey}: cannot listen on ${spec.kind} ${spec.key} (${reason}); retrying on the next sync`);
  }

  private specsOf(port: ServicePort): ListenSpec[] {
    return listenSpecs(port, { bindAddress: this.bindAddress, clusterIPs: this.clusterIPs });
  }
}

const DEMAND_SAMPLE_MS = 250;

function isTcp(port: ServicePort): boolean {
  return port.protocol === 'TCP';
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`UserspaceBackend: ${name} must be a positive number, not ${value}`);
  return value;
}
