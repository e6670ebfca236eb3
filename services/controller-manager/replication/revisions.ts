/**
 * A Deployment's revision history lives in annotations, as in Kubernetes:
 * each ReplicaSet carries the revision it was last rolled out as
 * (`deployment.kubernetes.io/revision`, plus the earlier ones in
 * `revision-history` when a rollback reused it), the Deployment carries its
 * current one, and each ReplicaSet remembers the Deployment's size it was
 * scaled for (`desired-replicas`, `max-replicas`) for proportional scaling.
 * `kubectl rollout history` and `rollout undo` read these.
 */
import { timeOf, type DeploymentView, type ReplicaSetView } from './types.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';

/** Deployment annotations that are not copied to its ReplicaSets. */
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);

/** Longest revision-history annotation (Kubernetes' default maxRevHistoryLengthInChars). */
const MAX_HISTORY_CHARS = 2000;

export function revisionOf(rs: ReplicaSetView | DeploymentView): number {
  const n = Number(rs.metadata?.annotations?.[REVISION] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function maxRevision(rss: ReplicaSetView[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** Oldest revision first (then oldest ReplicaSet first): the order old ReplicaSets are cleaned up in. */
export function byRevision(a: ReplicaSetView, b: ReplicaSetView): number {
  const d = revisionOf(a) - revisionOf(b);
  return d !== 0 ? d : timeOf(a.metadata?.creationTimestamp) - timeOf(b.metadata?.creationTimestamp);
}

/** Copies the Deployment's own annotations onto the ReplicaSet; true when something changed. */
function copyAnnotations(d: DeploymentView, rs: ReplicaSetView): boolean {
  const target = (rs.metadata!.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (NOT_COPIED.has(k) || target[k] === v) continue;
    target[k] = v;
    changed = true;
  }
  return changed;
}

/** Sets desired-replicas and max-replicas; true when they changed. */
export function setReplicasAnnotations(rs: ReplicaSetView, desired: number, max: number): boolean {
  const a = (rs.metadata!.annotations ??= {});
  if (a[DESIRED_REPLICAS] === String(desired) && a[MAX_REPLICAS] === String(max)) return false;
  a[DESIRED_REPLICAS] = String(desired);
  a[MAX_REPLICAS] = String(max);
  return true;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSetView, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations ?? {};
  return a[DESIRED_REPLICAS] !== String(desired) || a[MAX_REPLICAS] !== String(max);
}

/** The desired-replicas annotation, when it is there and readable. */
export function desiredReplicasOf(rs: ReplicaSetView): number | undefined {
  const v = rs.metadata?.annotations?.[DESIRED_REPLICAS];
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) ? n : undefined;
}

export function maxReplicasOf(rs: ReplicaSetView): number | undefined {
  const v = rs.metadata?.annotations?.[MAX_REPLICAS];
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) ? n : undefined;
}

/**
 * Kubernetes' SetNewReplicaSetAnnotations (in place): the Deployment's
 * annotations, the new revision (only ever raised: a rollback to an old
 * template moves its ReplicaSet's revision up and keeps the old number in the
 * history), and for a ReplicaSet about to be created the replica annotations.
 * True when the ReplicaSet changed.
 */
export function setNewReplicaSetAnnotations(d: DeploymentView, rs: ReplicaSetView, newRevision: number, exists: boolean, sizes: { desired: number; max: number }): boolean {
  let changed = copyAnnotations(d, rs);
  const a = rs.metadata!.annotations!;
  const oldText = a[REVISION];
  const old = oldText === undefined || oldText === '' ? 0 : Number(oldText);
  if (!Number.isInteger(old)) return changed;
  if (old < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (oldText) {
      const history = a[REVISION_HISTORY] ? a[REVISION_HISTORY].split(',') : [];
      history.push(oldText);
      while (history.join(',').length > MAX_HISTORY_CHARS && history.length > 1) history.shift();
      a[REVISION_HISTORY] = history.join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, sizes.desired, sizes.max)) changed = true;
  return changed;
}
