/**
 * The arithmetic of a Deployment's rollout, as Kubernetes' deployment util
 * does it, in pure functions: how far maxSurge and maxUnavailable reach
 * (percentages rounded up for the surge, down for unavailability), how big the
 * new ReplicaSet may grow, which old ReplicaSets shrink by how much, and how a
 * change of spec.replicas spreads over the ReplicaSets in proportion.
 *
 * Two deliberate tightenings over Kubernetes, because a ReplicaSet's status
 * lags its spec by one trip through its controller: an old ReplicaSet counts as
 * having max(spec.replicas, status.replicas) pods when the surge is measured
 * (its extra pods may not be gone yet), and at most min(spec.replicas,
 * status.availableReplicas) available ones (a shrink it has not acted on yet
 * still takes those pods away). So the pods never exceed replicas + maxSurge
 * and the available ones never drop under replicas − maxUnavailable, however
 * the controllers' syncs interleave.
 */
import { desiredReplicasOf, maxReplicasOf } from './revisions.js';
import { byCreation, specReplicas, type DeploymentView, type IntOrPercent, type ReplicaSetView } from './types.js';

export const RECREATE = 'Recreate';
export const ROLLING_UPDATE = 'RollingUpdate';

/** An int, or `N%` of `total` rounded up or down. */
export function scaledValue(v: IntOrPercent | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    if (Number.isInteger(n)) return n;
    throw new Error(`invalid value for IntOrString: invalid value "${v}": must be an integer or a percentage`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export function isRollingUpdate(d: DeploymentView): boolean {
  return (d.spec?.strategy?.type ?? ROLLING_UPDATE) === ROLLING_UPDATE;
}

/** Kubernetes' ResolveFenceposts: surge rounds up, unavailable down, and both 0 means 1 unavailable. */
export function resolveFenceposts(maxSurge: IntOrPercent | undefined, maxUnavailable: IntOrPercent | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: DeploymentView): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, specReplicas(d)).surge;
}

export function maxUnavailable(d: DeploymentView): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return Math.min(replicas, resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, replicas).unavailable);
}

/** Pods a ReplicaSet may have right now: its spec, or more while a shrink is under way. */
function podsOf(rs: ReplicaSetView): number {
  return Math.max(specReplicas(rs), rs.status?.replicas ?? 0);
}

/** Available pods a ReplicaSet is sure to keep: its status, capped by a shrink not yet acted on. */
export function availableOf(rs: ReplicaSetView): number {
  return Math.min(specReplicas(rs), rs.status?.availableReplicas ?? 0);
}

export const sumSpec = (rss: ReplicaSetView[]) => rss.reduce((n, rs) => n + specReplicas(rs), 0);
export const sumAvailable = (rss: ReplicaSetView[]) => rss.reduce((n, rs) => n + availableOf(rs), 0);
export const active = (rss: ReplicaSetView[]) => rss.filter((rs) => specReplicas(rs) > 0);

/** The size the new ReplicaSet may have now (Kubernetes' NewRSNewReplicas). */
export function newRSNewReplicas(d: DeploymentView, allRSs: ReplicaSetView[], newRS: ReplicaSetView): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const current = allRSs.reduce((n, rs) => n + (rs === newRS ? specReplicas(rs) : podsOf(rs)), 0);
  const maxTotal = replicas + maxSurge(d);
  if (current >= maxTotal) return specReplicas(newRS);
  return specReplicas(newRS) + Math.max(0, Math.min(maxTotal - current, replicas - specReplicas(newRS)));
}

/** One ReplicaSet resize. */
export type ScaleStep = { rs: ReplicaSetView; replicas: number };

/**
 * How much the old ReplicaSets shrink now (Kubernetes' reconcileOldReplicaSets):
 * first the unavailable pods of old ReplicaSets, within what the new
 * ReplicaSet's unavailable pods leave room for; then available ones, oldest
 * ReplicaSet first, as far as replicas − maxUnavailable stays available.
 */
export function planOldScaleDown(d: DeploymentView, oldRSs: ReplicaSetView[], newRS: ReplicaSetView): ScaleStep[] {
  const olds = [...oldRSs].sort(byCreation);
  const size = new Map(olds.map((rs) => [rs, specReplicas(rs)]));
  if (sumSpec(olds) === 0) return [];
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const newUnavailable = Math.max(0, specReplicas(newRS) - availableOf(newRS));
  const maxScaledDown = sumSpec(olds) + specReplicas(newRS) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];
  // Unhealthy pods first: taking them costs no availability.
  let cleaned = 0;
  for (const rs of olds) {
    if (cleaned >= maxScaledDown) break;
    const spec = size.get(rs)!;
    const unhealthy = spec - availableOf(rs);
    if (spec === 0 || unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    size.set(rs, spec - n);
    cleaned += n;
  }
  // Then healthy ones, down to the minimum availability.
  const available = olds.reduce((n, rs) => n + Math.min(size.get(rs)!, availableOf(rs)), 0) + availableOf(newRS);
  let toScale = available - minAvailable;
  for (const rs of olds) {
    if (toScale <= 0) break;
    const spec = size.get(rs)!;
    if (spec === 0) continue;
    const n = Math.min(spec, toScale);
    size.set(rs, spec - n);
    toScale -= n;
  }
  return olds.filter((rs) => size.get(rs) !== specReplicas(rs)).map((rs) => ({ rs, replicas: size.get(rs)! }));
}

/** The one ReplicaSet with replicas, or the newest when none has any (Kubernetes' FindActiveOrLatest). */
export function findActiveOrLatest(newRS: ReplicaSetView | undefined, oldRSs: ReplicaSetView[]): ReplicaSetView | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const newestFirst = [...oldRSs].sort((a, b) => byCreation(b, a));
  const all = active([...newestFirst, ...(newRS ? [newRS] : [])]);
  if (all.length === 0) return newRS ?? newestFirst[0];
  return all.length === 1 ? all[0] : undefined;
}

/** The new ReplicaSet has every replica, and knows it (Kubernetes' IsSaturated). */
export function isSaturated(d: DeploymentView, newRS: ReplicaSetView | undefined): boolean {
  if (!newRS) return false;
  const replicas = specReplicas(d);
  return specReplicas(newRS) === replicas && desiredReplicasOf(newRS) === replicas && (newRS.status?.availableReplicas ?? 0) === replicas;
}

/** spec.replicas changed since the active ReplicaSets were last sized (Kubernetes' isScalingEvent). */
export function isScalingEvent(d: DeploymentView, allRSs: ReplicaSetView[]): boolean {
  return active(allRSs).some((rs) => {
    const desired = desiredReplicasOf(rs);
    return desired !== undefined && desired !== specReplicas(d);
  });
}

/**
 * A scale of the Deployment outside a rollout (Kubernetes' scale()): the one
 * active ReplicaSet takes the whole size; a saturated new one means the old
 * ones go to 0; otherwise, in a rolling update, the difference is spread over
 * the active ReplicaSets in proportion to their size, leftovers to the biggest.
 * Steps may keep a size: each also brings the ReplicaSet's replica annotations
 * up to date, which is what ends the scaling event.
 */
export function planScale(d: DeploymentView, newRS: ReplicaSetView | undefined, oldRSs: ReplicaSetView[]): ScaleStep[] {
  const replicas = specReplicas(d);
  const only = findActiveOrLatest(newRS, oldRSs);
  if (only) return [{ rs: only, replicas }];
  if (isSaturated(d, newRS)) return active(oldRSs).map((rs) => ({ rs, replicas: 0 }));
  if (!isRollingUpdate(d)) return [];
  const all = active([...oldRSs, ...(newRS ? [newRS] : [])]);
  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
  const toAdd = allowed - sumSpec(all);
  // Bigger first; on a tie, newer first when growing, older first when shrinking.
  all.sort((a, b) => {
    const s = specReplicas(b) - specReplicas(a);
    if (s !== 0) return s;
    return toAdd > 0 ? byCreation(b, a) : byCreation(a, b);
  });
  let added = 0;
  const size = new Map<ReplicaSetView, number>();
  for (const rs of all) {
    const p = proportion(rs, d, toAdd, added);
    size.set(rs, specReplicas(rs) + p);
    added += p;
  }
  const first = all[0];
  if (first && toAdd !== 0) size.set(first, Math.max(0, size.get(first)! + toAdd - added));
  return all.map((rs) => ({ rs, replicas: size.get(rs)! }));
}

/** Kubernetes' GetReplicaSetProportion. */
function proportion(rs: ReplicaSetView, d: DeploymentView, toAdd: number, added: number): number {
  if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const allowed = toAdd - added;
  const fraction = fractionOf(rs, d);
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

function fractionOf(rs: ReplicaSetView, d: DeploymentView): number {
  const replicas = specReplicas(d);
  if (replicas === 0) return -specReplicas(rs);
  const deploymentReplicas = replicas + maxSurge(d);
  const annotated = maxReplicasOf(rs) ?? d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  return roundHalfAway((specReplicas(rs) * deploymentReplicas) / annotated) - specReplicas(rs);
}

/** Go's math.Round: halves away from zero. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}
