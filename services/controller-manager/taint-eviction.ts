/**
 * Taint-based eviction, pure: how long a pod tolerates a node's NoExecute taints,
 * and how fast nodes may be emptied. Kubernetes' DefaultTolerationSeconds
 * admission gives every pod a 300 s toleration of not-ready and unreachable; here
 * a pod without a toleration of its own gets the controller's default instead
 * (podEvictionTimeoutMs, which is the node machine's `after` timer, or for the
 * unreachable taint unreachableEvictionTimeoutMs when set).
 */
import type { KObject } from '../lib/api/resources.js';
import { TAINT_UNREACHABLE } from '../../statecharts/node.machine.js';
import type { ControllerManagerOptions } from './context.js';
import type { Taint } from './node-health.js';

export type Toleration = { key?: string; operator?: string; value?: string; effect?: string; tolerationSeconds?: number };

/** Kubernetes' Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator || 'Equal';
  if (op === 'Exists') return true;
  return op === 'Equal' && (t.value ?? '') === (taint.value ?? '');
}

/**
 * The toleration of a pod without one of its own for the node's lifecycle taint:
 * unreachable may have its own (a node that went silent is likely dead; one that
 * says it is not ready is alive, perhaps stopping), else the one default.
 */
export function defaultToleranceMs(taintKey: string | null | undefined, o: Pick<ControllerManagerOptions, 'podEvictionTimeoutMs' | 'unreachableEvictionTimeoutMs'>): number {
  return taintKey === TAINT_UNREACHABLE ? (o.unreachableEvictionTimeoutMs ?? o.podEvictionTimeoutMs) : o.podEvictionTimeoutMs;
}

/**
 * How long the pod stays on a node with these NoExecute taints, in ms: for each
 * taint the first toleration that matches it counts (as in Kubernetes); none →
 * `defaultMs`; a match without tolerationSeconds → forever (Infinity); the
 * shortest wins. Negative seconds mean at once.
 */
export function podToleranceMs(pod: KObject, taints: Taint[], defaultMs: number): number {
  const tolerations = ((pod.spec as { tolerations?: Toleration[] } | undefined)?.tolerations ?? []).filter(Boolean);
  let ms = Infinity;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const t = tolerations.find((x) => tolerates(x, taint));
    const mine = !t ? defaultMs : t.tolerationSeconds === undefined || t.tolerationSeconds === null ? Infinity : Math.max(0, t.tolerationSeconds) * 1000;
    ms = Math.min(ms, mine);
  }
  return ms;
}

/** Kubernetes' zone states, for the whole cluster as one zone. */
export type Disruption = 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** Kubernetes' defaults: --unhealthy-zone-threshold and --large-cluster-size-threshold. */
export const UNHEALTHY_THRESHOLD = 0.55;
export const LARGE_CLUSTER = 50;
/** Nodes emptied per second: --node-eviction-rate and --secondary-node-eviction-rate. */
export const EVICTION_RATE_PER_S = 0.1;
export const SECONDARY_EVICTION_RATE_PER_S = 0.01;

/**
 * No Ready node at all is a full disruption: more likely the control plane lost
 * the nodes (a network partition, a store failover that stalled every lease) than
 * every machine died, and evicting would only hurt; nothing is evicted. More than
 * two unhealthy nodes and at least 55 % of them is a partial disruption.
 */
export function disruption(ready: number, unhealthy: number): Disruption {
  if (ready === 0 && unhealthy > 0) return 'FullDisruption';
  if (unhealthy > 2 && unhealthy / (ready + unhealthy) >= UNHEALTHY_THRESHOLD) return 'PartialDisruption';
  return 'Normal';
}

/** Nodes per second that may start being emptied (0: none), as Kubernetes' per-zone rate. */
export function evictionRate(state: Disruption, nodes: number): number {
  if (state === 'FullDisruption') return 0;
  if (state === 'PartialDisruption') return nodes > LARGE_CLUSTER ? SECONDARY_EVICTION_RATE_PER_S : 0;
  return EVICTION_RATE_PER_S;
}

/**
 * A token bucket with a burst of one node, as Kubernetes' eviction limiter: a
 * single dead node is emptied at once, the next only 1/rate later.
 */
export class NodeEvictionLimiter {
  private tokens = 1;
  private lastMs: number | undefined;

  /** Takes a token at `nowMs`: 0 when admitted, else the ms to wait (Infinity at rate 0). */
  admit(nowMs: number, ratePerS: number): number {
    if (this.lastMs !== undefined && ratePerS > 0) this.tokens = Math.min(1, this.tokens + ((nowMs - this.lastMs) / 1000) * ratePerS);
    this.lastMs = nowMs;
    if (ratePerS <= 0) return Infinity;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / ratePerS) * 1000);
  }
}
