/**
 * What the kubelet says about its node: the Node object it registers, the status
 * it reports, and the Lease it renews. Pure: every fact about the host comes in as
 * a value (host-facts.ts reads them) and the clock is a parameter, so the same
 * inputs always give the same object.
 */
import { NODE_LEASE_NAMESPACE, type KObject } from '../lib/api/resources.js';
import type { ImageSummary, RuntimeInfo } from './runtime/index.js';

/** Reported as nodeInfo.kubeletVersion and kubeProxyVersion. */
export const KUBELET_VERSION = 'v1.32.0-keelson';
/** Kubernetes' default `--max-pods`. */
export const MAX_PODS = 110;
export const KUBELET_PORT = 10250;
/** Kubernetes' default lease duration for node heartbeats. */
export const LEASE_DURATION_SECONDS = 40;
export { NODE_LEASE_NAMESPACE } from '../lib/api/resources.js';
/** Kubernetes' `nodeStatusMaxImages`: the largest 50 images are reported. */
export const MAX_IMAGES = 50;

/** Kubernetes' default hard eviction thresholds, which allocatable leaves out. */
export const EVICTION = {
  /** memory.available < 100Mi */
  memoryBytes: 100 * 1024 * 1024,
  /** nodefs.available < 10% */
  diskFraction: 0.1,
} as const;

/** What does not change while the kubelet runs. */
export type StaticHostFacts = {
  cpus: number;
  memoryBytes: number;
  /** Size of the filesystem holding the data dir; absent when it could not be read. */
  ephemeralStorageBytes?: number;
  internalIP: string;
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  /** Go's name: amd64, arm64... */
  architecture: string;
};

/** What the kubelet samples again before each status report. */
export type DynamicHostFacts = {
  freeMemoryBytes: number;
  /** Free space on the data dir's filesystem; absent when unknown (no disk pressure is claimed). */
  diskAvailableBytes?: number;
};

export type HostFacts = StaticHostFacts & DynamicHostFacts;

export type NodeCondition = {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
};

export type NodeStatus = {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  conditions: NodeCondition[];
  addresses: { type: string; address: string }[];
  daemonEndpoints: { kubeletEndpoint: { Port: number } };
  nodeInfo: Record<string, string>;
  images: ImageSummary[];
};

export type NodeStatusInput = {
  nodeName: string;
  facts: HostFacts;
  runtime: RuntimeInfo;
  images: ImageSummary[];
  /** The conditions now stored on the Node: their transition times carry over. */
  previous?: NodeCondition[];
  /** RFC 3339, seconds (Kubernetes' metav1.Time). */
  now: string;
  /** Set while the kubelet shuts down: Ready turns False with this message. */
  notReadyMessage?: string;
};

/** Node's `process.arch` in Go's (and so Kubernetes') naming. */
export function goArch(nodeArch: string): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return names[nodeArch] ?? nodeArch;
}

/** Kubernetes' metav1.Time: RFC 3339 to the second. */
export function rfc3339(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Kubernetes' metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(epochMs: number): string {
  const wholeMs = Math.floor(epochMs);
  // Rounded, not floored: a float's sub-millisecond digits are off by a hair.
  const micros = Math.min(999, Math.round((epochMs - wholeMs) * 1000));
  const base = new Date(wholeMs).toISOString(); // 2024-05-01T10:00:00.123Z
  return `${base.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

const ki = (bytes: number) => `${Math.floor(bytes / 1024)}Ki`;

/** Capacity is the machine; allocatable leaves out the hard eviction thresholds, as Kubernetes does. */
export function resources(facts: StaticHostFacts): Pick<NodeStatus, 'capacity' | 'allocatable'> {
  const capacity: Record<string, string> = {
    cpu: String(facts.cpus),
    memory: ki(facts.memoryBytes),
    pods: String(MAX_PODS),
  };
  const allocatable: Record<string, string> = {
    cpu: capacity.cpu,
    memory: ki(Math.max(0, facts.memoryBytes - EVICTION.memoryBytes)),
    pods: capacity.pods,
  };
  if (facts.ephemeralStorageBytes !== undefined) {
    capacity['ephemeral-storage'] = ki(facts.ephemeralStorageBytes);
    allocatable['ephemeral-storage'] = String(Math.floor(facts.ephemeralStorageBytes * (1 - EVICTION.diskFraction)));
  }
  return { capacity, allocatable };
}

type ConditionState = Pick<NodeCondition, 'status' | 'reason' | 'message'>;

/** The four node conditions, in Kubernetes' order, reasons and messages (times not set yet). */
export function desiredConditions(facts: HostFacts, notReadyMessage?: string): (ConditionState & { type: string })[] {
  const memoryLow = facts.freeMemoryBytes < EVICTION.memoryBytes;
  const diskLow =
    facts.diskAvailableBytes !== undefined &&
    facts.ephemeralStorageBytes !== undefined &&
    facts.diskAvailableBytes < facts.ephemeralStorageBytes * EVICTION.diskFraction;
  return [
    memoryLow
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    diskLow
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    notReadyMessage
      ? { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: notReadyMessage }
      : { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
}

/**
 * Stamps the heartbeat on every condition; the transition time moves only when a
 * condition's status differs from the stored one (or it is new).
 */
export function stampConditions(desired: (ConditionState & { type: string })[], previous: NodeCondition[] | undefined, now: string): NodeCondition[] {
  return desired.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const moved = !old || old.status !== c.status || !old.lastTransitionTime;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: moved ? now : old.lastTransitionTime };
  });
}

/** The largest images first, at most MAX_IMAGES, as Kubernetes reports them. */
export function reportedImages(images: ImageSummary[]): ImageSummary[] {
  return [...images]
    .filter((i) => i.names.length > 0)
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .slice(0, MAX_IMAGES)
    .map((i) => ({ names: [...i.names], sizeBytes: i.sizeBytes }));
}

export function buildNodeStatus(input: NodeStatusInput): NodeStatus {
  const { facts, runtime, nodeName } = input;
  return {
    ...resources(facts),
    conditions: stampConditions(desiredConditions(facts, input.notReadyMessage), input.previous, input.now),
    addresses: [
      { type: 'InternalIP', address: facts.internalIP },
      { type: 'Hostname', address: nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: KUBELET_PORT } },
    nodeInfo: {
      machineID: facts.machineID,
      systemUUID: facts.systemUUID,
      bootID: facts.bootID,
      kernelVersion: facts.kernelVersion,
      osImage: facts.osImage,
      containerRuntimeVersion: runtime.version,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: facts.architecture,
    },
    images: reportedImages(input.images),
  };
}

/** The labels every kubelet sets on its Node, then the operator's (which win). */
export function nodeLabels(nodeName: string, architecture: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': architecture, ...extra };
}

/** The Node a kubelet registers, with the status it reports. */
export function buildNode(nodeName: string, status: NodeStatus, labels?: Record<string, string>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: nodeName, labels: nodeLabels(nodeName, status.nodeInfo.architecture, labels) },
    spec: {},
    status,
  };
}

/**
 * What a status report would change, heartbeats aside: two statuses with the same
 * signature need no write before the next status period.
 */
export function statusSignature(status: NodeStatus): string {
  const { conditions, ...rest } = status;
  return JSON.stringify({ ...rest, conditions: conditions.map((c) => [c.type, c.status, c.reason, c.message]) });
}

/** The node's heartbeat Lease; `existing` keeps its identity and acquire time. */
export function buildLease(nodeName: string, nowMs: number, owner?: { uid: string }, existing?: KObject): KObject {
  const renewTime = microTime(nowMs);
  const oldSpec = (existing?.spec ?? {}) as Record<string, unknown>;
  const ownerReferences = owner ? [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: owner.uid }] : undefined;
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      ...(existing?.metadata ?? {}),
      name: nodeName,
      namespace: NODE_LEASE_NAMESPACE,
      // Owned by the Node, so deleting the Node takes its lease along (garbage collection).
      ...(ownerReferences ? { ownerReferences } : {}),
    },
    spec: {
      ...oldSpec,
      holderIdentity: nodeName,
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime,
    },
  };
}
