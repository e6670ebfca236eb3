/**
 * What the node lifecycle controller reads from a Node and its Lease, and what it
 * writes back, as pure functions: the health probe (when did we last hear from
 * the kubelet), the observation it turns into (statecharts/node.machine.ts), the
 * conditions of a node that stopped posting status, and the lifecycle taints.
 */
import type { KObject } from '../lib/api/resources.js';
import { TAINT_NOT_READY, TAINT_UNREACHABLE, type LifecycleTaintKey, type NodeLifecycleEvent } from '../../statecharts/node.machine.js';

export type NodeCondition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
};

export type Taint = { key: string; value?: string; effect: string; timeAdded?: string };

export const LIFECYCLE_TAINTS: readonly string[] = [TAINT_NOT_READY, TAINT_UNREACHABLE];
export const NODE_STATUS_UNKNOWN = { reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' } as const;

/**
 * When the kubelet was last heard from, on the controller's own clock (as
 * Kubernetes keeps it): the time the controller first saw the current lease
 * renewTime / Ready heartbeat. A kubelet's clock never enters the comparison,
 * and a node first seen by a new leader gets a full grace period.
 */
export type Probe = { signature: string; atMs: number };

export function conditionsOf(node: KObject): NodeCondition[] {
  return ((node.status as { conditions?: NodeCondition[] } | undefined)?.conditions ?? []).filter((c) => c && typeof c.type === 'string');
}

export function readyStatus(node: KObject): string | undefined {
  return conditionsOf(node).find((c) => c.type === 'Ready')?.status;
}

export function taintsOf(node: KObject): Taint[] {
  return ((node.spec as { taints?: Taint[] } | undefined)?.taints ?? []).filter((t) => t && typeof t.key === 'string');
}

/** The probe after looking at the node and its lease now: moved on when either heartbeat changed. */
export function nextProbe(previous: Probe | undefined, node: KObject, lease: KObject | undefined, nowMs: number): Probe {
  const renewTime = (lease?.spec as { renewTime?: string } | undefined)?.renewTime ?? '';
  const ready = conditionsOf(node).find((c) => c.type === 'Ready');
  const signature = `${renewTime}|${ready?.lastHeartbeatTime ?? ''}`;
  if (previous && previous.signature === signature) return previous;
  return { signature, atMs: nowMs };
}

/**
 * The observation for the node machine: LEASE_EXPIRED once nothing was heard
 * for longer than the grace period, else what the kubelet posts. Ready=Unknown
 * with a fresh lease (a kubelet back, its status not posted yet) says nothing.
 */
export function observe(probe: Probe, node: KObject, nowMs: number, graceMs: number): NodeLifecycleEvent['type'] | undefined {
  if (nowMs - probe.atMs > graceMs) return 'LEASE_EXPIRED';
  const ready = readyStatus(node);
  if (ready === 'True') return 'KUBELET_READY';
  if (ready === 'False') return 'KUBELET_NOT_READY';
  return undefined;
}

/**
 * The control plane's own heartbeat as the node lifecycle controller hears it:
 * any Lease seen written — the leaders' own in kube-system are written every
 * 2 s through the API and the store and seen through the same watch as the
 * nodes'. While none is heard the store takes no writes (a stream-leader
 * election after a master dies: 5–8 s on nats-server 2.9.10) or the watch is
 * stalled, and no kubelet can be heard either, so that time is not counted
 * against any node's grace period. Only the silence past `expectedGapMs`
 * counts, and at most MAX_DISCOUNT_MS of it (a control plane gone quiet for
 * longer is not waited for); never heard, nothing counts (a controller run
 * without leader election and without nodes).
 */
export class ControlPlaneClock {
  private lastHeardMs?: number;
  /** Past silences [from, to), oldest first, at most MAX_OUTAGES. */
  private readonly outages: [number, number][] = [];
  private static readonly MAX_OUTAGES = 256;
  static readonly MAX_DISCOUNT_MS = 60_000;

  constructor(private readonly expectedGapMs: number) {}

  /** A leader's Lease was seen written at `nowMs`; returns the silence it ended (ms past the expected gap), or 0. */
  heard(nowMs: number): number {
    const last = this.lastHeardMs;
    this.lastHeardMs = Math.max(nowMs, last ?? nowMs);
    if (last === undefined || nowMs - last <= this.expectedGapMs) return 0;
    this.outages.push([last + this.expectedGapMs, nowMs]);
    if (this.outages.length > ControlPlaneClock.MAX_OUTAGES) this.outages.shift();
    return nowMs - last - this.expectedGapMs;
  }

  /** How much of [fromMs, nowMs) the control plane was silent, the silence still going on included (at most MAX_DISCOUNT_MS). */
  silentMs(fromMs: number, nowMs: number): number {
    if (this.lastHeardMs === undefined) return 0;
    let total = 0;
    for (const [a, b] of [...this.outages, [this.lastHeardMs + this.expectedGapMs, nowMs] as const]) {
      total += Math.max(0, Math.min(b, nowMs) - Math.max(a, fromMs));
    }
    return Math.min(total, ControlPlaneClock.MAX_DISCOUNT_MS);
  }
}

/** Milliseconds until the probe expires (≤ 0 when it has). */
export function expiresInMs(probe: Probe, nowMs: number, graceMs: number): number {
  return probe.atMs + graceMs - nowMs;
}

/** The kubelet's conditions a node lifecycle controller sets to Unknown. */
const KUBELET_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

/**
 * The conditions of a node whose kubelet stopped posting status: every kubelet
 * condition Unknown (heartbeat kept, transition now), or undefined when they
 * already are. A node that never posted gets a Ready=Unknown of its own.
 */
export function unknownConditions(node: KObject, now: string): NodeCondition[] | undefined {
  const conditions = conditionsOf(node);
  let changed = false;
  const next = conditions.map((c) => {
    if (!KUBELET_CONDITIONS.includes(c.type) || c.status === 'Unknown') return c;
    changed = true;
    return { ...c, status: 'Unknown', ...NODE_STATUS_UNKNOWN, lastTransitionTime: now };
  });
  if (!next.some((c) => c.type === 'Ready')) {
    changed = true;
    next.push({
      type: 'Ready',
      status: 'Unknown',
      reason: 'NodeStatusNeverUpdated',
      message: 'Kubelet never posted node status.',
      lastHeartbeatTime: node.metadata?.creationTimestamp ?? now,
      lastTransitionTime: now,
    });
  }
  return changed ? next : undefined;
}

/**
 * The node's taints with the lifecycle taint `key` (NoSchedule and NoExecute)
 * and without the other one; `null` removes both. Other taints stay as they
 * are; NoExecute taints carry the time they were added. Undefined when nothing
 * changes.
 */
export function withLifecycleTaint(taints: Taint[], key: LifecycleTaintKey | null, now: string): Taint[] | undefined {
  const others = taints.filter((t) => !LIFECYCLE_TAINTS.includes(t.key));
  const ours: Taint[] = [];
  if (key) {
    for (const effect of ['NoSchedule', 'NoExecute']) {
      const had = taints.find((t) => t.key === key && t.effect === effect);
      ours.push(had ?? (effect === 'NoExecute' ? { key, effect, timeAdded: now } : { key, effect }));
    }
  }
  const current = taints.filter((t) => LIFECYCLE_TAINTS.includes(t.key));
  const same = current.length === ours.length && ours.every((t) => current.includes(t));
  return same ? undefined : [...others, ...ours];
}

/** The pod's conditions with Ready=False, or undefined when it is not Ready=True. */
export function notReadyConditions(pod: KObject, now: string): NodeCondition[] | undefined {
  const conditions = ((pod.status as { conditions?: NodeCondition[] } | undefined)?.conditions ?? []);
  if (!conditions.some((c) => c.type === 'Ready' && c.status === 'True')) return undefined;
  return conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: now } : c));
}
