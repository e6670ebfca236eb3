/**
 * Node heartbeats as the node controller sees them: a store watch on the
 * Leases in kube-node-lease (the watch Keelson's informers use), noting for
 * every node when each renewal arrived and the renewTime it carried.
 *
 * In a measurement window it collects, per node, the time between consecutive
 * renewals seen by the watch (interval; lag = interval − heartbeat period),
 * the renewTime steps (the kubelet's own clock), the delivery delay (arrival −
 * renewTime: API request, store write and watch), and the longest gap of each
 * node including the one still open when the window ends — a node that stops
 * renewing shows up there even though it sends no event at all.
 */
import { resourceForKind } from '../../services/lib/api/resources.js';
import type { Store, StoreWatch } from '../../services/lib/store/index.js';
import { nowMs, Samples, summarize, type Summary } from './stats.js';

const LEASES = resourceForKind('Lease')!;
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** Epoch milliseconds with sub-millisecond digits (the clock the kubelet stamps renewTime with). */
const epochMs = () => performance.timeOrigin + performance.now();

/** metav1.MicroTime (2024-05-01T10:00:00.123456Z) to epoch ms; NaN when absent. */
export function parseMicroTime(s: unknown): number {
  if (typeof s !== 'string' || s.length < 20) return NaN;
  const ms = Date.parse(`${s.slice(0, 23)}Z`);
  const micros = /^\d{3}/.exec(s.slice(23))?.[0];
  return ms + (micros ? Number(micros) / 1000 : 0);
}

type NodeState = {
  /** Epoch ms the last renewal arrived; NaN when it came with the initial replay. */
  arrival: number;
  renew: number;
  /** Longest interval inside the current window. */
  maxGap: number;
  renewals: number;
};

export type HeartbeatResult = {
  windowMs: number;
  heartbeatMs: number;
  nodes: number;
  renewals: number;
  /** Renewals the window would hold at exactly one per heartbeat per node. */
  renewalsAtPeriod: number;
  /** Between consecutive renewals of a node, as seen by the watch (ms). */
  interval: Summary;
  /** The same, minus the heartbeat period: how late each renewal came. */
  lag: Summary;
  /** Between consecutive renewTime values of a node (ms). */
  renewTimeStep: Summary;
  /** Arrival at the watch − renewTime (ms). */
  delivery: Summary;
  /** Per node: the longest gap, including the one open when the window ended (ms). */
  worstGapPerNode: Summary;
  /** Nodes whose longest gap exceeded 2 heartbeats / the 40 s lease. */
  nodesOver2Periods: number;
  nodesOverLease: number;
  /** Expected nodes with no renewal at all in the window. */
  silentNodes: number;
};

export class LeaseObserver {
  private readonly nodes = new Map<string, NodeState>();
  private readonly firstSeen = new Map<string, number>();
  private watch?: StoreWatch;
  private synced = false;
  private window?: { from: number; interval: Samples; renewStep: Samples; delivery: Samples; renewals: number };
  private countWaiters: { n: number; resolve: (atMs: number) => void }[] = [];

  private constructor(private readonly prefix: string) {}

  /** Watches the node leases whose names start with `prefix` in the store's bucket. */
  static async start(store: Store, prefix: string): Promise<LeaseObserver> {
    const o = new LeaseObserver(prefix);
    o.watch = await store.watch({ resource: LEASES, namespace: NODE_LEASE_NAMESPACE }, (ev) => o.onEvent(ev.key.name, ev.object?.spec));
    await o.watch.synced;
    o.synced = true;
    return o;
  }

  /** Distinct nodes seen renewing (live, not from the replay). */
  get seen(): number {
    return this.firstSeen.size;
  }

  /** Resolves with the monotonic time (nowMs) at which `n` nodes had been seen renewing. */
  seenCount(n: number): Promise<number> {
    if (this.firstSeen.size >= n) return Promise.resolve(Math.max(...this.firstSeen.values()));
    return new Promise((resolve) => this.countWaiters.push({ n, resolve }));
  }

  private onEvent(name: string, spec: unknown): void {
    if (!name.startsWith(this.prefix)) return;
    const arrival = epochMs();
    const renew = parseMicroTime((spec as { renewTime?: unknown } | undefined)?.renewTime);
    const live = this.synced;
    if (live && !this.firstSeen.has(name)) {
      this.firstSeen.set(name, nowMs());
      for (const w of this.countWaiters.filter((w) => this.firstSeen.size >= w.n)) w.resolve(nowMs());
      this.countWaiters = this.countWaiters.filter((w) => this.firstSeen.size < w.n);
    }
    const prev = this.nodes.get(name);
    const state: NodeState = { arrival: live ? arrival : NaN, renew, maxGap: prev?.maxGap ?? 0, renewals: prev?.renewals ?? 0 };
    const w = this.window;
    if (w && live) {
      w.renewals++;
      state.renewals++;
      w.delivery.push(arrival - renew);
      if (prev && Number.isFinite(prev.arrival)) {
        const gap = arrival - prev.arrival;
        w.interval.push(gap);
        state.maxGap = Math.max(state.maxGap, gap);
      }
      if (prev && Number.isFinite(prev.renew) && Number.isFinite(renew)) w.renewStep.push(renew - prev.renew);
    }
    this.nodes.set(name, state);
  }

  /** Starts a measurement window (resets the per-node figures). */
  begin(): void {
    for (const s of this.nodes.values()) {
      s.maxGap = 0;
      s.renewals = 0;
    }
    this.window = { from: epochMs(), interval: new Samples(65_536), renewStep: new Samples(65_536), delivery: new Samples(65_536), renewals: 0 };
  }

  /** Ends the window; `expected` names the nodes that should have renewed. */
  end(expected: string[], heartbeatMs: number): HeartbeatResult {
    const w = this.window;
    if (!w) throw new Error('LeaseObserver.end() without begin()');
    this.window = undefined;
    const to = epochMs();
    const worst = new Samples(expected.length);
    let silent = 0;
    for (const name of expected) {
      const s = this.nodes.get(name);
      if (!s || s.renewals === 0) silent++;
      // The gap still open at the end: since the last renewal (or the whole window).
      const last = s && Number.isFinite(s.arrival) ? s.arrival : w.from;
      worst.push(Math.max(s?.maxGap ?? 0, to - last));
    }
    const lag = new Samples(w.interval.length);
    for (const v of w.interval.values()) lag.push(v - heartbeatMs);
    const worstValues = worst.values();
    return {
      windowMs: to - w.from,
      heartbeatMs,
      nodes: expected.length,
      renewals: w.renewals,
      renewalsAtPeriod: (expected.length * (to - w.from)) / heartbeatMs,
      interval: w.interval.summary(),
      lag: lag.summary(),
      renewTimeStep: w.renewStep.summary(),
      delivery: w.delivery.summary(),
      worstGapPerNode: summarize(worstValues),
      nodesOver2Periods: worstValues.filter((v) => v > 2 * heartbeatMs).length,
      nodesOverLease: worstValues.filter((v) => v > 40_000).length,
      silentNodes: silent,
    };
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
