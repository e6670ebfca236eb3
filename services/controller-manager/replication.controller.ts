/**
 * The ReplicaSet and ReplicationController controllers: one implementation
 * (Kubernetes' ReplicaSetController) for both kinds, which differ only in
 * their selector (a LabelSelector vs a plain map), API group and name.
 *
 * Handlers turn changes into owner keys; `sync(key)` claims the active pods
 * the selector matches (adopting orphans, releasing pods that stopped
 * matching), creates the missing ones from the template in slow-start batches
 * or deletes the extras worst first, and reports the status through /status
 * with compare-and-swap. Expectations keep a sync from acting again before the
 * pod watch has shown its previous creations and deletions, so the count never
 * goes above the desired number. Pods being deleted (deletionTimestamp set — a
 * lost node's evicted pods among them) do not count: a replacement is made at
 * once, and when the node comes back its kubelet only finishes those deletions.
 */
import { resourceForKind, type KObject, type OwnerReference, type ResourceInfo } from '../lib/api/resources.js';
import { Controller, Expectations, keyOf, splitKey, type SyncResult } from '../lib/controller/index.js';
import { isNotFound } from '../lib/errors/index.js';
import type { EventRecorder } from '../lib/events/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import { fromLabelSelectorSpec, type LabelSelectorSpec, type Selector } from '../lib/selectors/index.js';
import type { ControllerContext, RunningController } from './context.js';
import {
  calculateReplicaStatus,
  claimObjects,
  controllerRefOf,
  controllerRefTo,
  isNamespaceTerminating,
  isPodActive,
  isPodReady,
  mapSelector,
  msUntilAvailable,
  podFromTemplate,
  podsToDelete,
  resolveControllerRef,
  sameReplicaStatus,
  slowStartBatch,
  type PodView,
  type ReplicaSetView,
} from './replication/index.js';

/** Most pods one sync creates or deletes (Kubernetes' burstReplicas). */
export const BURST_REPLICAS = 500;

/** What differs between the two kinds. */
type ReplicaKind = {
  kind: 'ReplicaSet' | 'ReplicationController';
  /** Event source and controller name, as in Kubernetes. */
  component: string;
  selector(owner: ReplicaSetView): Selector;
};

const REPLICA_SET: ReplicaKind = {
  kind: 'ReplicaSet',
  component: 'replicaset-controller',
  selector: (rs) => fromLabelSelectorSpec(rs.spec?.selector as LabelSelectorSpec | undefined),
};

const REPLICATION_CONTROLLER: ReplicaKind = {
  kind: 'ReplicationController',
  component: 'replication-controller',
  selector: (rc) => mapSelector(rc.spec?.selector as Record<string, string> | undefined),
};

const PODS = resourceForKind('Pod')!;
const REPLICA_SETS = resourceForKind('ReplicaSet')!;

export function startReplicaSetController(ctx: ControllerContext): Promise<RunningController> {
  return startReplicaController(ctx, REPLICA_SET);
}

export function startReplicationController(ctx: ControllerContext): Promise<RunningController> {
  return startReplicaController(ctx, REPLICATION_CONTROLLER);
}

async function startReplicaController(ctx: ControllerContext, kind: ReplicaKind): Promise<RunningController> {
  const resource = resourceForKind(kind.kind)!;
  const [owners, pods] = await Promise.all([ctx.informers.get(resource.plural), ctx.informers.get('pods')]);
  // ReplicaSets of one Deployment share their pods' ranking; RCs need no second informer.
  const replicaSets = kind.kind === 'ReplicaSet' ? owners : undefined;
  const manager = new ReplicaManager(ctx, kind, resource, owners, pods, replicaSets);
  return manager.start();
}

class ReplicaManager {
  private readonly controller: Controller;
  private readonly expectations = new Expectations();
  private readonly recorder: EventRecorder;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: ControllerContext,
    private readonly kind: ReplicaKind,
    private readonly resource: ResourceInfo,
    private readonly owners: Informer,
    private readonly pods: Informer,
    private readonly replicaSets: Informer | undefined,
  ) {
    this.recorder = ctx.recorder(kind.component);
    this.controller = new Controller({ name: kind.component, workers: ctx.options.workers, sync: (key) => this.sync(key), log: ctx.log });
  }

  start(): RunningController {
    this.unsubscribe.push(
      this.owners.on((ev) => this.onOwner(ev)),
      this.pods.on((ev) => this.onPod(ev)),
    );
    this.controller.start();
    for (const o of this.owners.list(this.resource)) this.controller.enqueue(keyOf(o));
    return {
      name: this.kind.component,
      stats: () => this.controller.stats(),
      stop: async () => {
        for (const u of this.unsubscribe.splice(0)) u();
        await this.controller.stop();
      },
    };
  }

  // ---------------------------------------------------------------- handlers

  private onOwner(ev: InformerEvent): void {
    const key = keyOf(ev.object);
    if (ev.type === 'DELETED' || (ev.old && ev.old.metadata?.uid !== ev.object.metadata?.uid)) this.expectations.forget(key);
    this.controller.enqueue(key);
  }

  private onPod(ev: InformerEvent): void {
    const pod = ev.object as PodView;
    if (ev.type === 'DELETED') return this.podGone(pod);
    if (ev.type === 'ADDED') {
      if (pod.metadata?.deletionTimestamp) return this.podGone(pod);
      const owner = this.ownerOf(controllerRefOf(pod), pod);
      if (owner) {
        this.expectations.creationObserved(keyOf(owner));
        this.controller.enqueue(keyOf(owner));
      } else if (!controllerRefOf(pod)) this.enqueueMatching(pod);
      return;
    }
    const old = ev.old as PodView;
    if (old.metadata?.resourceVersion === pod.metadata?.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(pod.metadata?.labels ?? {});
    if (pod.metadata?.deletionTimestamp) {
      // Being deleted counts as gone now: the replacement need not wait for the kubelet.
      this.podGone(pod);
      if (labelsChanged) this.podGone(old);
      return;
    }
    const ref = controllerRefOf(pod);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(ref ?? null) !== JSON.stringify(oldRef ?? null);
    if (refChanged && oldRef) {
      const was = this.ownerOf(oldRef, old);
      if (was) this.controller.enqueue(keyOf(was));
    }
    if (ref) {
      const owner = this.ownerOf(ref, pod);
      if (!owner) return;
      const key = keyOf(owner);
      this.controller.enqueue(key);
      const minReady = owner.spec?.minReadySeconds ?? 0;
      // Available minReadySeconds after it became ready: look again then.
      if (minReady > 0 && !isPodReady(old) && isPodReady(pod)) this.controller.enqueueAfter(key, minReady * 1000 + 1000);
      return;
    }
    if (labelsChanged || refChanged) this.enqueueMatching(pod);
  }

  private podGone(pod: PodView): void {
    const owner = this.ownerOf(controllerRefOf(pod), pod);
    if (!owner) return;
    const key = keyOf(owner);
    this.expectations.deletionObserved(key, pod.metadata!.uid!);
    this.controller.enqueue(key);
  }

  private ownerOf(ref: OwnerReference | undefined, pod: KObject): ReplicaSetView | undefined {
    const ns = pod.metadata?.namespace ?? '';
    return resolveControllerRef(ref, this.kind.kind, (name) => this.owners.get(this.resource, ns, name) as ReplicaSetView | undefined);
  }

  /** An orphan: every owner whose selector matches it may want to adopt it. */
  private enqueueMatching(pod: PodView): void {
    for (const o of this.owners.list(this.resource, pod.metadata?.namespace) as ReplicaSetView[]) {
      if (this.kind.selector(o).matches(pod.metadata?.labels)) this.controller.enqueue(keyOf(o));
    }
  }

  // ---------------------------------------------------------------- sync

  private async sync(key: string): Promise<SyncResult> {
    const { namespace, name } = splitKey(key);
    const owner = this.owners.get(this.resource, namespace, name) as ReplicaSetView | undefined;
    if (!owner) {
      this.expectations.forget(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    const selector = this.kind.selector(owner);
    const active = (this.pods.list(PODS, namespace) as PodView[]).filter(isPodActive);
    const owned = await claimObjects({ client: this.ctx.client, owner, ownerResource: this.resource, selector, resource: PODS }, active);
    let manageError: unknown;
    let deleted = new Set<string>();
    if (needsSync && !owner.metadata?.deletionTimestamp) {
      try {
        deleted = await this.manageReplicas(key, owner, owned);
      } catch (e) {
        manageError = e;
      }
    }
    const now = new Date();
    const remaining = owned.filter((p) => !deleted.has(p.metadata!.uid!));
    const status = calculateReplicaStatus(owner, remaining, manageError, now);
    if (!sameReplicaStatus(owner.status, status)) {
      await this.ctx.client.updateStatus({ ...owner, status });
    }
    if (manageError) throw manageError;
    // A ready pod becomes available minReadySeconds later, with no event to say so.
    const waits = remaining.map((p) => msUntilAvailable(p, owner.spec?.minReadySeconds ?? 0, now.getTime())).filter((w): w is number => w !== undefined);
    return waits.length ? { requeueAfterMs: Math.min(...waits) + 100 } : undefined;
  }

  /** Creates or deletes pods to reach spec.replicas; answers the uids it deleted. */
  private async manageReplicas(key: string, owner: ReplicaSetView, pods: PodView[]): Promise<Set<string>> {
    const diff = pods.length - (owner.spec?.replicas ?? 1);
    if (diff < 0) {
      await this.createPods(key, owner, Math.min(-diff, BURST_REPLICAS));
      return new Set();
    }
    if (diff > 0) return this.deletePods(key, owner, pods, Math.min(diff, BURST_REPLICAS));
    return new Set();
  }

  private async createPods(key: string, owner: ReplicaSetView, count: number): Promise<void> {
    const meta = owner.metadata!;
    const ref = controllerRefTo(owner);
    this.expectations.expect(key, count);
    const { successes, error } = await slowStartBatch(count, async () => {
      try {
        const pod = await this.ctx.client.create(podFromTemplate(owner.spec?.template ?? {}, meta.name!, meta.namespace!, ref));
        this.recorder.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata?.name}`);
      } catch (e) {
        // A terminating namespace refuses every create: nothing to report, nothing to retry.
        if (isNamespaceTerminating(e)) return;
        this.recorder.event(owner, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
        throw e;
      }
    });
    // Pods never created will never be observed.
    for (let i = successes; i < count; i++) this.expectations.creationObserved(key);
    if (error) throw error;
  }

  private async deletePods(key: string, owner: ReplicaSetView, pods: PodView[], count: number): Promise<Set<string>> {
    const victims = podsToDelete(pods, this.relatedPods(owner), count);
    const uids = victims.map((p) => p.metadata!.uid!);
    this.expectations.expect(key, 0, uids);
    const results = await Promise.allSettled(
      victims.map(async (pod) => {
        const meta = pod.metadata!;
        try {
          await this.ctx.client.delete(PODS, meta.namespace, meta.name!, { preconditions: { uid: meta.uid } });
          this.recorder.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${meta.name}`);
        } catch (e) {
          // The watch will never show this deletion.
          this.expectations.deletionObserved(key, meta.uid!);
          if (isNotFound(e)) return;
          this.recorder.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
          throw e;
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return new Set(uids);
  }

  /**
   * The pods of the owner's family: for a ReplicaSet of a Deployment, those of
   * every ReplicaSet of that Deployment (Kubernetes' getIndirectlyRelatedPods).
   */
  private relatedPods(owner: ReplicaSetView): PodView[] {
    const ns = owner.metadata?.namespace;
    const parent = controllerRefOf(owner);
    const family =
      parent && this.replicaSets
        ? (this.replicaSets.list(REPLICA_SETS, ns) as ReplicaSetView[]).filter((rs) => controllerRefOf(rs)?.uid === parent.uid)
        : [owner];
    const seen = new Set<string>();
    const out: PodView[] = [];
    const all = this.pods.list(PODS, ns) as PodView[];
    for (const rs of family) {
      const selector = this.kind.selector(rs);
      for (const p of all) {
        const uid = p.metadata!.uid!;
        if (seen.has(uid) || !selector.matches(p.metadata?.labels)) continue;
        seen.add(uid);
        out.push(p);
      }
    }
    return out;
  }
}
