/**
 * A Deployment's status, from its ReplicaSets (Kubernetes' calculateStatus and
 * syncRolloutStatus): the counts `kubectl get deploy` prints (READY, UP-TO-DATE,
 * AVAILABLE), the observedGeneration `kubectl rollout status` waits for, and
 * the two conditions with Kubernetes' reasons — Available (MinimumReplicas-
 * Available / -Unavailable) and Progressing (NewReplicaSetCreated,
 * FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 * ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed).
 */
import { REPLICA_FAILURE, sameConditions } from './replica-status.js';
import { maxUnavailable } from './rollout.js';
import { availableReplicas, readyReplicas, specReplicas, stamp, statusReplicas, timeOf, type Condition, type DeploymentStatus, type DeploymentView, type ReplicaSetView } from './types.js';

export const AVAILABLE = 'Available';
export const PROGRESSING = 'Progressing';

export const Reasons = {
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  ReplicaSetCreateError: 'ReplicaSetCreateError',
  DeploymentPaused: 'DeploymentPaused',
  DeploymentResumed: 'DeploymentResumed',
} as const;

/** progressDeadlineSeconds is set (Kubernetes treats MaxInt32 as "never"). */
export function hasProgressDeadline(d: DeploymentView): boolean {
  const s = d.spec?.progressDeadlineSeconds;
  return s !== undefined && s !== null && s !== 2 ** 31 - 1;
}

export function getCondition(status: DeploymentStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: Condition['status'], reason: string, message: string, now: Date): Condition {
  const t = stamp(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Kubernetes' SetDeploymentCondition: same status and reason changes nothing; same status keeps the transition time. */
export function setCondition(status: DeploymentStatus, c: Condition): void {
  const current = getCondition(status, c.type);
  if (current && current.status === c.status && current.reason === c.reason) return;
  const next = current && current.status === c.status ? { ...c, lastTransitionTime: current.lastTransitionTime } : c;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
}

/** The counts and the Available condition (Kubernetes' calculateStatus). */
export function calculateStatus(allRSs: ReplicaSetView[], newRS: ReplicaSetView | undefined, d: DeploymentView, now: Date): DeploymentStatus {
  const available = allRSs.reduce((n, rs) => n + availableReplicas(rs), 0);
  const total = allRSs.reduce((n, rs) => n + specReplicas(rs), 0);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: allRSs.reduce((n, rs) => n + statusReplicas(rs), 0),
    updatedReplicas: newRS ? statusReplicas(newRS) : 0,
    readyReplicas: allRSs.reduce((n, rs) => n + readyReplicas(rs), 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    conditions: (d.status?.conditions ?? []).map((c) => ({ ...c })),
    ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
  };
  if (available >= specReplicas(d) - maxUnavailable(d)) {
    setCondition(status, newCondition(AVAILABLE, 'True', Reasons.MinimumReplicasAvailable, 'Deployment has minimum availability.', now));
  } else {
    setCondition(status, newCondition(AVAILABLE, 'False', Reasons.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.', now));
  }
  return status;
}

/** Every replica updated and available, and the current spec observed. */
export function deploymentComplete(d: DeploymentView, s: DeploymentStatus): boolean {
  const r = specReplicas(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
}

function deploymentProgressing(d: DeploymentView, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

function timedOut(d: DeploymentView, s: DeploymentStatus, now: Date): boolean {
  const c = getCondition(s, PROGRESSING);
  if (!hasProgressDeadline(d) || !c || c.reason === Reasons.NewReplicaSetAvailable) return false;
  if (c.reason === Reasons.ProgressDeadlineExceeded) return true;
  return timeOf(c.lastUpdateTime) + d.spec!.progressDeadlineSeconds! * 1000 < now.getTime();
}

/**
 * The status to write at the end of a rollout step (Kubernetes'
 * syncRolloutStatus), and when to look again if the rollout could time out
 * before anything else happens.
 */
export function rolloutStatus(allRSs: ReplicaSetView[], newRS: ReplicaSetView | undefined, d: DeploymentView, now: Date): { status: DeploymentStatus; recheckAfterMs?: number } {
  const status = calculateStatus(allRSs, newRS, d, now);
  if (!hasProgressDeadline(d)) removeCondition(status, PROGRESSING);
  const current = getCondition(d.status, PROGRESSING);
  const complete = status.replicas === status.updatedReplicas && current?.reason === Reasons.NewReplicaSetAvailable;
  const name = newRS?.metadata?.name;
  if (hasProgressDeadline(d) && !complete) {
    if (deploymentComplete(d, status)) {
      const msg = name ? `ReplicaSet "${name}" has successfully progressed.` : `Deployment "${d.metadata?.name}" has successfully progressed.`;
      setCondition(status, newCondition(PROGRESSING, 'True', Reasons.NewReplicaSetAvailable, msg, now));
    } else if (deploymentProgressing(d, status)) {
      const msg = name ? `ReplicaSet "${name}" is progressing.` : `Deployment "${d.metadata?.name}" is progressing.`;
      // Progress moves lastUpdateTime even with the same reason (the deadline counts from it).
      const c = newCondition(PROGRESSING, 'True', Reasons.ReplicaSetUpdated, msg, now);
      if (current?.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
      removeCondition(status, PROGRESSING);
      setCondition(status, c);
    } else if (timedOut(d, status, now)) {
      const msg = name ? `ReplicaSet "${name}" has timed out progressing.` : `Deployment "${d.metadata?.name}" has timed out progressing.`;
      setCondition(status, newCondition(PROGRESSING, 'False', Reasons.ProgressDeadlineExceeded, msg, now));
    }
  }
  const failure = replicaFailure(allRSs, newRS);
  if (failure) setCondition(status, { ...failure, lastUpdateTime: failure.lastTransitionTime });
  else removeCondition(status, REPLICA_FAILURE);
  return { status, recheckAfterMs: stuckRecheck(d, status, now) };
}

/** A ReplicaSet's failure to create or delete pods, the new one's first. */
function replicaFailure(allRSs: ReplicaSetView[], newRS: ReplicaSetView | undefined): Condition | undefined {
  const order = newRS ? [newRS, ...allRSs.filter((rs) => rs !== newRS)] : allRSs;
  for (const rs of order) {
    const c = rs.status?.conditions?.find((x) => x.type === REPLICA_FAILURE && x.status === 'True');
    if (c) return { ...c };
  }
  return undefined;
}

/** Kubernetes' requeueStuckDeployment: when an unfinished rollout would pass its deadline. */
function stuckRecheck(d: DeploymentView, s: DeploymentStatus, now: Date): number | undefined {
  const c = getCondition(s, PROGRESSING);
  if (!hasProgressDeadline(d) || !c || c.reason === Reasons.ProgressDeadlineExceeded || deploymentComplete(d, s)) return undefined;
  if (c.reason === Reasons.NewReplicaSetAvailable) return undefined;
  const after = timeOf(c.lastUpdateTime) + d.spec!.progressDeadlineSeconds! * 1000 - now.getTime();
  return Math.max(0, after) + 1000;
}

/**
 * The Progressing condition a pause or resume sets (Kubernetes'
 * checkPausedConditions); undefined when nothing changes.
 */
export function pausedCondition(d: DeploymentView, now: Date): Condition | undefined {
  if (!hasProgressDeadline(d)) return undefined;
  const c = getCondition(d.status, PROGRESSING);
  if (c?.reason === Reasons.ProgressDeadlineExceeded) return undefined;
  const pausedNoted = c?.reason === Reasons.DeploymentPaused;
  if (d.spec?.paused && !pausedNoted) return newCondition(PROGRESSING, 'Unknown', Reasons.DeploymentPaused, 'Deployment is paused', now);
  if (!d.spec?.paused && pausedNoted) return newCondition(PROGRESSING, 'Unknown', Reasons.DeploymentResumed, 'Deployment is resumed', now);
  return undefined;
}

const COUNTS = ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'collisionCount'] as const;

/** The same status (absent counts are 0). */
export function sameDeploymentStatus(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  const x = a ?? {};
  if (COUNTS.some((k) => (x[k] ?? 0) !== (b[k] ?? 0))) return false;
  return sameConditions(x.conditions, b.conditions);
}
