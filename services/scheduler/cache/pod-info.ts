/**
 * What the scheduler needs of a pod, computed once per pod version instead of
 * once per node: requests as numbers, host ports, tolerations, the compiled
 * node selector/affinity, images, the controller owner. Plugins read only this.
 * It does not hold the Pod object: the cache keeps one of these per bound pod,
 * and the informer already keeps the object.
 */
import type { KObject } from '../../lib/api/resources.js';
import { toBytes, toMilli, tryParseQuantity } from '../../lib/quantity/index.js';
import { compileNodeSelector, compilePreferredTerms, type NodeMatcher, type WeightedMatcher } from './node-selector.js';

/** Kubernetes' defaults for a container that requests nothing, used when scoring (not filtering). */
const DEFAULT_MILLI_CPU_REQUEST = 100;
const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export type Toleration = { key: string; operator: string; value: string; effect: string };

export type HostPort = { ip: string; protocol: string; port: number };

/** Requests in plain numbers: cpu in millicores, memory in bytes. */
export type Requests = {
  milliCpu: number;
  memory: number;
  /** Everything else, rarely asked for: `ephemeral-storage` (bytes), extended resources (`example.com/gpu`, units). */
  other?: Map<string, number>;
};

export type PodInfo = {
  /** `namespace/name`. */
  key: string;
  uid: string;
  namespace: string;
  name: string;
  priority: number;
  requests: Requests;
  /** For scoring: a container without a cpu/memory request counts as 100m / 200Mi. */
  nonZeroMilliCpu: number;
  nonZeroMemory: number;
  hostPorts: HostPort[];
  tolerations: Toleration[];
  /** nodeSelector AND required node affinity; undefined when the pod has neither. */
  requiredNodeMatch?: NodeMatcher;
  preferredNodeTerms: WeightedMatcher[];
  /** Normalized image names of every container (init ones included). */
  images: string[];
  containerCount: number;
  /** uid of the ownerReference with controller: true. */
  ownerUid?: string;
  /** spec.nodeName, when bound. */
  nodeName: string;
  schedulerName: string;
  terminating: boolean;
  /** Succeeded or Failed: holds no resources any more. */
  terminal: boolean;
};

type Container = {
  image?: string;
  ports?: { hostPort?: number; hostIP?: string; protocol?: string }[];
  resources?: { requests?: Record<string, string> };
  restartPolicy?: string;
};

type PodSpec = {
  nodeName?: string;
  schedulerName?: string;
  priority?: number | null;
  containers?: Container[];
  initContainers?: Container[];
  overhead?: Record<string, string>;
  tolerations?: Partial<Toleration>[];
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: unknown; preferredDuringSchedulingIgnoredDuringExecution?: unknown } } | null;
};

function podKey(pod: KObject): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export function makePodInfo(pod: KObject): PodInfo {
  const spec = (pod.spec ?? {}) as PodSpec;
  const meta = pod.metadata ?? {};
  const containers = spec.containers ?? [];
  const inits = spec.initContainers ?? [];
  const { requests, nonZeroMilliCpu, nonZeroMemory } = podRequests(containers, inits, spec.overhead);
  const hostPorts: HostPort[] = [];
  for (const c of [...inits, ...containers]) {
    for (const p of c.ports ?? []) {
      if (p.hostPort && p.hostPort > 0) hostPorts.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
    }
  }
  const affinity = spec.affinity?.nodeAffinity;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return {
    key: podKey(pod),
    uid: meta.uid ?? '',
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    priority: typeof spec.priority === 'number' ? spec.priority : 0,
    requests,
    nonZeroMilliCpu,
    nonZeroMemory,
    hostPorts,
    tolerations: (spec.tolerations ?? []).map((t) => ({ key: t.key ?? '', operator: t.operator || 'Equal', value: t.value ?? '', effect: t.effect ?? '' })),
    requiredNodeMatch: compileNodeSelector(spec.nodeSelector, affinity?.requiredDuringSchedulingIgnoredDuringExecution),
    preferredNodeTerms: compilePreferredTerms(affinity?.preferredDuringSchedulingIgnoredDuringExecution),
    images: [...inits, ...containers].filter((c) => c.image).map((c) => normalizeImageName(c.image!)),
    containerCount: inits.length + containers.length,
    ownerUid: meta.ownerReferences?.find((o) => o.controller)?.uid,
    nodeName: spec.nodeName ?? '',
    schedulerName: spec.schedulerName || 'default-scheduler',
    terminating: !!meta.deletionTimestamp,
    terminal: phase === 'Succeeded' || phase === 'Failed',
  };
}

/**
 * Kubernetes' pod request: the containers' sum plus the restartable ("sidecar")
 * init containers, which keep running — or, if larger, the peak of the init
 * phase (each regular init container runs alone beside the sidecars started
 * before it) — plus the pod overhead.
 */
function podRequests(containers: Container[], inits: Container[], overhead: Record<string, string> | undefined) {
  const sum = emptyRequests();
  let nonZeroMilliCpu = 0;
  let nonZeroMemory = 0;
  for (const c of containers) {
    const r = containerRequests(c);
    add(sum, r);
    nonZeroMilliCpu += r.milliCpu || (hasRequest(c, 'cpu') ? 0 : DEFAULT_MILLI_CPU_REQUEST);
    nonZeroMemory += r.memory || (hasRequest(c, 'memory') ? 0 : DEFAULT_MEMORY_REQUEST);
  }
  const sidecars = emptyRequests();
  const initPeak = emptyRequests();
  for (const c of inits) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      add(sidecars, r);
      maxInto(initPeak, sidecars);
      continue;
    }
    const during = emptyRequests();
    add(during, sidecars);
    add(during, r);
    maxInto(initPeak, during);
  }
  add(sum, sidecars);
  maxInto(sum, initPeak);
  if (overhead) {
    const o = requestsOf(overhead);
    add(sum, o);
    nonZeroMilliCpu += o.milliCpu;
    nonZeroMemory += o.memory;
  }
  return { requests: sum, nonZeroMilliCpu: Math.max(nonZeroMilliCpu, sum.milliCpu), nonZeroMemory: Math.max(nonZeroMemory, sum.memory) };
}

function hasRequest(c: Container, name: string): boolean {
  return c.resources?.requests?.[name] !== undefined;
}

function containerRequests(c: Container): Requests {
  return requestsOf(c.resources?.requests);
}

function requestsOf(list: Record<string, string> | undefined): Requests {
  const r = emptyRequests();
  if (!list) return r;
  for (const [name, text] of Object.entries(list)) {
    const q = tryParseQuantity(text);
    if (!q) continue; // the API server validated it; nothing sensible to count
    if (name === 'cpu') r.milliCpu = toMilli(q);
    else if (name === 'memory') r.memory = toBytes(q);
    else if (name !== 'pods') (r.other ??= new Map()).set(name, toBytes(q));
  }
  return r;
}

export function emptyRequests(): Requests {
  return { milliCpu: 0, memory: 0 };
}

function add(into: Requests, r: Requests): void {
  into.milliCpu += r.milliCpu;
  into.memory += r.memory;
  if (r.other) for (const [k, v] of r.other) (into.other ??= new Map()).set(k, (into.other.get(k) ?? 0) + v);
}

function maxInto(into: Requests, r: Requests): void {
  into.milliCpu = Math.max(into.milliCpu, r.milliCpu);
  into.memory = Math.max(into.memory, r.memory);
  if (r.other) for (const [k, v] of r.other) (into.other ??= new Map()).set(k, Math.max(into.other.get(k) ?? 0, v));
}

/**
 * One spelling per image, so that a pod's `busybox` finds a node's
 * `docker.io/library/busybox:latest`: the Docker Hub defaults and the `latest`
 * tag are filled in (a digest is kept as it is).
 */
export function normalizeImageName(image: string): string {
  let name = image.trim();
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = `docker.io/${slash < 0 ? `library/${name}` : name}`;
  else if (first === 'index.docker.io') name = `docker.io/${name.slice(slash + 1)}`;
  if (name.startsWith('docker.io/') && name.indexOf('/', 'docker.io/'.length) < 0) name = `docker.io/library/${name.slice('docker.io/'.length)}`;
  if (name.includes('@')) return name;
  const lastSlash = name.lastIndexOf('/');
  if (!name.slice(lastSlash + 1).includes(':')) name += ':latest';
  return name;
}
