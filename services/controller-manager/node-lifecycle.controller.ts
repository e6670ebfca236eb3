/**
 * The node lifecycle controller: one actor of statecharts/node.machine.ts per
 * Node, fed with what the Node and its heartbeat Lease (kube-node-lease) say.
 * A node not heard from within nodeMonitorGracePeriodMs turns Unknown (its
 * conditions Unknown, taint node.kubernetes.io/unreachable NoSchedule+NoExecute,
 * its pods not ready); one whose kubelet posts Ready=False is tainted
 * node.kubernetes.io/not-ready. After the toleration (podEvictionTimeoutMs, or
 * the pod's own tolerationSeconds) its pods are evicted, and — as Kubernetes'
 * pod GC does for nodes that cannot finish them — force-deleted, so their
 * controllers make replacements at once. Back to Ready, the taints go.
 * Time in which no Lease at all was seen written (not even the control plane's
 * own leaders', every 2 s: a store election, a stalled watch) does not count
 * against any node's grace period (ControlPlaneClock).
 *
 * Handlers only queue node names; `sync(name)` reads the caches, moves the
 * node's actor, and writes what its state asks for with compare-and-swap (a
 * conflict is retried with back-off). Every nodeMonitorPeriodMs every node is
 * looked at again, and each sync asks to be run again when its lease expires.
 */
import { createActor, type Actor } from 'xstate';
import {
  conditionsUnknown,
  evicting,
  lifecycleTaint,
  nodeLifecycleMachine,
  unhealthy,
  type NodeLifecycleSnapshot,
} from '../../statecharts/node.machine.js';
import { LEASE_MIRROR_MS, LEASE_NAMESPACE } from '../lib/leader-election/index.js';
import { NODE_LEASE_NAMESPACE, resourceForKind, type KObject } from '../lib/api/resources.js';
import { Controller, type SyncResult } from '../lib/controller/index.js';
import { isNotFound } from '../lib/errors/index.js';
import type { EventRecorder } from '../lib/events/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import type { Tracked as InspectedActor } from '../lib/inspect/index.js';
import type { ControllerContext, RunningController } from './context.js';
import { ControlPlaneClock, expiresInMs, nextProbe, notReadyConditions, observe, taintsOf, unknownConditions, withLifecycleTaint, type Probe } from './node-health.js';
import { defaultToleranceMs, disruption, evictionRate, NodeEvictionLimiter, podToleranceMs, type Disruption } from './taint-eviction.js';

const NODES = resourceForKind('Node')!;
const PODS = resourceForKind('Pod')!;
const LEASES = resourceForKind('Lease')!;

/** What the controller keeps per node besides its actor. */
type Tracked = {
  actor: Actor<typeof nodeLifecycleMachine>;
  /** The actor as live inspection knows it. */
  inspected: InspectedActor;
  probe?: Probe;
  /** When the node's current unhealthy episode began (the eviction clock). */
  toleratingSince?: number;
  /** Mark the node's pods not ready on the next sync. */
  markPods: boolean;
  /** The eviction limiter let this episode's evictions start. */
  admitted: boolean;
  /** A sync of this node is under way: its own actions need no new sync. */
  syncing: boolean;
};

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function startNodeLifecycleController(ctx: ControllerContext): Promise<RunningController> {
  const [nodes, leases, pods] = await Promise.all([ctx.informers.get('nodes'), ctx.informers.get('leases'), ctx.informers.get('pods')]);
  return new NodeLifecycleController(ctx, nodes, leases, pods).start();
}

class NodeLifecycleController {
  private readonly tracked = new Map<string, Tracked>();
  private readonly controller: Controller;
  private readonly limiter = new NodeEvictionLimiter();
  private readonly nodeEvents: EventRecorder;
  private readonly podEvents: EventRecorder;
  private clusterState: Disruption = 'Normal';
  /** No node is emptied before this (ms): after a full disruption, as if every node had just been heard from. */
  private heldUntil = 0;
  /** When no Lease was seen written (the control plane could not hear itself), which no node's grace period counts. */
  private readonly controlPlane = new ControlPlaneClock(LEASE_MIRROR_MS + 500);

  constructor(
    private readonly ctx: ControllerContext,
    private readonly nodes: Informer,
    private readonly leases: Informer,
    private readonly pods: Informer,
  ) {
    this.controller = new Controller({ name: 'node-lifecycle', workers: ctx.options.workers, log: ctx.log, sync: (name) => this.sync(name) });
    this.nodeEvents = ctx.recorder('node-controller');
    this.podEvents = ctx.recorder('taint-eviction-controller');
  }

  start(): RunningController {
    const enqueue = (name: string | undefined) => name && this.controller.enqueue(name);
    const offs = [
      this.nodes.on((ev) => enqueue(ev.object.metadata?.name)),
      this.leases.on((ev) => {
        const ns = ev.object.metadata?.namespace;
        if (ns === NODE_LEASE_NAMESPACE) enqueue(ev.object.metadata?.name);
        // Any Lease written is the store and the watch working: the control plane's own leaders' every 2 s.
        if ((ns === LEASE_NAMESPACE || ns === NODE_LEASE_NAMESPACE) && ev.type !== 'DELETED') this.heardControlPlane();
      }),
      // Pods matter only on an unhealthy node: to evict, to mark not ready.
      this.pods.on((ev) => this.onPod(ev)),
    ];
    const monitor = setInterval(() => this.monitor(), this.ctx.options.nodeMonitorPeriodMs);
    this.monitor();
    this.controller.start();
    return {
      name: 'node-lifecycle',
      stats: () => this.controller.stats(),
      stop: async () => {
        clearInterval(monitor);
        for (const off of offs) off();
        await this.controller.stop();
        for (const t of this.tracked.values()) {
          t.actor.stop();
          t.inspected.done();
        }
        this.tracked.clear();
      },
    };
  }

  /** Every period: each node known to the cache or to us is looked at again. */
  private monitor(): void {
    for (const n of this.nodes.list(NODES)) this.controller.enqueue(n.metadata!.name!);
    for (const name of this.tracked.keys()) this.controller.enqueue(name);
  }

  private onPod(ev: InformerEvent): void {
    for (const pod of [ev.object, ev.old]) {
      const node = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
      const t = node ? this.tracked.get(node) : undefined;
      if (node && t && unhealthy(t.actor.getSnapshot())) this.controller.enqueue(node);
    }
  }

  private async sync(name: string): Promise<SyncResult> {
    const node = this.nodes.get(NODES, '', name);
    let t = this.tracked.get(name);
    if (!node) {
      t?.actor.send({ type: 'NODE_DELETED' });
      t?.inspected.done();
      this.tracked.delete(name);
      return;
    }
    t ??= this.track(name);
    t.syncing = true;
    try {
      const now = Date.now();
      t.probe = nextProbe(t.probe, node, this.leases.get(LEASES, NODE_LEASE_NAMESPACE, name), now);
      // Time in which the control plane itself was not heard is no node's silence.
      const grace = this.ctx.options.nodeMonitorGracePeriodMs + this.controlPlane.silentMs(t.probe.atMs, now);
      const observed = observe(t.probe, node, now, grace);
      if (observed) t.actor.send({ type: observed });
      const s = t.actor.getSnapshot();
      const updated = await this.reconcileNode(node, s, now);
      const waits = [expiresInMs(t.probe, now, grace) + 1];
      if (unhealthy(s)) waits.push(await this.reconcilePods(updated, t, s, now));
      const next = Math.min(...waits.filter((w) => w > 0));
      return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
    } finally {
      t.syncing = false;
    }
  }

  private heardControlPlane(): void {
    const silence = this.controlPlane.heard(Date.now());
    if (silence > 0) {
      this.ctx.log(`node-lifecycle: no Lease was seen written for ${((silence + LEASE_MIRROR_MS + 500) / 1000).toFixed(1)} s; node heartbeats missed meanwhile do not count`);
    }
  }

  /** A new node's actor; its actions note what the next sync must do, or start one. */
  private track(name: string): Tracked {
    const poke = () => !t.syncing && this.controller.enqueue(name);
    const machine = nodeLifecycleMachine.provide({
      actions: {
        removeTaints: poke,
        taint: poke,
        setConditionsUnknown: poke,
        markPodsNotReady: () => {
          t.markPods = true;
          poke();
        },
        startTolerating: () => {
          t.toleratingSince = Date.now();
          t.admitted = false;
        },
        evictPods: poke,
        recordStatusChange: (_, { status }) => {
          const node = this.nodes.get(NODES, '', name);
          if (node) this.nodeEvents.event(node, 'Normal', status, `Node ${name} status is now: ${status}`);
        },
        forget: () => undefined,
      },
    });
    const inspected = this.ctx.inspector.track(`node/${name}`, 'node');
    const actor = createActor(machine, { input: { nodeName: name, podEvictionTimeoutMs: this.ctx.options.podEvictionTimeoutMs }, inspect: inspected.inspect });
    const t: Tracked = { actor, inspected, markPods: false, admitted: false, syncing: false };
    let last = '';
    actor.subscribe((s) => {
      const now = JSON.stringify(s.value);
      if (now === last) return;
      if (last) this.ctx.log(`node-lifecycle: node ${name}: ${last} → ${now}`);
      last = now;
      this.updateDisruption();
    });
    this.tracked.set(name, t);
    actor.start();
    return t;
  }

  /** Conditions Unknown and the lifecycle taint, as the node's state asks; the node as last written. */
  private async reconcileNode(node: KObject, s: NodeLifecycleSnapshot, now: number): Promise<KObject> {
    let current = node;
    if (conditionsUnknown(s)) {
      const conditions = unknownConditions(current, rfc3339(now));
      if (conditions) current = await this.ctx.client.updateStatus({ ...current, status: { ...(current.status as object), conditions } });
    }
    const key = lifecycleTaint(s);
    if (key !== undefined) {
      const taints = withLifecycleTaint(taintsOf(current), key, rfc3339(now));
      if (taints) current = await this.ctx.client.update({ ...current, spec: { ...(current.spec as object), taints } });
    }
    return current;
  }

  /**
   * The pods of an unhealthy node: marked not ready once per episode step,
   * force-deleted when terminating (nobody else can finish them), evicted when
   * their toleration is over. Returns the ms until the next pod's toleration
   * ends (Infinity: none pending). A failed write is thrown after the others.
   */
  private async reconcilePods(node: KObject, t: Tracked, s: NodeLifecycleSnapshot, now: number): Promise<number> {
    const name = node.metadata!.name!;
    const mine = this.pods.list(PODS).filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === name);
    let failure: unknown;
    const attempt = async (write: () => Promise<unknown>) => {
      try {
        await write();
      } catch (e) {
        if (!isNotFound(e)) failure ??= e;
      }
    };
    // The writes for one node's pods go out together: its last pod is not evicted later than its first.
    const each = (list: KObject[], write: (pod: KObject) => Promise<unknown>) => Promise.all(list.map((pod) => attempt(() => write(pod))));
    if (t.markPods) {
      await each(mine, async (pod) => {
        const conditions = pod.metadata?.deletionTimestamp ? undefined : notReadyConditions(pod, rfc3339(now));
        if (!conditions) return;
        await this.ctx.client.updateStatus({ ...pod, status: { ...(pod.status as object), conditions } });
        this.podEvents.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      });
      if (failure === undefined) t.markPods = false;
    }
    await each(mine.filter((p) => p.metadata?.deletionTimestamp), (pod) => this.forceDelete(pod));

    const key = lifecycleTaint(s);
    const taints = taintsOf(node).filter((x) => x.effect === 'NoExecute' && x.key === key);
    const defaultMs = defaultToleranceMs(key, this.ctx.options);
    const since = t.toleratingSince ?? now;
    let wait = Infinity;
    const due: KObject[] = [];
    for (const pod of mine.filter((p) => !p.metadata?.deletionTimestamp)) {
      const tolerance = podToleranceMs(pod, taints, defaultMs);
      if (tolerance === Infinity) continue;
      // The machine's timer is the clock of the default toleration; explicit ones count from the same start.
      if ((evicting(s) && tolerance <= defaultMs) || now >= since + tolerance) due.push(pod);
      else wait = Math.min(wait, since + tolerance - now);
    }
    if (due.length && !t.admitted) {
      const admitWait = this.admit(now);
      if (admitWait > 0) {
        wait = Math.min(wait, Number.isFinite(admitWait) ? admitWait : this.ctx.options.nodeMonitorPeriodMs);
        due.length = 0;
      } else t.admitted = true;
    }
    await each(due, (pod) => this.evict(pod));
    if (failure !== undefined) throw failure;
    return wait;
  }

  /**
   * The cluster's disruption state, again after any node changed state (nodes
   * just met are not counted until judged). Leaving a full disruption, the
   * nodes still unhealthy start their toleration over, and no node is emptied
   * for a grace period and a toleration from then.
   */
  private updateDisruption(): void {
    let ready = 0;
    let sick = 0;
    for (const t of this.tracked.values()) {
      const s = t.actor.getSnapshot();
      if (s.matches('Observing')) return;
      if (unhealthy(s)) sick++;
      else if (s.hasTag('ready')) ready++;
    }
    const state = disruption(ready, sick);
    if (state === this.clusterState) return;
    const was = this.clusterState;
    this.clusterState = state;
    this.ctx.log(`node-lifecycle: ${ready} ready and ${sick} unhealthy nodes: ${state}${state === 'Normal' ? '' : '; evictions are held back'}`);
    if (was !== 'FullDisruption') return;
    // As Kubernetes resets every node's probe time on leaving a full disruption: a node still
    // unheard of gets a whole grace period and then its toleration, counted from now, before
    // it is emptied — nodes come back one by one after the control plane's own outage (a master
    // killed: every heartbeat refused for seconds), and the last must not be emptied for being last.
    this.heldUntil = Date.now() + this.ctx.options.nodeMonitorGracePeriodMs + this.ctx.options.podEvictionTimeoutMs;
    for (const t of this.tracked.values()) if (unhealthy(t.actor.getSnapshot())) t.actor.send({ type: 'DISRUPTION_ENDED' });
  }

  /** Whether a node may start being emptied now (0), or how long to wait (Infinity: not while disrupted). */
  private admit(now: number): number {
    if (now < this.heldUntil) return this.heldUntil - now;
    return this.limiter.admit(now, evictionRate(this.clusterState, this.tracked.size));
  }

  /** The taint manager's eviction: a delete (graceful), then the pod GC's force delete. */
  private async evict(pod: KObject): Promise<void> {
    const meta = pod.metadata!;
    this.podEvents.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${meta.namespace}/${meta.name}`);
    await this.ctx.client.delete(PODS, meta.namespace, meta.name!, { preconditions: { uid: meta.uid } });
    await this.forceDelete(pod);
  }

  private async forceDelete(pod: KObject): Promise<void> {
    const meta = pod.metadata!;
    await this.ctx.client.delete(PODS, meta.namespace, meta.name!, { gracePeriodSeconds: 0, preconditions: { uid: meta.uid } });
  }
}
