/**
 * A control plane for the replication controllers' tests: the controllers
 * started in-process on a ControllerContext of their own (shared informers,
 * event recorders, default options), hollow nodes (kubelets on the fake
 * runtime: a bound pod runs at once), and a stand-in for the scheduler that
 * binds each pending pod to the next live node, round robin. The scheduler
 * (services/scheduler) replaces that binder once it exists; these tests are
 * about replicas, not placement.
 */
import { controllerContext, type RunningController } from '../../services/controller-manager/context.js';
import { startDeploymentController } from '../../services/controller-manager/deployment.controller.js';
import { startReplicaSetController, startReplicationController } from '../../services/controller-manager/replication.controller.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import { resourceForKind, type KObject, type ResourceInfo } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { keyOf } from '../../services/lib/controller/index.js';
import { isConflict, isNotFound } from '../../services/lib/errors/index.js';
import { SharedInformers, type Informer, type InformerHandler } from '../../services/lib/informer/index.js';
import type { NatsAddress } from '../../services/lib/nats/index.js';

const PODS = resourceForKind('Pod')!;

export type ReplicationPlane = {
  client: KeelsonClient;
  informers: SharedInformers;
  controllers: RunningController[];
  /** Problems the controllers logged (a test may assert there were none of a kind). */
  logs: string[];
  stop(): Promise<void>;
};

/**
 * The pods informer as a slow watch shows it: every change reaches the cache and
 * the handlers `lagMs` late (in order). Controllers must not act twice on what
 * they did but cannot see yet — the case expectations are for.
 */
class LaggingPods {
  private readonly cache = new Map<string, KObject>();
  private readonly handlers = new Set<InformerHandler>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly off: () => void;

  constructor(inner: Informer, lagMs: number) {
    for (const p of inner.list(PODS)) this.cache.set(keyOf(p), p);
    this.off = inner.on((ev) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (ev.type === 'DELETED') this.cache.delete(keyOf(ev.object));
        else this.cache.set(keyOf(ev.object), ev.object);
        for (const h of this.handlers) h(ev);
      }, lagMs);
      this.timers.add(t);
    });
  }

  on(h: InformerHandler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  list(_r: ResourceInfo, namespace?: string): KObject[] {
    return [...this.cache.values()].filter((o) => !namespace || o.metadata?.namespace === namespace);
  }

  get(_r: ResourceInfo, namespace: string, name: string): KObject | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  stop(): void {
    this.off();
    for (const t of this.timers) clearTimeout(t);
  }
}

class SharedInformersWithLag extends SharedInformers {
  private lagging?: Promise<LaggingPods>;

  constructor(
    client: KeelsonClient,
    private readonly lagMs: number,
  ) {
    super(client);
  }

  override get(resource: string): Promise<Informer> {
    if (resource !== 'pods') return super.get(resource);
    this.lagging ??= super.get('pods').then((inner) => new LaggingPods(inner, this.lagMs));
    return this.lagging as unknown as Promise<Informer>;
  }

  override async stop(): Promise<void> {
    (await this.lagging?.catch(() => undefined))?.stop();
    await super.stop();
  }
}

/**
 * The RC, ReplicaSet and Deployment controllers against the cluster on `nats`;
 * with `podWatchLagMs`, they see pods that much late.
 */
export async function startReplicationPlane(nats: NatsAddress, opts: { podWatchLagMs?: number } = {}): Promise<ReplicationPlane> {
  const client = await KeelsonClient.connect(nats, 'replication-test-controllers');
  const informers = opts.podWatchLagMs ? new SharedInformersWithLag(client, opts.podWatchLagMs) : new SharedInformers(client);
  const logs: string[] = [];
  const ctx = controllerContext({ client, informers, log: (m) => logs.push(m) });
  const controllers: RunningController[] = [];
  const stop = async () => {
    await Promise.all(controllers.splice(0).map((c) => c.stop()));
    await informers.stop();
    await client.close().catch(() => undefined);
  };
  try {
    for (const start of [startReplicationController, startReplicaSetController, startDeploymentController]) controllers.push(await start(ctx));
  } catch (e) {
    await stop();
    throw e;
  }
  return { client, informers, controllers, logs, stop };
}

/** Each node keeps one fake runtime across restarts of its kubelet: its containers "keep running". */
export type HollowNodes = {
  /** Nodes the binder may use. */
  live(): string[];
  /** Stops a node's kubelet, as if the machine were lost; the binder stops using it. */
  lose(name: string): Promise<void>;
  /** Starts the node's kubelet again, on the same runtime. */
  restore(name: string): Promise<void>;
  stop(): Promise<void>;
};

/** `nats`: where every node connects, or how each does (its own user on a secured cluster). */
export async function startHollowNodes(nats: NatsAddress | ((node: string) => Promise<NatsAddress>), names: string[]): Promise<HollowNodes> {
  const kubelets = new Map<string, Kubelet>();
  const runtimes = new Map(names.map((n) => [n, new FakeRuntime()]));
  const start = async (name: string) => {
    const address = typeof nats === 'function' ? await nats(name) : nats;
    kubelets.set(name, await startKubelet({ nats: address, nodeName: name, runtime: runtimes.get(name)!, heartbeatMs: 500 }));
  };
  const stop = async () => {
    const all = [...kubelets.values()];
    kubelets.clear();
    await Promise.all(all.map((k) => k.stop().catch(() => undefined)));
  };
  try {
    for (const n of names) await start(n);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    live: () => names.filter((n) => kubelets.has(n)),
    lose: async (name) => {
      const k = kubelets.get(name);
      kubelets.delete(name);
      await k?.stop();
    },
    restore: (name) => start(name),
    stop,
  };
}

export type Binder = { stop(): Promise<void> };

/** Binds every pending, unassigned pod to the next of `nodes()`, round robin (the scheduler's job; see the file comment). */
export async function startRoundRobinBinder(client: KeelsonClient, nodes: () => string[]): Promise<Binder> {
  const pods: Informer = await client.informer('pods');
  let next = 0;
  let stopped = false;
  const inFlight = new Set<string>();
  const pending = new Set<Promise<void>>();
  const consider = (pod: KObject) => {
    const spec = pod.spec as { nodeName?: string } | undefined;
    const meta = pod.metadata!;
    if (stopped || spec?.nodeName || meta.deletionTimestamp || inFlight.has(meta.uid!)) return;
    const live = nodes();
    if (live.length === 0) return;
    const node = live[next++ % live.length]!;
    inFlight.add(meta.uid!);
    const p = client
      .bind(meta.namespace!, meta.name!, node)
      .then(() => undefined)
      .catch((e) => {
        if (!isConflict(e) && !isNotFound(e) && !stopped) console.error(`test binder: ${meta.name} → ${node}:`, (e as Error).message);
      })
      .finally(() => {
        inFlight.delete(meta.uid!);
        pending.delete(p);
      });
    pending.add(p);
  };
  const off = pods.on((ev) => {
    if (ev.type !== 'DELETED') consider(ev.object);
  });
  for (const p of pods.list(PODS)) consider(p);
  return {
    stop: async () => {
      stopped = true;
      off();
      await Promise.allSettled([...pending]);
      await pods.stop();
    },
  };
}
