/**
 * The scheduler cache: every node with what is bound to it, fed by the node
 * and pod informers — plus the pods this scheduler has *assumed* onto a node
 * (decided, binding under way, not yet seen back from the watch), so that the
 * next pod already sees the room they take. An assumption ends when the watch
 * shows the pod bound (confirmed), or is forgotten when its binding failed.
 */
import type { KObject } from '../../lib/api/resources.js';
import type { ClusterView } from '../framework/index.js';
import { NodeInfo } from './node-info.js';
import { makePodInfo, type PodInfo } from './pod-info.js';

type PodState = { info: PodInfo; node: string; assumed: boolean };

export type CacheCounts = { nodes: number; pods: number; assumed: number };

export class SchedulerCache implements ClusterView {
  private readonly nodes = new Map<string, NodeInfo>();
  /** The nodes that exist, for the scheduling loop to walk (order is arbitrary but stable). */
  private readonly list: NodeInfo[] = [];
  private readonly pods = new Map<string, PodState>();
  private assumedCount = 0;
  /** Normalized image → how many nodes report it. */
  private readonly imageNodes = new Map<string, number>();
  /** Controller owner uid → its pods per node, by node slot (for the spreading score). */
  private readonly owners = new Map<string, { counts: Int32Array; total: number }>();
  /** Node slots given back, to use again. */
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  get nodeCount(): number {
    return this.list.length;
  }

  /** The existing nodes; do not modify. */
  nodeList(): readonly NodeInfo[] {
    return this.list;
  }

  node(name: string): NodeInfo | undefined {
    const n = this.nodes.get(name);
    return n?.node ? n : undefined;
  }

  nodesWithImage(image: string): number {
    return this.imageNodes.get(image) ?? 0;
  }

  podsOfOwner(ownerUid: string): Int32Array | undefined {
    return this.owners.get(ownerUid)?.counts;
  }

  counts(): CacheCounts {
    return { nodes: this.list.length, pods: this.pods.size, assumed: this.assumedCount };
  }

  /** Adds or updates a Node; true when something the plugins read changed (or it is new). */
  upsertNode(node: KObject): boolean {
    const name = node.metadata?.name ?? '';
    const info = this.nodeInfo(name);
    const isNew = !info.node;
    this.countImages(info, -1);
    const changed = info.setNode(node);
    this.countImages(info, 1);
    if (info.index < 0) {
      info.index = this.list.length;
      this.list.push(info);
    }
    return isNew || changed;
  }

  removeNode(name: string): void {
    const info = this.nodes.get(name);
    if (!info?.node) return;
    this.countImages(info, -1);
    info.node = undefined;
    // Swap-remove from the list.
    const last = this.list.pop()!;
    if (last !== info) {
      this.list[info.index] = last;
      last.index = info.index;
    }
    info.index = -1;
    // Its pods stay counted on the ghost: if the node comes back, so do they.
    if (info.podCount === 0) this.forgetNode(info);
  }

  /**
   * A pod seen on the watch. A bound, non-terminal pod is counted on its node
   * (confirming an assumption); anything else is not in the cache. Returns
   * what the pod was before, if it was cached, for the caller to tell what changed.
   */
  upsertPod(pod: KObject, info: PodInfo = makePodInfo(pod)): { removed?: PodInfo } {
    const prior = this.pods.get(info.key);
    const holds = info.nodeName !== '' && !info.terminal;
    if (!holds) {
      // An assumed pod not seen bound yet stays assumed: the watch is behind our bind.
      if (prior && !prior.assumed) return { removed: this.drop(info.key) };
      if (prior?.assumed && info.terminal) return { removed: this.drop(info.key) };
      return {};
    }
    if (prior && prior.node === info.nodeName && prior.info.uid === info.uid) {
      // Seen again where it is counted (confirmed, or a status change): what it
      // requests cannot have changed, so nothing to recount.
      if (prior.assumed) this.assumedCount--;
      prior.assumed = false;
      return {};
    }
    if (prior) this.drop(info.key);
    this.pods.set(info.key, { info, node: info.nodeName, assumed: false });
    this.place(info, info.nodeName, 1);
    return prior && prior.node !== info.nodeName ? { removed: prior.info } : {};
  }

  /**
   * The cheap path for a bound pod seen again (our binding confirmed, or a
   * status change): true when it is already counted on that node under that
   * uid — then it is confirmed and nothing else needs doing.
   */
  confirm(key: string, uid: string | undefined, nodeName: string): boolean {
    const state = this.pods.get(key);
    if (!state || state.node !== nodeName || state.info.uid !== uid) return false;
    if (state.assumed) {
      state.assumed = false;
      this.assumedCount--;
    }
    return true;
  }

  /** A pod gone from the watch (deleted). */
  removePod(key: string): PodInfo | undefined {
    return this.drop(key);
  }

  /** This scheduler decided `pod` goes to `node`: count it there now. */
  assume(pod: PodInfo, node: string): void {
    if (this.pods.has(pod.key)) this.drop(pod.key);
    this.pods.set(pod.key, { info: pod, node, assumed: true });
    this.assumedCount++;
    this.place(pod, node, 1);
  }

  /** The binding failed: take the assumption back (unless the watch confirmed something meanwhile). */
  forget(key: string): void {
    if (this.pods.get(key)?.assumed) this.drop(key);
  }

  isAssumed(key: string): boolean {
    return this.pods.get(key)?.assumed ?? false;
  }

  /** The node a pod is counted on (bound or assumed). */
  nodeNameOf(key: string): string | undefined {
    return this.pods.get(key)?.node;
  }

  private drop(key: string): PodInfo | undefined {
    const state = this.pods.get(key);
    if (!state) return undefined;
    this.pods.delete(key);
    if (state.assumed) this.assumedCount--;
    this.place(state.info, state.node, -1);
    const node = this.nodes.get(state.node);
    if (node && !node.node && node.podCount === 0) this.forgetNode(node);
    return state.info;
  }

  private nodeInfo(name: string): NodeInfo {
    let info = this.nodes.get(name);
    if (!info) {
      info = new NodeInfo(name, this.freeSlots.pop() ?? this.nextSlot++);
      this.nodes.set(name, info);
    }
    return info;
  }

  /** A node with no Node object and no pods: nothing to remember. */
  private forgetNode(info: NodeInfo): void {
    this.nodes.delete(info.name);
    this.freeSlots.push(info.slot);
  }

  /** Counts a pod on (1) or off (−1) a node, and for its owner. */
  private place(pod: PodInfo, nodeName: string, sign: 1 | -1): void {
    const node = this.nodeInfo(nodeName);
    if (sign > 0) node.addPod(pod);
    else node.removePod(pod.key);
    if (!pod.ownerUid) return;
    let owner = this.owners.get(pod.ownerUid);
    if (!owner) this.owners.set(pod.ownerUid, (owner = { counts: new Int32Array(Math.max(64, this.nextSlot * 2)), total: 0 }));
    if (node.slot >= owner.counts.length) {
      const grown = new Int32Array(Math.max(node.slot + 1, owner.counts.length * 2));
      grown.set(owner.counts);
      owner.counts = grown;
    }
    owner.counts[node.slot]! += sign;
    owner.total += sign;
    if (owner.total === 0) this.owners.delete(pod.ownerUid);
  }

  private countImages(info: NodeInfo, sign: 1 | -1): void {
    if (!info.node) return;
    for (const image of info.images.keys()) {
      const n = (this.imageNodes.get(image) ?? 0) + sign;
      if (n > 0) this.imageNodes.set(image, n);
      else this.imageNodes.delete(image);
    }
  }
}
