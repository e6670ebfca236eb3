/**
 * How objects go away. Most are removed at once; a pod bound to a node is
 * deleted gracefully (deletionTimestamp set, its kubelet stops the containers and
 * then removes it with grace 0); objects with finalizers wait for them; a
 * namespace takes everything inside it along. Whatever leaves the store gives
 * back its Service allocations (cluster IP, node ports) at once.
 */
import { RESOURCES, resourceForKind, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { ApiError, errors, isNotFound } from '../../lib/errors/index.js';
import type { Registry } from './index.js';
import { clone } from './strategy.js';

export type DeleteOptions = {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
};

const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-node-lease', 'kube-public']);

export async function deleteObject(registry: Registry, resource: ResourceInfo, old: KObject, opts: DeleteOptions): Promise<KObject> {
  const meta = old.metadata!;
  checkPreconditions(resource, old, opts);
  if (resource.kind === 'Namespace') return deleteNamespace(registry, old, opts);
  const finalizers = policyFinalizers(meta.finalizers ?? [], opts.propagationPolicy);
  if (resource.kind === 'Pod') {
    const grace = podGracePeriod(old, opts);
    if (grace > 0) return markDeleting(registry, resource, old, grace, opts, finalizers);
  }
  // Finalizers hold every object, a pod at grace 0 too, until the last one is removed.
  if (finalizers.length) return markDeleting(registry, resource, old, 0, opts, finalizers);
  if (opts.dryRun) return old;
  await registry.store.delete(resource, meta.namespace ?? '', meta.name!, Number(meta.resourceVersion));
  await registry.allocations.removed(resource, old);
  return old;
}

function checkPreconditions(resource: ResourceInfo, old: KObject, opts: DeleteOptions): void {
  const p = opts.preconditions;
  const meta = old.metadata!;
  if (p?.uid && p.uid !== meta.uid) {
    throw errors.conflict(resource.plural, meta.name!, `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${meta.uid}`);
  }
  if (p?.resourceVersion && p.resourceVersion !== meta.resourceVersion) {
    throw errors.conflict(
      resource.plural,
      meta.name!,
      `Precondition failed: ResourceVersion in precondition: ${p.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`,
    );
  }
}

/**
 * The grace a pod gets: none when no kubelet has it (unbound or finished), else
 * the request's or the pod's own `terminationGracePeriodSeconds`.
 */
function podGracePeriod(pod: KObject, opts: DeleteOptions): number {
  const spec = (pod.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  return Math.max(0, opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30);
}

/**
 * Cascading deletion is the garbage collector's (services/controller-manager/
 * garbage-collector.controller.ts): Foreground and Orphan only leave it a
 * finalizer to act on, as in Kubernetes; Background (what happens without a
 * policy too) needs nothing here, and takes back a policy asked for before.
 */
function policyFinalizers(finalizers: string[], policy: DeleteOptions['propagationPolicy']): string[] {
  if (!policy) return finalizers;
  const others = finalizers.filter((f) => f !== 'orphan' && f !== 'foregroundDeletion');
  if (policy === 'Foreground') return [...others, 'foregroundDeletion'];
  if (policy === 'Orphan') return [...others, 'orphan'];
  return others;
}

async function markDeleting(
  registry: Registry,
  resource: ResourceInfo,
  old: KObject,
  grace: number,
  opts: DeleteOptions,
  finalizers: string[],
): Promise<KObject> {
  const meta = old.metadata!;
  const deadline = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sameFinalizers = finalizers.length === (meta.finalizers?.length ?? 0) && finalizers.every((f, i) => f === meta.finalizers![i]);
  // Already terminating: only a shorter grace period, or another propagation policy, changes anything.
  const shorter = !meta.deletionTimestamp || (meta.deletionGracePeriodSeconds ?? 0) > grace;
  if (!shorter && sameFinalizers) return old;
  const next = clone(old);
  if (finalizers.length || meta.finalizers) next.metadata!.finalizers = finalizers;
  if (shorter) {
    next.metadata!.deletionTimestamp = deadline;
    next.metadata!.deletionGracePeriodSeconds = grace;
  }
  if (opts.dryRun) return next;
  return registry.store.update(resource, next, Number(meta.resourceVersion));
}

async function deleteNamespace(registry: Registry, ns: KObject, opts: DeleteOptions): Promise<KObject> {
  const name = ns.metadata!.name!;
  if (PROTECTED_NAMESPACES.has(name)) throw new ApiError('Forbidden', `namespace "${name}" is protected and may not be deleted`);
  if (opts.dryRun) return ns;
  const namespaces = resourceForKind('Namespace')!;
  let terminating = ns;
  if (!ns.metadata?.deletionTimestamp) {
    const next = clone(ns);
    next.metadata!.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    next.status = { ...(next.status as object), phase: 'Terminating' };
    terminating = await registry.store.update(namespaces, next, Number(ns.metadata!.resourceVersion));
  }
  void purgeNamespace(registry, name).catch((e) => console.error(`namespace ${name}: cleanup failed:`, e));
  return terminating;
}

/**
 * Deletes everything in a terminating namespace, then the namespace itself.
 * Every scan starts from a cache that holds every acknowledged write, the
 * terminating mark included: a create that lands later sees that mark when it
 * checks the namespace again, and takes its object back (see the registry).
 */
async function purgeNamespace(registry: Registry, name: string): Promise<void> {
  const namespaces = resourceForKind('Namespace')!;
  for (let round = 0; round < 60; round++) {
    await registry.cache.fresh();
    let left = 0;
    for (const r of RESOURCES.filter((x) => x.namespaced)) {
      for (const o of registry.cache.list(r, name)) {
        left++;
        await registry.store.delete(r, name, o.metadata!.name!).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
        await registry.allocations.removed(r, o);
      }
    }
    if (left === 0) break;
  }
  const ns = await registry.store.get(namespaces, '', name);
  if (ns) await registry.store.delete(namespaces, '', name, Number(ns.metadata!.resourceVersion));
}
