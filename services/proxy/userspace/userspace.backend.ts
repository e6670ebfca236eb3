/**
 * The user-space data plane of the proxy (kube-proxy's userspace mode): Node.js
 * sockets on each service port's cluster IP and node port, forwarding to its
 * ready endpoints. sync() diffs the wanted service ports against what runs and
 * touches only what changed: an endpoint change is an in-place balancer update,
 * an address change reopens that port's listeners, and listeners that could not
 * bind wait in `pending` for the next sync. No timers run per service port.
 */
import { performance } from 'node:perf_hooks';
import type { ProxyBackend, ServicePort } from '../types.js';
import { listenSpecs, type ListenSpec } from './listen-plan.js';
import type { ForwardSettings, Listener } from './listener.js';
import { Route } from './route.js';
import { type UserspaceStats, statsOf } from './stats.js';
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
  log?: (message: string) => void;
};

/** A socket that should be open but is not, and why (logged again only when the reason changes). */
type Pending = { spec: ListenSpec; reason?: string };

/** Two service ports may want one socket (a misconfiguration): each waits on its own. */
const pendingKey = (spec: ListenSpec) => `${spec.key} ${spec.serviceKey}`;

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
  }

  sync(ports: ServicePort[]): Promise<void> {
    return this.serially(() => this.apply(ports));
  }

  stop(): Promise<void> {
    return this.serially(async () => {
      this.stopped = true;
      const all = [...this.listeners.values(), ...this.draining];
      for (const listener of all) listener.destroy();
      this.listeners.clear();
      this.pending.clear();
      this.routes.clear();
      await Promise.all(all.map((l) => l.closed));
    });
  }

  /** Counters for metrics; O(service ports). */
  stats(): UserspaceStats {
    return statsOf(this.routes.values(), {
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
    for (const port of ports) {
      if (seen.has(port.key)) {
        this.settings.log(`proxy ${port.key}: listed twice; the first one is used`);
        continue;
      }
      seen.add(port.key);
      try {
        this.upsert(port);
      } catch (err) {
        this.settings.log(`proxy ${port.key}: skipped, cannot be used: ${String(err)}`);
      }
    }
    for (const [key, route] of this.routes) {
      if (seen.has(key)) continue;
      this.release(this.specsOf(route.port));
      this.routes.delete(key);
    }
    await Promise.all([...this.pending.values()].map((p) => this.tryOpen(p)));
    this.syncs++;
    this.lastSyncMs = performance.now() - started;
  }

  private upsert(port: ServicePort): void {
    const route = this.routes.get(port.key);
    if (!route) {
      const created = new Route(port);
      this.routes.set(port.key, created);
      return this.reconcile(created, [], this.specsOf(port));
    }
    const old = route.port;
    if (route.update(port).addressesChanged) this.reconcile(route, this.specsOf(old), this.specsOf(port));
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
      listener.close();
      this.draining.add(listener);
      void listener.closed.then(() => this.draining.delete(listener));
    }
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

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`UserspaceBackend: ${name} must be a positive number, not ${value}`);
  return value;
}
