/**
 * Node-death rounds of the failover benchmark: a ReplicaSet spread over
 * kubelets on the fake runtime (`keelson kubelet --runtime fake` processes);
 * the kubelet holding most of its pods is killed (SIGKILL) at a random point of
 * its heartbeat cycle, and the round measures, from the signal: the node seen
 * NotReady/Unknown, its first pod evicted, and every replica Running again on
 * the other nodes. Then the kubelet comes back under the same name, and the
 * round ends when the node is Ready without lifecycle taints and the ReplicaSet
 * is whole. Across the phase, the most active pods ever seen at once is noted:
 * it must never exceed the desired count.
 *
 * The floor of a round is the design's: the last heartbeat seen + the grace
 * period + the toleration; what a round takes beyond it is the control
 * plane's own latency (detection, eviction, a new pod created, scheduled and
 * started).
 */
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import type { KeelsonClient } from '../../services/lib/client/index.js';
import type { Informer } from '../../services/lib/informer/index.js';
import type { CliProcess } from './cli-process.js';
import { pollUntil, sleep } from './proc.js';
import { nowMs } from './stats.js';

export type NodeRound = {
  node: string;
  podsOnNode: number;
  /** Signal → the node's Ready condition seen not True. */
  toNotReadyMs: number;
  /** Signal → the first of its pods seen deleted. */
  toFirstEvictionMs: number;
  /** Signal → every replica Running on the other nodes. */
  toRunningElsewhereMs: number;
  /** The same, beyond the floor (last heartbeat seen + grace + toleration). */
  overFloorMs: number;
  /** Time since the node's last heartbeat when it was killed. */
  sinceHeartbeatAtKillMs: number;
  /** Kubelet restarted → node Ready without lifecycle taints and the ReplicaSet whole. */
  returnMs: number;
  /** When its first pod was evicted (bench clock): the next round's kill is spaced from it. */
  evictedAtMs: number;
};

type Obj = { metadata?: { name?: string; deletionTimestamp?: string; ownerReferences?: { uid?: string }[] }; spec?: Record<string, unknown>; status?: Record<string, unknown> };

const PODS = resourceForKind('Pod')!;
const NODES = resourceForKind('Node')!;
const LIFECYCLE_TAINTS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'];

export class NodeWatch {
  /** Most active pods of the ReplicaSet seen at once. */
  maxActive = 0;
  private readonly lastBeat = new Map<string, number>();

  constructor(
    private readonly pods: Informer,
    private readonly nodes: Informer,
    leases: Informer,
    private readonly rsUid: string,
    private readonly replicas: number,
  ) {
    leases.on((ev) => ev.type !== 'DELETED' && this.lastBeat.set(ev.object.metadata!.name!, nowMs()));
    pods.on(() => {
      this.maxActive = Math.max(this.maxActive, this.active().length);
    });
  }

  lastHeartbeatMs(node: string): number | undefined {
    return this.lastBeat.get(node);
  }

  /** The ReplicaSet's pods that count toward its replicas. */
  active(): KObject[] {
    return this.pods.list(PODS).filter((p) => {
      const o = p as Obj;
      const phase = (o.status as { phase?: string } | undefined)?.phase;
      return !o.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed' && !!o.metadata?.ownerReferences?.some((r) => r.uid === this.rsUid);
    });
  }

  running(notOn?: string): number {
    return this.active().filter((p) => {
      const o = p as Obj;
      const node = (o.spec as { nodeName?: string } | undefined)?.nodeName;
      const ready = ((o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      return node && node !== notOn && (o.status as { phase?: string } | undefined)?.phase === 'Running' && ready;
    }).length;
  }

  podsOn(node: string): number {
    return this.active().filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === node).length;
  }

  node(name: string): KObject | undefined {
    return this.nodes.get(NODES, '', name);
  }

  nodeHealthy(name: string): boolean {
    const n = this.node(name) as Obj | undefined;
    const ready = ((n?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Ready');
    const taints = ((n?.spec as { taints?: { key: string }[] } | undefined)?.taints ?? []).filter((t) => LIFECYCLE_TAINTS.includes(t.key));
    return ready?.status === 'True' && taints.length === 0;
  }

  /** Polls `check` on every 10 ms until true; the time it first held. */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
    return pollUntil(what, () => (check() ? nowMs() : undefined), timeoutMs);
  }

  /** The cluster at rest: every node healthy, every replica Running and ready. */
  steady(nodes: string[], timeoutMs: number): Promise<number> {
    return this.until(() => nodes.every((n) => this.nodeHealthy(n)) && this.running() === this.replicas && this.active().length === this.replicas, timeoutMs, 'every node Ready and every replica Running');
  }
}

export async function nodeRound(o: {
  watch: NodeWatch;
  kubelets: Map<string, CliProcess>;
  restart: (node: string) => CliProcess;
  replicas: number;
  heartbeatMs: number;
  graceMs: number;
  tolerationMs: number;
  timeoutMs: number;
  /** Kill no earlier than this (bench clock), plus a random part of the heartbeat period. */
  notBeforeMs: number;
}): Promise<NodeRound> {
  const w = o.watch;
  const names = [...o.kubelets.keys()];
  await w.steady(names, o.timeoutMs);
  const victim = names.reduce((a, b) => (w.podsOn(b) > w.podsOn(a) ? b : a));
  const podsOnNode = w.podsOn(victim);
  await sleep(Math.max(0, o.notBeforeMs - nowMs()) + Math.random() * o.heartbeatMs);
  const sigAt = o.kubelets.get(victim)!.signal('SIGKILL');
  const notReady = w.until(() => {
    const n = w.node(victim) as Obj | undefined;
    return ((n?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status !== 'True');
  }, o.timeoutMs, `node ${victim} NotReady`);
  const evicted = w.until(() => w.podsOn(victim) < podsOnNode, o.timeoutMs, `a pod of ${victim} evicted`);
  const elsewhere = w.until(() => w.running(victim) === o.replicas, o.timeoutMs, `${o.replicas} replicas Running off ${victim}`);
  const [notReadyAt, evictedAt, elsewhereAt] = await Promise.all([notReady, evicted, elsewhere]);
  // A renewal in flight at the kill lands after it: the last one is known once the node is NotReady.
  const lastBeat = w.lastHeartbeatMs(victim) ?? sigAt;
  await o.kubelets.get(victim)!.exited;
  const back = nowMs();
  o.kubelets.set(victim, o.restart(victim));
  const steadyAt = await w.steady(names, o.timeoutMs);
  return {
    node: victim,
    podsOnNode,
    toNotReadyMs: notReadyAt - sigAt,
    toFirstEvictionMs: evictedAt - sigAt,
    toRunningElsewhereMs: elsewhereAt - sigAt,
    overFloorMs: elsewhereAt - (lastBeat + o.graceMs + o.tolerationMs),
    sinceHeartbeatAtKillMs: sigAt - lastBeat,
    returnMs: steadyAt - back,
    evictedAtMs: evictedAt,
  };
}

/** The replacement alone, as the raw figure beside a round: the ReplicaSet scaled up by one → the new replica Running. */
export async function scaleUpOne(client: KeelsonClient, watch: NodeWatch, rs: KObject, replicas: number, timeoutMs: number): Promise<number> {
  const ns = rs.metadata!.namespace;
  const name = rs.metadata!.name!;
  const t0 = nowMs();
  await client.scale('replicasets', ns, name, replicas + 1);
  const at = await watch.until(() => watch.running() === replicas + 1, timeoutMs, 'the extra replica Running');
  await client.scale('replicasets', ns, name, replicas);
  await watch.until(() => watch.active().length === replicas, timeoutMs, 'back to the desired count');
  return at - t0;
}
