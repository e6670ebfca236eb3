/**
 * The garbage collector: cascading deletion by ownerReferences, as Kubernetes'.
 * It keeps an owner → dependents graph (owner-graph.ts) from the informers of
 * every resource but Events, and acts on three things:
 *  - background: an object whose owners are all gone (NotFound, or a new object
 *    under the owner's name) is deleted, with a uid precondition;
 *  - foreground: an owner being deleted with the finalizer `foregroundDeletion`
 *    has its dependents deleted; once none with blockOwnerDeletion is left, the
 *    finalizer goes (and with it the owner);
 *  - orphan: an owner being deleted with the finalizer `orphan` has its reference
 *    removed from every dependent, then the finalizer.
 * The API server only adds those finalizers (DeleteOptions.propagationPolicy);
 * every cascade happens here.
 *
 * Keys are object uids: one incarnation of one object. Handlers only queue uids;
 * `sync(uid)` reads the caches, confirms a missing owner with a live read (the
 * owner's informer may simply not have seen it yet), and writes with
 * compare-and-swap.
 */
import { RESOURCES, resourceForKind, type KObject, type OwnerReference, type ResourceInfo } from '../lib/api/resources.js';
import { Controller, type SyncResult } from '../lib/controller/index.js';
import { isNotFound } from '../lib/errors/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import type { ControllerContext, RunningController } from './context.js';
import { OwnerGraph, type GraphNode } from './owner-graph.js';

export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';

/** Events are many and own nothing; every other resource can be an owner or a dependent. */
const WATCHED = RESOURCES.filter((r) => r.kind !== 'Event');
/** Uids confirmed gone, so that their many dependents cost one read, not one each. */
const ABSENT_CACHE_SIZE = 8_192;

type OwnerState = 'solid' | 'dangling' | 'waiting';

export async function startGarbageCollectorController(ctx: ControllerContext): Promise<RunningController> {
  const informers = new Map<string, Informer>();
  await Promise.all(WATCHED.map(async (r) => informers.set(r.plural, await ctx.informers.get(r.plural))));
  return new GarbageCollector(ctx, informers).start();
}

const deleting = (obj: KObject | undefined, finalizer: string) => !!obj?.metadata?.deletionTimestamp && (obj.metadata.finalizers ?? []).includes(finalizer);

class GarbageCollector {
  private readonly graph = new OwnerGraph();
  private readonly absent = new Map<string, true>();
  private readonly controller: Controller;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly informers: Map<string, Informer>,
  ) {
    this.controller = new Controller({ name: 'garbage-collector', workers: ctx.options.workers, log: ctx.log, sync: (uid) => this.sync(uid) });
  }

  start(): RunningController {
    const offs = [...this.informers.values()].map((inf) => inf.on((ev) => this.onEvent(ev)));
    // Handlers are in place and nothing awaits in between: the lists and the
    // events that follow them miss nothing.
    const all: { r: ResourceInfo; o: KObject }[] = [];
    for (const r of WATCHED) for (const o of this.informers.get(r.plural)!.list(r)) all.push({ r, o });
    for (const { r, o } of all) this.graph.upsert(r, o);
    for (const { o } of all) this.check(o, []);
    this.controller.start();
    return {
      name: 'garbage-collector',
      stats: () => this.controller.stats(),
      stop: async () => {
        for (const off of offs) off();
        await this.controller.stop();
      },
    };
  }

  private onEvent(ev: InformerEvent): void {
    const uid = ev.object.metadata?.uid;
    if (!uid) return;
    if (ev.type === 'DELETED') {
      const gone = this.graph.remove(uid);
      // Background cascade: the dependents look at their owners again.
      for (const d of this.graph.dependentsOf(uid)) this.controller.enqueue(d.uid);
      for (const o of gone?.owners ?? []) this.wakeOwner(o.uid);
      return;
    }
    const added = this.graph.upsert(ev.key.resource, ev.object);
    if (added) this.check(ev.object, added.droppedOwners);
  }

  /** Queues an object when it may need the collector, and owners waiting on it. */
  private check(obj: KObject, droppedOwners: string[]): void {
    const uid = obj.metadata!.uid!;
    const owners = obj.metadata?.ownerReferences ?? [];
    if (deleting(obj, ORPHAN) || deleting(obj, FOREGROUND)) this.controller.enqueue(uid);
    // An owner not in the graph is gone, or not seen yet: sync finds out.
    else if (owners.some((o) => !this.graph.has(o.uid) || this.ownerObject(o.uid, (x) => deleting(x, FOREGROUND)))) this.controller.enqueue(uid);
    for (const u of droppedOwners) this.wakeOwner(u);
    if (obj.metadata?.deletionTimestamp) for (const o of owners) this.wakeOwner(o.uid);
  }

  /** An owner in foreground deletion looks again at what is left of its dependents. */
  private wakeOwner(ownerUid: string): void {
    if (this.ownerObject(ownerUid, (x) => deleting(x, FOREGROUND))) this.controller.enqueue(ownerUid);
  }

  private ownerObject(uid: string, test: (o: KObject) => boolean): boolean {
    const o = this.cached(this.graph.get(uid));
    return !!o && test(o);
  }

  /** The cached object of a graph node, if it is still that incarnation. */
  private cached(n: GraphNode | undefined): KObject | undefined {
    if (!n) return undefined;
    const o = this.informers.get(n.resource.plural)?.get(n.resource, n.namespace, n.name);
    return o?.metadata?.uid === n.uid ? o : undefined;
  }

  private async sync(uid: string): Promise<SyncResult> {
    const node = this.graph.get(uid);
    const obj = this.cached(node);
    if (!node || !obj) return;
    if (obj.metadata?.deletionTimestamp) {
      if (deleting(obj, ORPHAN)) await this.orphanDependents(node, obj);
      else if (deleting(obj, FOREGROUND)) await this.deleteDependents(node, obj);
      return; // Being deleted otherwise: nothing to do until it is gone.
    }
    if (node.owners.length === 0) return;
    const states = await Promise.all(node.owners.map(async (o) => [o, await this.ownerState(node, o)] as const));
    const solid = states.filter(([, s]) => s === 'solid');
    const gone = states.filter(([, s]) => s !== 'solid').map(([o]) => o.uid);
    if (gone.length === 0) return;
    if (solid.length > 0) {
      // Still owned: only the references to owners that are gone (or going in the foreground) are dropped.
      const ownerReferences = (obj.metadata!.ownerReferences ?? []).filter((o) => !gone.includes(o.uid));
      await this.ctx.client.update({ ...obj, metadata: { ...obj.metadata, ownerReferences } });
      return;
    }
    // Owned by nothing any more: it goes too — in the foreground when an owner waits for it and it has dependents of its own.
    const waited = states.some(([, s]) => s === 'waiting');
    const propagationPolicy = waited && this.graph.dependentsOf(uid).length > 0 ? 'Foreground' : 'Background';
    this.ctx.log(`garbage-collector: deleting ${node.resource.plural} ${node.namespace ? `${node.namespace}/` : ''}${node.name} (${propagationPolicy}): its owners are gone`);
    await this.ctx.client.delete(node.resource, node.namespace, node.name, { preconditions: { uid }, propagationPolicy }).catch(ignoreNotFound);
  }

  /**
   * Whether the owner a reference names still exists (`solid`), is gone
   * (`dangling`), or is being deleted in the foreground (`waiting`). A miss in
   * the cache is confirmed with a live read before anything is deleted.
   */
  private async ownerState(dependent: GraphNode, ref: OwnerReference): Promise<OwnerState> {
    if (this.absent.has(ref.uid)) return 'dangling';
    const r = resourceForKind(ref.kind);
    // A kind this server does not serve, or a namespaced owner of a cluster-scoped
    // object, cannot be checked: never a reason to delete.
    if (!r || groupOf(ref.apiVersion) !== r.group || (r.namespaced && !dependent.namespace)) return 'solid';
    const namespace = r.namespaced ? dependent.namespace : '';
    let owner = this.informers.get(r.plural)?.get(r, namespace, ref.name);
    if (owner?.metadata?.uid !== ref.uid) {
      try {
        owner = await this.ctx.client.get(r, namespace, ref.name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        owner = undefined;
      }
    }
    if (owner?.metadata?.uid !== ref.uid) {
      this.rememberAbsent(ref.uid);
      return 'dangling';
    }
    return deleting(owner, FOREGROUND) ? 'waiting' : 'solid';
  }

  private rememberAbsent(uid: string): void {
    if (this.absent.size >= ABSENT_CACHE_SIZE) this.absent.delete(this.absent.keys().next().value!);
    this.absent.set(uid, true);
  }

  /** Foreground: every dependent is queued for deletion; the finalizer goes once no blocking one is left. */
  private async deleteDependents(node: GraphNode, owner: KObject): Promise<void> {
    const dependents = this.graph.dependentsOf(node.uid);
    for (const d of dependents) this.controller.enqueue(d.uid);
    if (this.graph.blockingDependentsOf(node.uid).length > 0) return; // their deletions wake this owner
    await this.removeFinalizer(owner, FOREGROUND);
  }

  /** Orphan: the owner's reference leaves every dependent, then the finalizer leaves the owner. */
  private async orphanDependents(node: GraphNode, owner: KObject): Promise<void> {
    for (const d of this.graph.dependentsOf(node.uid)) {
      const dep = this.cached(d);
      if (!dep) continue;
      const ownerReferences = (dep.metadata?.ownerReferences ?? []).filter((o) => o.uid !== node.uid);
      await this.ctx.client.update({ ...dep, metadata: { ...dep.metadata, ownerReferences } }).catch(ignoreNotFound);
    }
    await this.removeFinalizer(owner, ORPHAN);
  }

  private async removeFinalizer(obj: KObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
    await this.ctx.client.update({ ...obj, metadata: { ...obj.metadata, finalizers } }).catch(ignoreNotFound);
  }
}

function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

function ignoreNotFound(e: unknown): void {
  if (!isNotFound(e)) throw e;
}

