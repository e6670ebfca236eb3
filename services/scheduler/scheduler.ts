/**
 * The scheduler: informers feed the cache (nodes, bound pods) and the queue
 * (pending pods that are ours); one loop takes the next pod, lets the framework
 * pick a node, assumes the pod there and starts its binding — several bindings
 * in flight, so the loop goes on to the next pod while the API answers.
 *
 * A pod stays "in flight" in the queue until its binding is answered: a
 * failed binding forgets the assumption and sends the pod to back-off.
 */
import { setImmediate as yieldToIO } from 'node:timers/promises';
import type { KObject } from '../lib/api/resources.js';
import { resolveResource, type KeelsonClient } from '../lib/client/index.js';
import { isApiError } from '../lib/errors/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import { makePodInfo, SchedulerCache, type CacheCounts, type PodInfo } from './cache/index.js';
import { Framework } from './framework/index.js';
import { LatencyWindow, type LatencySummary } from './latency.js';
import { defaultProfile } from './plugins/index.js';
import { SchedulingQueue, type BackOff, type QueuedPod, type QueueLengths } from './queue/index.js';
import { Reporter } from './reporter.js';

export type SchedulerOptions = {
  /** Every write goes through it (it carries the leader's fencing token). The caller's: not closed here. */
  client: KeelsonClient;
  /** Pods whose spec.schedulerName is this are ours. Default `default-scheduler`. */
  schedulerName?: string;
  /** Percentage of nodes to find feasible before scoring; 0/undefined = adaptive (50 − nodes/125, ≥ 5 %). */
  percentageOfNodesToScore?: number;
  /**
   * Bindings in flight at once. Default 64: with 16, under a burst of creates
   * the bindings got too small a share of the API server (scheduler benchmark:
   * 865 → 1,317 pods/s end to end, p50 4.4 s → 28 ms, going to 64).
   */
  bindParallelism?: number;
  /** Per-pod back-off after a failed attempt. Default 1 s doubling to 10 s. */
  backOff?: BackOff;
  /** A parked unschedulable pod is tried again after this long, event or not. Default 60 s. */
  maxUnschedulableMs?: number;
  /** The same FailedScheduling Event for a pod at most this often. Default 30 s. */
  eventRepeatMs?: number;
  /**
   * Event writes in flight at most (default 2 × bindParallelism, so that the
   * Scheduled Events of a burst of bindings answered together all fit); beyond
   * that an Event is dropped and counted: Events must not hold up scheduling.
   */
  eventsInFlight?: number;
  log?: (message: string) => void;
};

/** Counters for /metrics. */
export type SchedulerStats = {
  /** Pods bound. */
  scheduled: number;
  /** Scheduling attempts (a pod tried three times counts three). */
  attempts: number;
  /** Attempts that found no node. */
  unschedulableAttempts: number;
  /** Bindings the API refused or that failed. */
  bindErrors: number;
  /** Events not written because too many were in flight. */
  eventsDropped: number;
  bindsInFlight: number;
  queue: QueueLengths;
  cache: CacheCounts;
  /** The binding request's round trip. */
  bindingLatency: LatencySummary;
  /** The decision alone (filter + score), per attempt. */
  algorithmLatency: LatencySummary;
  /** First queued → binding answered, per pod bound. */
  e2eLatency: LatencySummary;
};

const pods = resolveResource('Pod');
/** The loop lets I/O in at least this often while it has pods to try. */
const SLICE_MS = 20;
/** Pods tried in one go (their bindings leave together). */
const BATCH = 64;

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly queue: SchedulingQueue;
  private readonly framework: Framework;
  private readonly reporter: Reporter;
  private readonly name: string;
  private readonly parallelism: number;
  private readonly log: (message: string) => void;
  private podInformer?: Informer;
  private stopping = false;
  private loopDone?: Promise<void>;
  private bindsInFlight = 0;
  private slotWaiter?: () => void;
  private wakeScheduled = false;
  private readonly bindings = new Set<Promise<void>>();
  private readonly counters = { scheduled: 0, attempts: 0, unschedulableAttempts: 0, bindErrors: 0 };
  private readonly latency = { binding: new LatencyWindow(), algorithm: new LatencyWindow(), e2e: new LatencyWindow() };

  constructor(private readonly opts: SchedulerOptions) {
    this.name = opts.schedulerName ?? 'default-scheduler';
    this.parallelism = Math.max(1, opts.bindParallelism ?? 64);
    this.log = opts.log ?? (() => undefined);
    this.queue = new SchedulingQueue({ backOff: opts.backOff, maxUnschedulableMs: opts.maxUnschedulableMs });
    this.framework = new Framework(defaultProfile(), { percentageOfNodesToScore: opts.percentageOfNodesToScore });
    this.reporter = new Reporter({
      client: opts.client,
      component: this.name,
      repeatMs: opts.eventRepeatMs,
      eventsInFlight: opts.eventsInFlight ?? 2 * this.parallelism,
      log: this.log,
    });
  }

  /** Feeds the cache and queue from synced informers, then starts the loop. */
  start(nodeInformer: Informer, podInformer: Informer): void {
    this.podInformer = podInformer;
    nodeInformer.on((ev) => this.onNode(ev));
    podInformer.on((ev) => this.onPod(ev));
    // The informers synced before these handlers were added: take what they hold
    // (the handlers are idempotent, so an event seen twice does no harm).
    for (const node of nodeInformer.list(resolveResource('Node'))) this.onNode({ type: 'ADDED', object: node } as InformerEvent);
    for (const pod of podInformer.list(pods)) this.onPod({ type: 'ADDED', object: pod } as InformerEvent);
    this.loopDone = this.loop();
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    this.queue.close();
    this.slotWaiter?.();
    const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await bounded(this.loopDone ?? Promise.resolve());
    await bounded(Promise.all([...this.bindings]));
    await bounded(this.reporter.flush());
  }

  stats(): SchedulerStats {
    return {
      ...this.counters,
      eventsDropped: this.reporter.eventsDropped,
      bindsInFlight: this.bindsInFlight,
      queue: this.queue.lengths(),
      cache: this.cache.counts(),
      bindingLatency: this.latency.binding.summary(),
      algorithmLatency: this.latency.algorithm.summary(),
      e2eLatency: this.latency.e2e.summary(),
    };
  }

  private onNode(ev: InformerEvent): void {
    const name = ev.object.metadata?.name ?? '';
    if (ev.type === 'DELETED') {
      this.cache.removeNode(name);
      return;
    }
    const isNew = !this.cache.node(name);
    if (this.cache.upsertNode(ev.object)) this.queue.moveAll(isNew ? 'NodeAdd' : 'NodeUpdate');
  }

  private onPod(ev: InformerEvent): void {
    const obj = ev.object;
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    if (ev.type === 'DELETED') {
      this.queue.delete(key);
      this.reporter.forget(key);
      if (this.cache.removePod(key)) this.queue.moveAll('AssignedPodDelete');
      return;
    }
    const nodeName = (obj.spec as { nodeName?: string } | undefined)?.nodeName;
    if (nodeName) {
      this.queue.delete(key);
      const phase = (obj.status as { phase?: string } | undefined)?.phase;
      const running = phase !== 'Succeeded' && phase !== 'Failed';
      // Most events about bound pods change nothing the scheduler counts.
      if (running && this.cache.confirm(key, obj.metadata?.uid, nodeName)) return;
      const { removed } = this.cache.upsertPod(obj, makePodInfo(obj));
      // A pod that finished (or moved) gave its room back.
      if (removed) this.queue.moveAll('AssignedPodDelete');
      return;
    }
    // Pending. Ours to bind already (assumed, answer on its way): leave it be.
    if (this.cache.isAssumed(key)) return;
    const info = makePodInfo(obj);
    if (this.isOurs(info)) this.queue.upsert(obj, info);
    else this.queue.delete(key);
  }

  private isOurs(info: PodInfo): boolean {
    return info.schedulerName === this.name && !info.terminating && !info.terminal;
  }

  /**
   * Waits for a pod, then tries it and — in the same tick — as many more as
   * there are free binding slots, so that their bindings leave in one write;
   * then waits for a slot. Lets I/O in at least every SLICE_MS.
   */
  private async loop(): Promise<void> {
    let slice = performance.now();
    while (!this.stopping) {
      const first = await this.queue.pop();
      if (!first) return;
      this.tryOne(first);
      for (let n = 1; n < BATCH && this.bindsInFlight < this.parallelism; n++) {
        const next = this.queue.tryPop();
        if (!next) break;
        this.tryOne(next);
      }
      while (this.bindsInFlight >= this.parallelism && !this.stopping) {
        await new Promise<void>((r) => (this.slotWaiter = r));
        slice = performance.now();
      }
      if (performance.now() - slice > SLICE_MS) {
        await yieldToIO();
        slice = performance.now();
      }
    }
  }

  private tryOne(qp: QueuedPod): void {
    try {
      this.scheduleOne(qp);
    } catch (e) {
      // A bug, not a verdict on the pod: say so, and try it again later.
      this.log(`scheduler: scheduling ${qp.info.key} failed: ${(e as Error).stack ?? e}`);
      this.cache.forget(qp.info.key);
      this.queue.errorAttempt(qp.info.key);
    }
  }

  private scheduleOne(qp: QueuedPod): void {
    const info = qp.info;
    this.counters.attempts++;
    // The newest version in the informer decides whether there is anything to do.
    const current = this.podInformer!.get(pods, info.namespace, info.name);
    const spec = current?.spec as { nodeName?: string } | undefined;
    if (!current || current.metadata?.uid !== info.uid || spec?.nodeName || current.metadata?.deletionTimestamp) {
      this.queue.done(info.key);
      // A pod made again under the same name meanwhile is a new pod: queue it afresh.
      if (current && current.metadata?.uid !== info.uid) this.onPod({ type: 'ADDED', object: current } as InformerEvent);
      return;
    }
    const t0 = performance.now();
    const result = this.framework.schedule(info, this.cache.nodeList(), this.cache);
    this.latency.algorithm.add(performance.now() - t0);
    if (result.kind === 'unschedulable') {
      this.counters.unschedulableAttempts++;
      this.queue.unschedulableAttempt(info.key, result.plugins);
      this.reporter.unschedulable(current, result.message);
      return;
    }
    this.cache.assume(info, result.node.name);
    this.bind(qp, current, result.node.name);
  }

  /**
   * A slot is free: the loop goes on after the I/O of this turn — every answer
   * that arrived with this one frees its slot first, and the next pods go out
   * together.
   */
  private wakeLoop(): void {
    if (!this.slotWaiter || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      const wake = this.slotWaiter;
      this.slotWaiter = undefined;
      wake?.();
    });
  }

  private bind(qp: QueuedPod, pod: KObject, node: string): void {
    const { key, namespace, name } = qp.info;
    this.bindsInFlight++;
    const t0 = performance.now();
    const done = this.opts.client.bind(namespace, name, node).then(
      () => {
        this.latency.binding.add(performance.now() - t0);
        this.latency.e2e.add(Date.now() - qp.firstQueuedAt);
        this.counters.scheduled++;
        this.queue.done(key);
        this.reporter.scheduled(pod, node);
      },
      (e: unknown) => {
        this.cache.forget(key);
        this.queue.errorAttempt(key);
        // Gone, or bound by someone else: the watch will say so; nothing to tell.
        if (isApiError(e) && (e.reason === 'NotFound' || (e.reason === 'Conflict' && /already assigned/.test(e.message)))) return;
        this.counters.bindErrors++;
        const message = (e as Error).message;
        this.log(`scheduler: binding ${key} to ${node} failed: ${message}`);
        this.reporter.bindingFailed(pod, message);
      },
    );
    const tracked: Promise<void> = done.finally(() => {
      this.bindsInFlight--;
      this.bindings.delete(tracked);
      this.wakeLoop();
    });
    this.bindings.add(tracked);
  }
}
