/**
 * What the replica controllers need to know about pods: which ones count
 * (active), which are ready and available, and which to delete first when there
 * are too many — Kubernetes' ActivePodsWithRanks order, so that a scale-down
 * takes the pods that serve least: unscheduled before scheduled, pending before
 * running, not ready before ready, cheaper (pod-deletion-cost) first, pods on
 * crowded nodes first, ready for a shorter time first, more restarts first,
 * newer first.
 */
import type { KObject, OwnerReference } from '../../lib/api/resources.js';
import { timeOf, type PodTemplate, type PodView } from './types.js';

/** The annotation that lets users say which pods to delete first (lower goes first). */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** Counts toward the replicas: not finished and not being deleted (a lost node's pods, once evicted, are not). */
export function isPodActive(pod: PodView): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

function readyCondition(pod: PodView) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: PodView): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** When the pod last became ready (ms since the epoch), 0 when unknown or not ready. */
export function readySince(pod: PodView): number {
  const c = readyCondition(pod);
  return c?.status === 'True' ? timeOf(c.lastTransitionTime) : 0;
}

/** Ready for at least minReadySeconds. */
export function isPodAvailable(pod: PodView, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = readySince(pod);
  return since > 0 && since + minReadySeconds * 1000 <= now;
}

/**
 * How long until a ready pod becomes available (ms), for a timely look again;
 * undefined when it is not ready or already available.
 */
export function msUntilAvailable(pod: PodView, minReadySeconds: number, now: number): number | undefined {
  if (minReadySeconds <= 0 || !isPodReady(pod)) return undefined;
  const since = readySince(pod);
  if (since <= 0) return undefined;
  const left = since + minReadySeconds * 1000 - now;
  return left > 0 ? left : undefined;
}

function maxRestarts(pod: PodView): number {
  let max = 0;
  for (const c of pod.status?.containerStatuses ?? []) max = Math.max(max, c.restartCount ?? 0);
  return max;
}

function deletionCost(pod: PodView): number {
  const v = Number(pod.metadata?.annotations?.[POD_DELETION_COST]);
  return Number.isInteger(v) ? v : 0;
}

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

type Ranked = { pod: PodView; rank: number };

/** Negative when `a` should be deleted before `b`. */
function compareForDeletion(a: Ranked, b: Ranked): number {
  const pa = a.pod;
  const pb = b.pod;
  const na = pa.spec?.nodeName ?? '';
  const nb = pb.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const phase = (PHASE_ORDER[pa.status?.phase ?? ''] ?? 0) - (PHASE_ORDER[pb.status?.phase ?? ''] ?? 0);
  if (phase !== 0) return phase;
  const ra = isPodReady(pa);
  const rb = isPodReady(pb);
  if (ra !== rb) return ra ? 1 : -1;
  const cost = deletionCost(pa) - deletionCost(pb);
  if (cost !== 0) return cost;
  if (a.rank !== b.rank) return b.rank - a.rank;
  if (ra && rb) {
    // Ready for a shorter time goes first; an unknown time counts as the shortest.
    const ta = readySince(pa);
    const tb = readySince(pb);
    if (ta !== tb) return afterOrZero(ta, tb) ? -1 : 1;
  }
  const restarts = maxRestarts(pb) - maxRestarts(pa);
  if (restarts !== 0) return restarts;
  const ca = timeOf(pa.metadata?.creationTimestamp);
  const cb = timeOf(pb.metadata?.creationTimestamp);
  if (ca !== cb) return afterOrZero(ca, cb) ? -1 : 1;
  // Same second: keep the order stable (Kubernetes leaves it arbitrary).
  const ka = pa.metadata?.name ?? '';
  const kb = pb.metadata?.name ?? '';
  return ka < kb ? 1 : ka > kb ? -1 : 0;
}

/** Kubernetes' afterOrZero: a zero time is "after" everything. */
function afterOrZero(a: number, b: number): boolean {
  if (a === 0 || b === 0) return a === 0;
  return a > b;
}

/**
 * The `count` pods to delete out of `pods`, worst first. `related` are all the
 * pods of the owner's family (for a Deployment's ReplicaSet, its siblings' pods
 * too): a pod on a node that holds more of them goes first, spreading what stays.
 */
export function podsToDelete(pods: PodView[], related: PodView[], count: number): PodView[] {
  if (count <= 0) return [];
  if (count >= pods.length) return [...pods];
  const perNode = new Map<string, number>();
  for (const p of related) {
    if (!isPodActive(p)) continue;
    const n = p.spec?.nodeName ?? '';
    perNode.set(n, (perNode.get(n) ?? 0) + 1);
  }
  return pods
    .map((pod) => ({ pod, rank: perNode.get(pod.spec?.nodeName ?? '') ?? 0 }))
    .sort(compareForDeletion)
    .slice(0, count)
    .map((r) => r.pod);
}

/** The pod an owner's template makes (Kubernetes' GetPodFromTemplate), owned by `ownerRef`. */
export function podFromTemplate(
  template: PodTemplate,
  ownerName: string,
  namespace: string,
  ownerRef: OwnerReference,
): KObject {
  const meta = template.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${ownerName}-`,
      namespace,
      ...(meta.labels ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers?.length ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [ownerRef],
    },
    spec: structuredClone(template.spec ?? {}),
  };
}
