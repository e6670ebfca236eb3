/**
 * The garbage collector's graph: every object it watches, by uid, with the
 * owners it names and the dependents that name it. Kept from informer events;
 * an owner uid may have dependents before (or after) the owner itself is in the
 * graph — that is exactly what the collector looks for.
 */
import type { KObject, OwnerReference, ResourceInfo } from '../lib/api/resources.js';

export type GraphNode = {
  uid: string;
  resource: ResourceInfo;
  namespace: string;
  name: string;
  owners: OwnerReference[];
};

export class OwnerGraph {
  private readonly nodes = new Map<string, GraphNode>();
  private readonly dependents = new Map<string, Set<string>>();

  get size(): number {
    return this.nodes.size;
  }

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  has(uid: string): boolean {
    return this.nodes.has(uid);
  }

  /** Adds or updates an object; answers the owner uids it stopped naming. */
  upsert(resource: ResourceInfo, obj: KObject): { node: GraphNode; droppedOwners: string[] } | undefined {
    const meta = obj.metadata;
    if (!meta?.uid || !meta.name) return undefined;
    const owners = (meta.ownerReferences ?? []).filter((o) => o && o.uid);
    const old = this.nodes.get(meta.uid);
    const node: GraphNode = { uid: meta.uid, resource, namespace: meta.namespace ?? '', name: meta.name, owners };
    this.nodes.set(meta.uid, node);
    const now = new Set(owners.map((o) => o.uid));
    const droppedOwners = (old?.owners ?? []).map((o) => o.uid).filter((u) => !now.has(u));
    for (const u of droppedOwners) this.unlink(u, meta.uid);
    for (const u of now) {
      let set = this.dependents.get(u);
      if (!set) this.dependents.set(u, (set = new Set()));
      set.add(meta.uid);
    }
    return { node, droppedOwners };
  }

  /** Removes an object; its dependents keep naming it (they are what is left to collect). */
  remove(uid: string): GraphNode | undefined {
    const node = this.nodes.get(uid);
    if (!node) return undefined;
    this.nodes.delete(uid);
    for (const o of node.owners) this.unlink(o.uid, uid);
    return node;
  }

  /** The objects in the graph that name `ownerUid` as an owner. */
  dependentsOf(ownerUid: string): GraphNode[] {
    return [...(this.dependents.get(ownerUid) ?? [])].map((u) => this.nodes.get(u)).filter((n): n is GraphNode => !!n);
  }

  /** Dependents whose reference to the owner has blockOwnerDeletion: a foreground deletion waits for them. */
  blockingDependentsOf(ownerUid: string): GraphNode[] {
    return this.dependentsOf(ownerUid).filter((d) => d.owners.some((o) => o.uid === ownerUid && o.blockOwnerDeletion === true));
  }

  private unlink(ownerUid: string, dependentUid: string): void {
    const set = this.dependents.get(ownerUid);
    if (!set) return;
    set.delete(dependentUid);
    if (set.size === 0) this.dependents.delete(ownerUid);
  }
}
