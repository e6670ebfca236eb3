/**
 * The scheduling queue, after kube-scheduler's PriorityQueue. Three places a
 * pending pod waits:
 *
 *   active         ready to be tried: highest priority first, then oldest;
 *   back-off       failed recently: waits 1 s, 2 s, 4 s … up to 10 s per attempt;
 *   unschedulable  no node fits: parked until a cluster event that could help
 *                  it (a node added or changed, a bound pod gone), or for at most
 *                  `maxUnschedulableMs`, then back to active (or back-off, if its
 *                  back-off has not run out yet).
 *
 * A pod being tried is "in flight": changes to it are kept for when the
 * attempt ends, and an event that arrives meanwhile sends it to back-off
 * rather than parking it (the event might have been the one it needed).
 */
import type { KObject } from '../../lib/api/resources.js';
import { makePodInfo, type PodInfo } from '../cache/index.js';
import { KeyedHeap } from './keyed-heap.js';

/** What happened in the cluster, for deciding which parked pods to try again. */
export type ClusterEvent = 'NodeAdd' | 'NodeUpdate' | 'AssignedPodDelete' | 'UnschedulableTimeout';

/** The filters a cluster event may make pass; 'all' for any. */
const HELPS: Record<ClusterEvent, 'all' | ReadonlySet<string>> = {
  NodeAdd: 'all',
  NodeUpdate: 'all',
  AssignedPodDelete: new Set(['NodeResourcesFit', 'NodePorts']),
  UnschedulableTimeout: 'all',
};

export type QueuedPod = {
  /** The newest version of the pod, and what the scheduler reads of it. */
  pod: KObject;
  info: PodInfo;
  /** When the pod was first queued (for the latency from queue to bind). */
  firstQueuedAt: number;
  /** Orders pods of equal priority: when it last entered the queue. */
  timestamp: number;
  /** Scheduling attempts so far (the back-off doubles with each). */
  attempts: number;
  /** When its last attempt failed. */
  failedAt: number;
  /** The filters that rejected a node in the last attempt. */
  unschedulablePlugins: ReadonlySet<string>;
  /** The scheduling cycle of its current attempt. */
  cycle: number;
};

type InFlight = QueuedPod & { deleted: boolean; updated: boolean };

export type BackOff = {
  /** First wait after a failure; default 1 s (kube-scheduler's). */
  initialMs: number;
  /** The cap of the doubling; default 10 s (kube-scheduler's). */
  maxMs: number;
};

export type SchedulingQueueOptions = {
  backOff?: BackOff;
  /** A parked pod goes back after this long without a helpful event. Default 60 s. */
  maxUnschedulableMs?: number;
  /** The clock (tests pass their own). */
  now?: () => number;
  /** Run the back-off and flush timers (default true; tests call the flush methods). */
  timers?: boolean;
};

export type QueueLengths = { active: number; backoff: number; unschedulable: number; inFlight: number };

export const DEFAULT_BACKOFF: BackOff = { initialMs: 1_000, maxMs: 10_000 };

export class SchedulingQueue {
  private readonly active = new KeyedHeap<QueuedPod>(
    (p) => p.info.key,
    (a, b) => (a.info.priority !== b.info.priority ? a.info.priority > b.info.priority : a.timestamp < b.timestamp),
  );
  private readonly backoff = new KeyedHeap<QueuedPod>(
    (p) => p.info.key,
    (a, b) => this.backoffExpiry(a) < this.backoffExpiry(b),
  );
  private readonly unschedulable = new Map<string, QueuedPod>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly waiters: ((p: QueuedPod | undefined) => void)[] = [];
  private schedulingCycle = 0;
  /** The cycle at which the last move event happened. */
  private moveRequestCycle = -1;
  private closed = false;
  private backoffTimer?: NodeJS.Timeout;
  private backoffTimerAt = Infinity;
  private readonly flushTimer?: NodeJS.Timeout;
  private readonly backOff: BackOff;
  private readonly maxUnschedulableMs: number;
  private readonly now: () => number;
  private readonly timers: boolean;

  constructor(opts: SchedulingQueueOptions = {}) {
    this.backOff = opts.backOff ?? DEFAULT_BACKOFF;
    if (!(this.backOff.initialMs > 0 && this.backOff.maxMs >= this.backOff.initialMs)) {
      throw new Error(`the scheduler's back-off needs initialMs > 0 and maxMs >= initialMs, not ${JSON.stringify(this.backOff)}`);
    }
    this.maxUnschedulableMs = opts.maxUnschedulableMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? true;
    if (this.timers) {
      this.flushTimer = setInterval(() => this.flushUnschedulable(), Math.max(1_000, Math.min(30_000, this.maxUnschedulableMs / 2)));
      this.flushTimer.unref();
    }
  }

  lengths(): QueueLengths {
    return { active: this.active.length, backoff: this.backoff.length, unschedulable: this.unschedulable.size, inFlight: this.inFlight.size };
  }

  /** A pending pod, new or changed. */
  upsert(pod: KObject, info: PodInfo = makePodInfo(pod)): void {
    if (this.closed) return;
    const key = info.key;
    const flying = this.inFlight.get(key);
    if (flying) {
      if (podChanged(flying.pod, pod)) flying.updated = true;
      flying.pod = pod;
      flying.info = info;
      flying.deleted = false;
      return;
    }
    const waiting = this.active.get(key) ?? this.backoff.get(key);
    if (waiting) {
      // Neither queue's order depends on what can change here.
      waiting.pod = pod;
      waiting.info = info;
      return;
    }
    const parked = this.unschedulable.get(key);
    if (parked) {
      const changed = podChanged(parked.pod, pod);
      parked.pod = pod;
      parked.info = info;
      if (changed) {
        this.unschedulable.delete(key);
        this.requeue(parked);
      }
      return;
    }
    const now = this.now();
    this.toActive({ pod, info, firstQueuedAt: now, timestamp: now, attempts: 0, failedAt: 0, unschedulablePlugins: new Set(), cycle: 0 });
  }

  /** The pod is gone, bound, or no longer ours. */
  delete(key: string): void {
    const flying = this.inFlight.get(key);
    if (flying) flying.deleted = true;
    this.active.remove(key);
    if (this.backoff.remove(key)) this.armBackoffTimer();
    this.unschedulable.delete(key);
  }

  /** The next pod to try (waits for one); undefined once the queue is closed. */
  pop(): Promise<QueuedPod | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const p = this.active.pop();
    if (p) return Promise.resolve(this.startAttempt(p));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next active pod if there is one now, without waiting. */
  tryPop(): QueuedPod | undefined {
    if (this.closed) return undefined;
    const p = this.active.pop();
    return p && this.startAttempt(p);
  }

  /** The attempt is over: the pod is bound (or needs nothing more). */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  /**
   * The attempt found no node. Parked until an event may help — unless one came
   * while it was being tried, or the pod itself changed: then back-off.
   */
  unschedulableAttempt(key: string, plugins: ReadonlySet<string>): void {
    const p = this.finishAttempt(key);
    if (!p) return;
    p.unschedulablePlugins = plugins;
    if (p.updated || this.moveRequestCycle >= p.cycle) this.requeue(p);
    else this.unschedulable.set(key, p);
  }

  /** The attempt failed for another reason (the binding, an error): back-off. */
  errorAttempt(key: string): void {
    const p = this.finishAttempt(key);
    if (!p) return;
    p.unschedulablePlugins = new Set();
    this.toBackoff(p);
  }

  /** Something changed in the cluster: parked pods that it may help go back. */
  moveAll(event: ClusterEvent): void {
    if (this.closed) return;
    const helps = HELPS[event];
    for (const [key, p] of this.unschedulable) {
      if (helps !== 'all' && p.unschedulablePlugins.size > 0 && ![...p.unschedulablePlugins].some((x) => helps.has(x))) continue;
      this.unschedulable.delete(key);
      this.requeue(p);
    }
    this.moveRequestCycle = this.schedulingCycle;
  }

  /** Back-off over: to active. */
  flushBackoff(): void {
    const now = this.now();
    for (let p = this.backoff.peek(); p && this.backoffExpiry(p) <= now; p = this.backoff.peek()) {
      this.backoff.pop();
      this.toActive(p);
    }
    this.armBackoffTimer();
  }

  /** Pods parked longer than maxUnschedulableMs go back. */
  flushUnschedulable(): void {
    const now = this.now();
    for (const [key, p] of this.unschedulable) {
      if (now - p.timestamp < this.maxUnschedulableMs) continue;
      this.unschedulable.delete(key);
      this.requeue(p);
    }
  }

  /** Stops: waiting pops get undefined, timers end. */
  close(): void {
    this.closed = true;
    clearTimeout(this.backoffTimer);
    clearInterval(this.flushTimer);
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** When the pod's back-off ends: initial × 2^(attempts−1), capped. */
  backoffExpiry(p: QueuedPod): number {
    return p.failedAt + this.backoffMs(p.attempts);
  }

  backoffMs(attempts: number): number {
    return Math.min(this.backOff.maxMs, this.backOff.initialMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  }

  private startAttempt(p: QueuedPod): QueuedPod {
    p.attempts++;
    p.cycle = ++this.schedulingCycle;
    this.inFlight.set(p.info.key, { ...p, deleted: false, updated: false });
    return this.inFlight.get(p.info.key)!;
  }

  private finishAttempt(key: string): InFlight | undefined {
    const p = this.inFlight.get(key);
    this.inFlight.delete(key);
    if (!p || p.deleted || this.closed) return undefined;
    const now = this.now();
    p.failedAt = now;
    p.timestamp = now;
    return p;
  }

  /** Back to active, or to back-off while its back-off runs. */
  private requeue(p: QueuedPod): void {
    if (p.attempts > 0 && this.backoffExpiry(p) > this.now()) this.toBackoff(p);
    else this.toActive(p);
  }

  private toActive(p: QueuedPod): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.startAttempt(p));
    else this.active.push(p);
  }

  private toBackoff(p: QueuedPod): void {
    this.backoff.push(p);
    this.armBackoffTimer();
  }

  /** One timer, for the earliest back-off to end. */
  private armBackoffTimer(): void {
    if (!this.timers || this.closed) return;
    const first = this.backoff.peek();
    const at = first ? this.backoffExpiry(first) : Infinity;
    if (at === this.backoffTimerAt) return;
    clearTimeout(this.backoffTimer);
    this.backoffTimerAt = at;
    if (at === Infinity) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimerAt = Infinity;
      this.flushBackoff();
    }, Math.max(0, at - this.now()));
    this.backoffTimer.unref();
  }
}

/**
 * Whether the pod changed in a way that may change the decision: anything but
 * its status and resourceVersion (the scheduler's own PodScheduled condition
 * update must not send it round again).
 */
function podChanged(a: KObject, b: KObject): boolean {
  if (a === b) return false;
  if (a.metadata?.uid !== b.metadata?.uid) return true;
  const strip = (p: KObject) => {
    const { resourceVersion: _rv, generation: _g, managedFields: _m, ...meta } = p.metadata ?? {};
    return JSON.stringify([meta, p.spec]);
  };
  return strip(a) !== strip(b);
}
