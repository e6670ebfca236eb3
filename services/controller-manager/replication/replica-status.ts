/**
 * The status a ReplicaSet or ReplicationController reports, from the active
 * pods it owns (Kubernetes' calculateStatus): how many exist, carry all the
 * template's labels, are ready, and have been ready for minReadySeconds; plus a
 * ReplicaFailure condition while creating or deleting pods fails.
 */
import { fromLabelSelectorSpec, type Selector } from '../../lib/selectors/index.js';
import { isPodAvailable, isPodReady } from './pods.js';
import { stamp, type Condition, type PodView, type ReplicaSetView, type ReplicaStatus } from './types.js';

export const REPLICA_FAILURE = 'ReplicaFailure';

function templateMatches(rs: ReplicaSetView): (pod: PodView) => boolean {
  const labels = rs.spec?.template?.metadata?.labels ?? {};
  return (pod) => Object.entries(labels).every(([k, v]) => pod.metadata?.labels?.[k] === v);
}

/**
 * The new status. `pods` are the active pods the owner controls after this
 * sync (the ones it just deleted left out); `manageError` is what went wrong
 * creating or deleting, if anything.
 */
export function calculateReplicaStatus(rs: ReplicaSetView, pods: PodView[], manageError: unknown, now: Date): ReplicaStatus {
  const minReady = rs.spec?.minReadySeconds ?? 0;
  const fullyLabeled = templateMatches(rs);
  let labeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    if (fullyLabeled(p)) labeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now.getTime())) available++;
    }
  }
  let conditions = (rs.status?.conditions ?? []).map((c) => ({ ...c }));
  const failure = conditions.find((c) => c.type === REPLICA_FAILURE);
  if (manageError && !failure) {
    const diff = pods.length - (rs.spec?.replicas ?? 1);
    const cond: Condition = {
      type: REPLICA_FAILURE,
      status: 'True',
      reason: diff < 0 ? 'FailedCreate' : 'FailedDelete',
      message: manageError instanceof Error ? manageError.message : String(manageError),
      lastTransitionTime: stamp(now),
    };
    conditions.push(cond);
  } else if (!manageError && failure) {
    conditions = conditions.filter((c) => c.type !== REPLICA_FAILURE);
  }
  return {
    replicas: pods.length,
    fullyLabeledReplicas: labeled,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata?.generation ?? 0,
    ...(conditions.length ? { conditions } : {}),
  };
}

/** Nothing to write: the counts, the observed generation and the conditions are what is stored. */
export function sameReplicaStatus(a: ReplicaStatus | undefined, b: ReplicaStatus): boolean {
  const x = a ?? {};
  const counts = ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'] as const;
  if (counts.some((k) => (x[k] ?? 0) !== (b[k] ?? 0))) return false;
  return sameConditions(x.conditions, b.conditions);
}

const CONDITION_FIELDS = ['type', 'status', 'reason', 'message', 'lastTransitionTime', 'lastUpdateTime'] as const;

/** Same conditions in the same order, field by field (absent and '' alike). */
export function sameConditions(a: Condition[] | undefined, b: Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((c, i) => CONDITION_FIELDS.every((f) => (c[f] ?? '') === (y[i]![f] ?? '')));
}

/** The ReplicationController's map selector; an empty map selects nothing here (validation never lets one through). */
export function mapSelector(selector: Record<string, string> | undefined): Selector {
  if (!selector || Object.keys(selector).length === 0) return { requirements: [], matches: () => false };
  return fromLabelSelectorSpec({ matchLabels: selector });
}
