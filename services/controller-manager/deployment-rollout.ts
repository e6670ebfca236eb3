/**
 * One sync of one Deployment (Kubernetes' syncDeployment and the rollout
 * strategies): claim its ReplicaSets, then either resize them for a scale or a
 * paused Deployment, or roll — RollingUpdate grows the new ReplicaSet within
 * maxSurge and shrinks the old ones within maxUnavailable, Recreate takes the
 * old ones to 0, waits for their pods to be gone, then grows the new one — and
 * finally write the status. The arithmetic is in ./replication; this file does
 * the reads and writes. Each write is a compare-and-swap on the version the
 * sync read (a conflict means someone else moved: the sync is retried), and
 * the sync waits until the informer shows its own write, so the next sync
 * never decides on a cache older than what it did.
 */
import { resourceForKind, type KObject } from '../lib/api/resources.js';
import type { KeelsonClient } from '../lib/client/index.js';
import type { SyncResult } from '../lib/controller/index.js';
import { isAlreadyExists, isNotFound } from '../lib/errors/index.js';
import type { EventRecorder } from '../lib/events/index.js';
import type { Informer } from '../lib/informer/index.js';
import { fromLabelSelectorSpec } from '../lib/selectors/index.js';
import {
  active,
  byCreation,
  byRevision,
  calculateStatus,
  claimObjects,
  computeTemplateHash,
  controllerRefOf,
  controllerRefTo,
  deploymentComplete,
  equalIgnoreHash,
  getCondition,
  hasProgressDeadline,
  isEmptySelector,
  isNamespaceTerminating,
  isScalingEvent,
  maxRevision,
  maxSurge,
  newCondition,
  newRSNewReplicas,
  pausedCondition,
  planOldScaleDown,
  planScale,
  PROGRESSING,
  Reasons,
  RECREATE,
  replicasAnnotationsNeedUpdate,
  REVISION,
  revisionOf,
  rolloutStatus,
  sameDeploymentStatus,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicas,
  statusReplicas,
  withHashLabel,
  type DeploymentStatus,
  type DeploymentView,
  type PodView,
  type ReplicaSetView,
} from './replication/index.js';

const DEPLOYMENTS = resourceForKind('Deployment')!;
const REPLICA_SETS = resourceForKind('ReplicaSet')!;
const PODS = resourceForKind('Pod')!;

export type RolloutDeps = {
  client: KeelsonClient;
  deployments: Informer;
  replicaSets: Informer;
  pods: Informer;
  recorder: EventRecorder;
  log: (message: string) => void;
};

type ReplicaSets = { newRS?: ReplicaSetView; oldRSs: ReplicaSetView[] };

export class DeploymentRollout {
  private d: DeploymentView;

  constructor(
    private readonly deps: RolloutDeps,
    deployment: DeploymentView,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.d = structuredClone(deployment);
  }

  async sync(): Promise<SyncResult> {
    if (isEmptySelector(this.d.spec?.selector)) {
      this.deps.recorder.event(this.d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((this.d.status?.observedGeneration ?? 0) < (this.d.metadata?.generation ?? 0)) {
        await this.writeStatus({ ...this.d.status, observedGeneration: this.d.metadata?.generation });
      }
      return;
    }
    const rsList = await this.claimReplicaSets();
    if (this.d.metadata?.deletionTimestamp) return this.syncStatusOnly(rsList);
    const paused = pausedCondition(this.d, this.now());
    if (paused) {
      const status = structuredClone(this.d.status ?? {});
      setCondition(status, paused);
      await this.writeStatus(status);
    }
    if (this.d.spec?.paused) return this.syncScale(rsList);
    const { newRS, oldRSs } = this.findReplicaSets(rsList);
    if (isScalingEvent(this.d, [...oldRSs, ...(newRS ? [newRS] : [])])) return this.syncScale(rsList);
    return this.d.spec?.strategy?.type === RECREATE ? this.recreate(rsList) : this.rollingUpdate(rsList);
  }

  // ---------------------------------------------------------------- strategies

  private async rollingUpdate(rsList: ReplicaSetView[]): Promise<SyncResult> {
    const sets = await this.syncRevision(rsList, true);
    let newRS = sets.newRS!;
    const oldRSs = sets.oldRSs;
    const all = () => [...oldRSs, newRS];
    const replicas = specReplicas(this.d);
    if (specReplicas(newRS) !== replicas) {
      const target = specReplicas(newRS) > replicas ? replicas : newRSNewReplicas(this.d, all(), newRS);
      const r = await this.scaleReplicaSet(newRS, target);
      newRS = r.rs;
      if (r.scaled) return this.syncRolloutStatus(all(), newRS);
    }
    const steps = planOldScaleDown(this.d, active(oldRSs), newRS);
    for (const step of steps) await this.applyStep(step.rs, step.replicas, oldRSs);
    if (steps.length === 0 && deploymentComplete(this.d, this.d.status ?? {})) await this.cleanup(oldRSs);
    return this.syncRolloutStatus(all(), newRS);
  }

  private async recreate(rsList: ReplicaSetView[]): Promise<SyncResult> {
    // The new ReplicaSet is not created yet: nothing may grow before the old pods are gone.
    let { newRS, oldRSs } = await this.syncRevision(rsList, false);
    const all = () => [...oldRSs, ...(newRS ? [newRS] : [])];
    let scaledDown = false;
    for (const rs of active(oldRSs)) scaledDown = (await this.applyStep(rs, 0, oldRSs)) || scaledDown;
    if (scaledDown || this.oldPodsRunning(newRS, oldRSs, rsList)) return this.syncRolloutStatus(all(), newRS);
    if (!newRS) ({ newRS, oldRSs } = await this.syncRevision(rsList, true));
    newRS = (await this.scaleReplicaSet(newRS!, specReplicas(this.d))).rs;
    if (deploymentComplete(this.d, this.d.status ?? {})) await this.cleanup(oldRSs);
    return this.syncRolloutStatus(all(), newRS);
  }

  /** Old ReplicaSets still have pods, or pods of theirs are still there (terminating ones too). */
  private oldPodsRunning(newRS: ReplicaSetView | undefined, oldRSs: ReplicaSetView[], rsList: ReplicaSetView[]): boolean {
    if (oldRSs.some((rs) => statusReplicas(rs) > 0)) return true;
    const selector = fromLabelSelectorSpec(this.d.spec?.selector);
    const olds = new Set(rsList.map((rs) => rs.metadata!.uid!).filter((uid) => uid !== newRS?.metadata?.uid));
    return (this.deps.pods.list(PODS, this.d.metadata?.namespace) as PodView[]).some((p) => {
      const ref = controllerRefOf(p);
      const phase = p.status?.phase;
      return !!ref && olds.has(ref.uid) && selector.matches(p.metadata?.labels) && phase !== 'Succeeded' && phase !== 'Failed';
    });
  }

  /** A scale, or a paused Deployment: resize, never roll (Kubernetes' sync). */
  private async syncScale(rsList: ReplicaSetView[]): Promise<SyncResult> {
    const { newRS, oldRSs } = await this.syncRevision(rsList, false);
    let current = newRS;
    for (const step of planScale(this.d, newRS, oldRSs)) {
      if (step.rs === current) current = (await this.scaleReplicaSet(step.rs, step.replicas)).rs;
      else await this.applyStep(step.rs, step.replicas, oldRSs);
    }
    if (this.d.spec?.paused) await this.cleanup(oldRSs);
    return this.syncStatus([...oldRSs, ...(current ? [current] : [])], current);
  }

  private async syncStatusOnly(rsList: ReplicaSetView[]): Promise<SyncResult> {
    const { newRS, oldRSs } = await this.syncRevision(rsList, false);
    return this.syncStatus([...oldRSs, ...(newRS ? [newRS] : [])], newRS);
  }

  // ---------------------------------------------------------------- ReplicaSets

  private async claimReplicaSets(): Promise<ReplicaSetView[]> {
    const all = this.deps.replicaSets.list(REPLICA_SETS, this.d.metadata?.namespace) as ReplicaSetView[];
    const selector = fromLabelSelectorSpec(this.d.spec?.selector);
    return claimObjects({ client: this.deps.client, owner: this.d, ownerResource: DEPLOYMENTS, selector, resource: REPLICA_SETS }, all);
  }

  /** The ReplicaSet with the current template (the oldest such), and the others. */
  private findReplicaSets(rsList: ReplicaSetView[]): ReplicaSets {
    const sorted = [...rsList].sort(byCreation);
    const newRS = sorted.find((rs) => equalIgnoreHash(rs.spec?.template, this.d.spec?.template));
    return { newRS, oldRSs: sorted.filter((rs) => rs !== newRS) };
  }

  /**
   * Kubernetes' getAllReplicaSetsAndSyncRevision: the new ReplicaSet gets the
   * next revision (and the Deployment says it), or is created when asked to.
   */
  private async syncRevision(rsList: ReplicaSetView[], create: boolean): Promise<ReplicaSets> {
    const { newRS: existing, oldRSs } = this.findReplicaSets(rsList);
    const newRevision = maxRevision(oldRSs) + 1;
    if (existing) {
      const copy = structuredClone(existing);
      const changed = setNewReplicaSetAnnotations(this.d, copy, newRevision, true, this.sizes());
      const minReady = this.d.spec?.minReadySeconds ?? 0;
      if (changed || (copy.spec?.minReadySeconds ?? 0) !== minReady) {
        copy.spec = { ...copy.spec, minReadySeconds: minReady };
        return { newRS: await this.writeReplicaSet(copy), oldRSs };
      }
      await this.setRevision(revisionOf(copy));
      if (hasProgressDeadline(this.d) && !getCondition(this.d.status, PROGRESSING)) {
        const status = structuredClone(this.d.status ?? {});
        setCondition(status, newCondition(PROGRESSING, 'True', Reasons.FoundNewReplicaSet, `Found new replica set "${copy.metadata!.name}"`, this.now()));
        await this.writeStatus(status);
      }
      return { newRS: copy, oldRSs };
    }
    if (!create) return { oldRSs };
    const created = await this.createNewReplicaSet(oldRSs, newRevision);
    return { newRS: created, oldRSs };
  }

  private async createNewReplicaSet(oldRSs: ReplicaSetView[], revision: number): Promise<ReplicaSetView> {
    const d = this.d;
    const template = structuredClone(d.spec?.template ?? {});
    const hash = computeTemplateHash(template, d.status?.collisionCount);
    const labels = withHashLabel(template.metadata?.labels, hash);
    const selector = d.spec!.selector!;
    const rs: ReplicaSetView = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata!.name}-${hash}`, namespace: d.metadata!.namespace, labels, ownerReferences: [controllerRefTo(d)] },
      spec: {
        replicas: 0,
        minReadySeconds: d.spec?.minReadySeconds ?? 0,
        selector: { ...selector, matchLabels: withHashLabel(selector.matchLabels, hash) },
        template: { ...template, metadata: { ...template.metadata, labels } },
      },
    };
    rs.spec!.replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    setNewReplicaSetAnnotations(d, rs, revision, false, this.sizes());
    let created: ReplicaSetView;
    let existed = false;
    try {
      created = await this.deps.client.create(rs);
      await this.caughtUp(this.deps.replicaSets, created);
    } catch (e) {
      if (isAlreadyExists(e)) {
        // A slow cache, or another template with the same hash.
        const found = (await this.deps.client.get(REPLICA_SETS, rs.metadata!.namespace, rs.metadata!.name!)) as ReplicaSetView;
        if (controllerRefOf(found)?.uid !== d.metadata?.uid || !equalIgnoreHash(found.spec?.template, d.spec?.template)) {
          await this.writeStatus({ ...structuredClone(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 });
          throw e;
        }
        created = found;
        existed = true;
      } else {
        if (!isNamespaceTerminating(e)) {
          const msg = `Failed to create new replica set "${rs.metadata!.name}": ${(e as Error).message}`;
          if (hasProgressDeadline(d)) {
            const status = structuredClone(d.status ?? {});
            setCondition(status, newCondition(PROGRESSING, 'False', Reasons.ReplicaSetCreateError, msg, this.now()));
            await this.writeStatus(status).catch(() => undefined);
          }
          this.deps.recorder.event(d, 'Warning', Reasons.ReplicaSetCreateError, msg);
        }
        throw e;
      }
    }
    const replicas = specReplicas(created);
    if (!existed && replicas > 0) this.deps.recorder.event(this.d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata!.name} from 0 to ${replicas}`);
    await this.setRevision(revision);
    if (!existed && hasProgressDeadline(this.d)) {
      const status = structuredClone(this.d.status ?? {});
      setCondition(status, newCondition(PROGRESSING, 'True', Reasons.NewReplicaSetCreated, `Created new replica set "${created.metadata!.name}"`, this.now()));
      await this.writeStatus(status);
    }
    return created;
  }

  private sizes(): { desired: number; max: number } {
    const desired = specReplicas(this.d);
    return { desired, max: desired + maxSurge(this.d) };
  }

  /** Resizes (and brings the replica annotations up to date); `scaled` when the size changed. */
  private async scaleReplicaSet(rs: ReplicaSetView, replicas: number): Promise<{ scaled: boolean; rs: ReplicaSetView }> {
    const { desired, max } = this.sizes();
    const from = specReplicas(rs);
    if (from === replicas && !replicasAnnotationsNeedUpdate(rs, desired, max)) return { scaled: false, rs };
    const copy = structuredClone(rs);
    copy.spec = { ...copy.spec, replicas };
    setReplicasAnnotations(copy, desired, max);
    const updated = await this.writeReplicaSet(copy);
    if (from === replicas) return { scaled: false, rs: updated };
    const how = from < replicas ? 'up' : 'down';
    this.deps.recorder.event(this.d, 'Normal', 'ScalingReplicaSet', `Scaled ${how} replica set ${rs.metadata!.name} from ${from} to ${replicas}`);
    return { scaled: true, rs: updated };
  }

  /** Scales one of `list` and puts the updated ReplicaSet in its place. */
  private async applyStep(rs: ReplicaSetView, replicas: number, list: ReplicaSetView[]): Promise<boolean> {
    const r = await this.scaleReplicaSet(rs, replicas);
    const i = list.indexOf(rs);
    if (i >= 0) list[i] = r.rs;
    return r.scaled;
  }

  /** Deletes the oldest empty ReplicaSets beyond revisionHistoryLimit. */
  private async cleanup(oldRSs: ReplicaSetView[]): Promise<void> {
    const limit = this.d.spec?.revisionHistoryLimit;
    if (limit === undefined || limit === null) return;
    const alive = oldRSs.filter((rs) => !rs.metadata?.deletionTimestamp).sort(byRevision);
    for (const rs of alive.slice(0, Math.max(0, alive.length - limit))) {
      const settled = (rs.status?.observedGeneration ?? 0) >= (rs.metadata?.generation ?? 0);
      if (statusReplicas(rs) !== 0 || specReplicas(rs) !== 0 || !settled) continue;
      const meta = rs.metadata!;
      await this.deps.client
        .delete(REPLICA_SETS, meta.namespace, meta.name!, { propagationPolicy: 'Background', preconditions: { uid: meta.uid } })
        .catch((e) => {
          if (!isNotFound(e)) throw e;
        });
    }
  }

  // ---------------------------------------------------------------- writes

  private async writeReplicaSet(rs: ReplicaSetView): Promise<ReplicaSetView> {
    const updated = await this.deps.client.update(rs);
    await this.caughtUp(this.deps.replicaSets, updated);
    return updated;
  }

  /** The Deployment's revision annotation (an update of the object: /status keeps metadata as stored). */
  private async setRevision(revision: number): Promise<void> {
    if (this.d.metadata?.annotations?.[REVISION] === String(revision)) return;
    const next = { ...this.d, metadata: { ...this.d.metadata, annotations: { ...this.d.metadata?.annotations, [REVISION]: String(revision) } } };
    this.d = await this.deps.client.update(next);
    await this.caughtUp(this.deps.deployments, this.d);
  }

  private async writeStatus(status: DeploymentStatus): Promise<void> {
    this.d = await this.deps.client.updateStatus({ ...this.d, status });
    await this.caughtUp(this.deps.deployments, this.d);
  }

  /** Waits until the informer holds `obj` as written (bounded: a slow cache only costs a conflict later). */
  private async caughtUp(informer: Informer, obj: KObject): Promise<void> {
    await informer.waitForRevision(Number(obj.metadata?.resourceVersion ?? 0), 2_000).catch((e: Error) => this.deps.log(`deployment-controller: ${e.message}`));
  }

  private async syncStatus(allRSs: ReplicaSetView[], newRS: ReplicaSetView | undefined): Promise<SyncResult> {
    const status = calculateStatus(allRSs, newRS, this.d, this.now());
    if (!sameDeploymentStatus(this.d.status, status)) await this.writeStatus(status);
  }

  private async syncRolloutStatus(allRSs: ReplicaSetView[], newRS: ReplicaSetView | undefined): Promise<SyncResult> {
    const { status, recheckAfterMs } = rolloutStatus(allRSs, newRS, this.d, this.now());
    if (!sameDeploymentStatus(this.d.status, status)) await this.writeStatus(status);
    return recheckAfterMs !== undefined ? { requeueAfterMs: recheckAfterMs } : undefined;
  }
}
