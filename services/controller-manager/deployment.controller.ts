/**
 * The Deployment controller (Kubernetes' DeploymentController): Deployments
 * own ReplicaSets named `<deployment>-<pod-template-hash>`, one per template
 * they have had, and roll from the old ones to the new one by their strategy.
 * Handlers turn Deployment and ReplicaSet changes (and, for Recreate, pod
 * deletions) into Deployment keys; the sync is one DeploymentRollout.
 */
import { resourceForKind, type KObject } from '../lib/api/resources.js';
import { Controller, keyOf, splitKey, type SyncResult } from '../lib/controller/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import { fromLabelSelectorSpec } from '../lib/selectors/index.js';
import type { ControllerContext, RunningController } from './context.js';
import { DeploymentRollout } from './deployment-rollout.js';
import { controllerRefOf, isEmptySelector, RECREATE, resolveControllerRef, type DeploymentView, type ReplicaSetView } from './replication/index.js';

const COMPONENT = 'deployment-controller';
const DEPLOYMENTS = resourceForKind('Deployment')!;
const REPLICA_SETS = resourceForKind('ReplicaSet')!;

export async function startDeploymentController(ctx: ControllerContext): Promise<RunningController> {
  const [deployments, replicaSets, pods] = await Promise.all([ctx.informers.get('deployments'), ctx.informers.get('replicasets'), ctx.informers.get('pods')]);
  return new DeploymentController(ctx, deployments, replicaSets, pods).start();
}

class DeploymentController {
  private readonly controller: Controller;
  private readonly recorder;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: ControllerContext,
    private readonly deployments: Informer,
    private readonly replicaSets: Informer,
    private readonly pods: Informer,
  ) {
    this.recorder = ctx.recorder(COMPONENT);
    this.controller = new Controller({ name: COMPONENT, workers: ctx.options.workers, sync: (key) => this.sync(key), log: ctx.log });
  }

  start(): RunningController {
    this.unsubscribe.push(
      this.deployments.on((ev) => this.controller.enqueue(keyOf(ev.object))),
      this.replicaSets.on((ev) => this.onReplicaSet(ev)),
      this.pods.on((ev) => this.onPod(ev)),
    );
    this.controller.start();
    for (const d of this.deployments.list(DEPLOYMENTS)) this.controller.enqueue(keyOf(d));
    return {
      name: COMPONENT,
      stats: () => this.controller.stats(),
      stop: async () => {
        for (const u of this.unsubscribe.splice(0)) u();
        await this.controller.stop();
      },
    };
  }

  private sync(key: string): Promise<SyncResult> {
    const { namespace, name } = splitKey(key);
    const d = this.deployments.get(DEPLOYMENTS, namespace, name) as DeploymentView | undefined;
    if (!d) return Promise.resolve();
    const deps = { client: this.ctx.client, deployments: this.deployments, replicaSets: this.replicaSets, pods: this.pods, recorder: this.recorder, log: this.ctx.log };
    return new DeploymentRollout(deps, d).sync();
  }

  // ---------------------------------------------------------------- handlers

  private deploymentOf(rs: KObject, ref = controllerRefOf(rs)): DeploymentView | undefined {
    const ns = rs.metadata?.namespace ?? '';
    return resolveControllerRef(ref, 'Deployment', (name) => this.deployments.get(DEPLOYMENTS, ns, name) as DeploymentView | undefined);
  }

  private enqueue(d: DeploymentView | undefined): void {
    if (d) this.controller.enqueue(keyOf(d));
  }

  private onReplicaSet(ev: InformerEvent): void {
    const rs = ev.object as ReplicaSetView;
    const ref = controllerRefOf(rs);
    if (ev.type !== 'MODIFIED') {
      if (ref) this.enqueue(this.deploymentOf(rs, ref));
      else if (ev.type === 'ADDED') this.enqueueMatching(rs);
      return;
    }
    const old = ev.old as ReplicaSetView;
    if (old.metadata?.resourceVersion === rs.metadata?.resourceVersion) return;
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(ref ?? null) !== JSON.stringify(oldRef ?? null);
    if (refChanged && oldRef) this.enqueue(this.deploymentOf(old, oldRef));
    if (ref) return this.enqueue(this.deploymentOf(rs, ref));
    const labelsChanged = JSON.stringify(old.metadata?.labels ?? {}) !== JSON.stringify(rs.metadata?.labels ?? {});
    if (labelsChanged || refChanged) this.enqueueMatching(rs);
  }

  /** An orphan ReplicaSet: every Deployment whose selector matches it may adopt it. */
  private enqueueMatching(rs: ReplicaSetView): void {
    for (const d of this.deployments.list(DEPLOYMENTS, rs.metadata?.namespace) as DeploymentView[]) {
      if (!isEmptySelector(d.spec?.selector) && fromLabelSelectorSpec(d.spec?.selector).matches(rs.metadata?.labels)) this.enqueue(d);
    }
  }

  /** Recreate waits for the old pods to be gone: each deletion may be the last one. */
  private onPod(ev: InformerEvent): void {
    if (ev.type !== 'DELETED') return;
    const ref = controllerRefOf(ev.object);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const ns = ev.object.metadata?.namespace ?? '';
    const rs = resolveControllerRef(ref, 'ReplicaSet', (name) => this.replicaSets.get(REPLICA_SETS, ns, name) as ReplicaSetView | undefined);
    const d = rs && this.deploymentOf(rs);
    if (d?.spec?.strategy?.type === RECREATE) this.enqueue(d);
  }
}
