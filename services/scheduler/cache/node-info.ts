/**
 * One node as the scheduler sees it: what the Node says (allocatable, labels,
 * taints, cordon, readiness, images) and what the pods on it — bound, or
 * assumed by this scheduler and not yet seen back — already take.
 */
import type { KObject } from '../../lib/api/resources.js';
import { toBytes, toMilli, tryParseQuantity } from '../../lib/quantity/index.js';
import { normalizeImageName, type PodInfo } from './pod-info.js';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** Zones get small numbers, once per process (there are few): scores sum per zone in an array. */
const zoneIds = new Map<string, number>();
export function zoneCount(): number {
  return zoneIds.size;
}
function zoneId(zone: string): number {
  if (!zone) return -1;
  let id = zoneIds.get(zone);
  if (id === undefined) zoneIds.set(zone, (id = zoneIds.size));
  return id;
}

export type Taint = { key: string; value: string; effect: string };

/** The Node's Ready condition: True, False, or Unknown (also when there is none). */
export type Readiness = 'True' | 'False' | 'Unknown';

type NodeSpec = { unschedulable?: boolean; taints?: Partial<Taint>[] };
type NodeStatus = {
  allocatable?: Record<string, string>;
  conditions?: { type?: string; status?: string }[];
  images?: { names?: string[]; sizeBytes?: number | string }[];
};

/**
 * The numbers every filter and score reads are plain fields of the node
 * (not nested objects): a pod looks at hundreds of nodes, and one object per
 * node keeps that walk in few cache lines.
 */
export class NodeInfo {
  /** The Node object; undefined for a node that is gone (or not seen yet) but still has pods. */
  node?: KObject;
  labels: Record<string, string> = {};
  /** topology.kubernetes.io/zone, '' when none; and its number (−1 when none). */
  zone = '';
  zoneId = -1;
  taints: Taint[] = [];
  unschedulable = false;
  ready: Readiness = 'Unknown';
  allocatableMilliCpu = 0;
  allocatableMemory = 0;
  allocatablePods = 0;
  /** Other allocatable resources: ephemeral-storage, extended resources. */
  allocatableOther: ReadonlyMap<string, number> = new Map();
  /** What the pods on the node (bound and assumed) request. */
  requestedMilliCpu = 0;
  requestedMemory = 0;
  readonly requestedOther = new Map<string, number>();
  podCount = 0;
  /** Requests with Kubernetes' defaults for containers that request nothing (for scoring). */
  nonZeroMilliCpu = 0;
  nonZeroMemory = 0;
  /** Normalized image name → size in bytes. */
  images = new Map<string, number>();
  readonly pods = new Map<string, PodInfo>();
  /** "protocol/port" → ip → how many pods hold it. */
  readonly usedPorts = new Map<string, Map<string, number>>();
  /** Position in the cache's node list (for O(1) removal); -1 when not listed. */
  index = -1;

  /**
   * @param slot a small number of its own while the cache knows the node (per-node
   *   counts live in typed arrays at this index)
   */
  constructor(
    readonly name: string,
    readonly slot = 0,
  ) {}

  /** Reads what matters of a Node; says whether anything a filter or score reads changed. */
  setNode(node: KObject): boolean {
    const before = this.node ? this.signature() : undefined;
    this.node = node;
    const spec = (node.spec ?? {}) as NodeSpec;
    const status = (node.status ?? {}) as NodeStatus;
    this.labels = node.metadata?.labels ?? {};
    this.zone = this.labels[ZONE_LABEL] ?? '';
    this.zoneId = zoneId(this.zone);
    this.taints = (spec.taints ?? []).map((t) => ({ key: t.key ?? '', value: t.value ?? '', effect: t.effect ?? '' }));
    this.unschedulable = !!spec.unschedulable;
    const ready = status.conditions?.find((c) => c.type === 'Ready')?.status;
    this.ready = ready === 'True' || ready === 'False' ? ready : 'Unknown';
    const other = new Map<string, number>();
    this.allocatableMilliCpu = this.allocatableMemory = this.allocatablePods = 0;
    for (const [name, text] of Object.entries(status.allocatable ?? {})) {
      const q = tryParseQuantity(text);
      if (!q) continue;
      if (name === 'cpu') this.allocatableMilliCpu = toMilli(q);
      else if (name === 'memory') this.allocatableMemory = toBytes(q);
      else if (name === 'pods') this.allocatablePods = toBytes(q);
      else other.set(name, toBytes(q));
    }
    this.allocatableOther = other;
    this.images = new Map();
    for (const img of status.images ?? []) {
      for (const n of img.names ?? []) this.images.set(normalizeImageName(n), Number(img.sizeBytes ?? 0));
    }
    return before !== this.signature();
  }

  /** Everything the plugins read of the Node, as one comparable string. */
  private signature(): string {
    return JSON.stringify([
      this.labels,
      this.taints,
      this.unschedulable,
      this.ready,
      [this.allocatableMilliCpu, this.allocatableMemory, this.allocatablePods, [...this.allocatableOther]],
      [...this.images],
    ]);
  }

  addPod(p: PodInfo): void {
    this.pods.set(p.key, p);
    this.account(p, 1);
  }

  removePod(key: string): PodInfo | undefined {
    const p = this.pods.get(key);
    if (!p) return undefined;
    this.pods.delete(key);
    this.account(p, -1);
    return p;
  }

  private account(p: PodInfo, sign: 1 | -1): void {
    this.podCount += sign;
    this.requestedMilliCpu += sign * p.requests.milliCpu;
    this.requestedMemory += sign * p.requests.memory;
    if (p.requests.other) {
      for (const [k, v] of p.requests.other) this.requestedOther.set(k, (this.requestedOther.get(k) ?? 0) + sign * v);
    }
    this.nonZeroMilliCpu += sign * p.nonZeroMilliCpu;
    this.nonZeroMemory += sign * p.nonZeroMemory;
    for (const hp of p.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      let ips = this.usedPorts.get(k);
      if (!ips) this.usedPorts.set(k, (ips = new Map()));
      const n = (ips.get(hp.ip) ?? 0) + sign;
      if (n > 0) ips.set(hp.ip, n);
      else ips.delete(hp.ip);
      if (ips.size === 0) this.usedPorts.delete(k);
    }
  }
}
