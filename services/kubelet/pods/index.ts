/**
 * The pods of this node: watches the pods bound to it through the shared
 * informer, runs one PodWorker per pod, routes the runtime's events to them,
 * writes their status through the API, and finishes graceful deletions. On start
 * it adopts what a previous kubelet left running and removes containers of pods
 * that no longer exist.
 */
import type { Inspector } from '../../lib/inspect/index.js';
import { resourceForKind, type KObject } from '../../lib/api/resources.js';
import type { KeelsonClient } from '../../lib/client/index.js';
import { isConflict, isNotFound } from '../../lib/errors/index.js';
import type { Informer, InformerEvent } from '../../lib/informer/index.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/index.js';
import type { BackOff } from '../../../statecharts/container.machine.js';
import type { PodStatus } from '../../../statecharts/pod.machine.js';
import type { EnvVar } from '../runtime/pod-spec.js';
import { podLogic, PodWorker, type PodLogic } from './pod-worker.js';
import { serviceEnv } from './service-env.js';
import { StatusWriter } from './status-writer.js';

export type PodManagerOptions = {
  client: KeelsonClient;
  runtime: ContainerRuntime;
  nodeName: string;
  hostIP: string;
  /** Container restart and image pull back-off; default Kubernetes' (10 s doubling to 5 min). */
  crashBackOff?: BackOff;
  /** Where the pods' and containers' actors report their transitions (live inspection). */
  inspector?: Inspector;
  /** One line per pod started, with where its startup time went. Default: none. */
  log?: (message: string) => void;
};

const PODS = resourceForKind('Pod')!;
const SERVICES = resourceForKind('Service')!;

type PodObject = KObject & { spec?: { nodeName?: string }; status?: { phase?: string } };

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  /** Pods whose containers are gone and whose deletion is being finished: no new worker may start for them. */
  private readonly finishing = new Set<string>();
  private informer?: Informer;
  /** Services, for the containers' environment: watched from the first container start on. */
  private services?: Promise<Informer>;
  private unsubscribe: (() => void)[] = [];
  private readonly status: StatusWriter;
  private readonly logic: PodLogic;
  /** Workers whose startup line was logged. */
  private readonly startupLogged = new WeakSet<PodWorker>();

  constructor(private readonly opts: PodManagerOptions) {
    this.status = new StatusWriter(opts.client, opts.hostIP, (w, s) => this.written(w, s));
    this.logic = podLogic(opts.runtime, (uid) => this.workers.get(uid));
  }

  /** Pods bound to this node, by uid. */
  get count(): number {
    return this.workers.size;
  }

  async start(): Promise<void> {
    const { client, runtime } = this.opts;
    // Only the pods bound here are cached (Kubernetes' kubelet watches with
    // fieldSelector spec.nodeName=NAME): a thousand hollow nodes in one process
    // must not each hold every pod of the cluster.
    this.informer = await client.informer('pods', undefined, (pod) => this.mine(pod));
    const found = await runtime.listManaged();
    const byPod = new Map<string, ManagedContainer[]>();
    for (const m of found) byPod.set(m.podUid, [...(byPod.get(m.podUid) ?? []), m]);
    this.unsubscribe.push(
      runtime.events((ev) => this.workers.get(ev.podUid)?.onRuntimeEvent(ev)),
      this.informer.on((ev) => this.onPodEvent(ev)),
    );
    // The runtime lists only this node's containers (runtimes are node-scoped),
    // so any of them whose pod is not bound here is left over.
    const live = new Set<string>();
    for (const pod of this.informer.list(PODS)) {
      live.add(pod.metadata!.uid!);
      this.run(pod, byPod.get(pod.metadata!.uid!) ?? []);
    }
    // Containers of pods that are gone (deleted while no kubelet ran).
    for (const uid of byPod.keys()) {
      if (!live.has(uid)) await runtime.removeSandbox(uid).catch((e) => console.error(`kubelet: cleanup of pod ${uid} failed:`, e));
    }
  }

  /** Stops the workers (containers keep running, for the next kubelet to adopt). */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
    await this.status.flush();
    await this.informer?.stop();
    await (await this.services?.catch(() => undefined))?.stop();
  }

  /**
   * The Service variables for a container starting now. As Kubernetes' kubelet,
   * a container does not start before the Services could be read once (its
   * start fails and is retried). Hollow nodes (fake runtime) run nothing, so
   * they skip the watch.
   */
  private async serviceEnv(pod: KObject): Promise<EnvVar[]> {
    if (this.opts.runtime.name === 'fake') return [];
    if (!this.services) {
      const started = this.opts.client.informer('services');
      this.services = started;
      started.catch(() => {
        if (this.services === started) this.services = undefined;
      });
    }
    return serviceEnv(pod, (await this.services).list(SERVICES));
  }

  private mine(pod: PodObject): boolean {
    return pod.spec?.nodeName === this.opts.nodeName;
  }

  private onPodEvent(ev: InformerEvent): void {
    const pod = ev.object as PodObject;
    const uid = pod.metadata?.uid;
    if (!uid || !this.mine(pod)) return;
    const worker = this.workers.get(uid);
    if (ev.type === 'DELETED') {
      this.finishing.delete(uid);
      worker?.delete();
      return;
    }
    // A worker started now would write status and make the final delete conflict, again and again.
    if (this.finishing.has(uid)) return;
    if (worker) worker.update(pod);
    else this.run(pod, []);
  }

  private run(pod: PodObject, found: ManagedContainer[]): void {
    const uid = pod.metadata!.uid!;
    const phase = pod.status?.phase;
    // A finished pod stays in the API for its record; there is nothing to run.
    if ((phase === 'Succeeded' || phase === 'Failed') && found.length === 0 && !pod.metadata?.deletionTimestamp) return;
    const worker = new PodWorker(pod, {
      runtime: this.opts.runtime,
      logic: this.logic,
      ...(this.opts.crashBackOff ? { backOff: this.opts.crashBackOff } : {}),
      report: (w, s, done) => this.report(w, s, done),
      serviceEnv: (p) => this.serviceEnv(p),
      ...(this.opts.inspector ? { inspector: this.opts.inspector } : {}),
    });
    this.workers.set(uid, worker);
    worker.start(found);
    if (pod.metadata?.deletionTimestamp) worker.update(pod);
  }

  /**
   * Kubernetes' kubelet logs each pod's startup duration; so does this one, once the
   * API has a pod it started Running, split into its steps (ms since the kubelet saw it).
   */
  private written(worker: PodWorker, status: PodStatus): void {
    const s = worker.startup;
    if (!s || this.startupLogged.has(worker) || status.phase !== 'Running' || !this.opts.log) return;
    this.startupLogged.add(worker);
    const at = (t?: number) => (t === undefined ? '?' : `${t - s.seenAt} ms`);
    this.opts.log(
      `kubelet ${this.opts.nodeName}: pod ${worker.namespace}/${worker.name} Running ${at(Date.now())} after it was seen ` +
        `(sandbox up at ${at(s.sandboxAt)}, containers at ${at(s.containersAt)})`,
    );
  }

  private report(worker: PodWorker, status: PodStatus, terminated: boolean): void {
    if (!terminated) {
      this.status.write(worker, status);
      return;
    }
    this.workers.delete(worker.uid);
    this.finishing.add(worker.uid);
    worker.stop();
    // The containers are gone: the graceful deletion can finish.
    void this.status.flush(worker.uid).then(() => this.finishDeletion(worker));
  }

  private async finishDeletion(worker: PodWorker): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.client.delete('pods', worker.namespace, worker.name, { gracePeriodSeconds: 0, preconditions: { uid: worker.uid } });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        // Another writer got in between the read and the delete: read and delete again.
        if (isConflict(e) && attempt < 5) continue;
        this.finishing.delete(worker.uid);
        console.error(`kubelet: could not remove pod ${worker.namespace}/${worker.name}:`, e);
        return;
      }
    }
  }
}
