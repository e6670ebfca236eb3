/**
 * ControllerRef bookkeeping (Kubernetes' ControllerRefManager): an owner
 * claims the objects its selector matches. One it controls stays its own while
 * it matches and is released (its ownerReference removed) when it stops
 * matching; an orphan that matches is adopted (an ownerReference with
 * controller=true added). Both writes are patches that name the object's uid,
 * so they never land on a namesake created since; adoption first re-reads the
 * owner from the API, so an owner being deleted adopts nothing.
 */
import type { KObject, OwnerReference, ResourceInfo } from '../../lib/api/resources.js';
import type { KeelsonClient } from '../../lib/client/index.js';
import { isNotFound } from '../../lib/errors/index.js';
import type { Selector } from '../../lib/selectors/index.js';

/** The owner reference that makes `owner` the controller of what carries it. */
export function controllerRefTo(owner: KObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata!.name!,
    uid: owner.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function controllerRefOf(obj: KObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** The owner named by a controller reference, if it is that incarnation (same uid) and of that kind. */
export function resolveControllerRef<T extends KObject>(ref: OwnerReference | undefined, kind: string, lookup: (name: string) => T | undefined): T | undefined {
  if (!ref || ref.kind !== kind) return undefined;
  const owner = lookup(ref.name);
  return owner?.metadata?.uid === ref.uid ? owner : undefined;
}

export type ClaimOptions = {
  client: KeelsonClient;
  owner: KObject;
  ownerResource: ResourceInfo;
  selector: Selector;
  /** What the owner claims: pods for ReplicaSets, ReplicaSets for Deployments. */
  resource: ResourceInfo;
};

/** Fails unless the owner, read fresh from the API, is the same incarnation and not being deleted. */
async function recheckOwner(o: ClaimOptions): Promise<void> {
  const meta = o.owner.metadata!;
  const fresh = await o.client.get(o.ownerResource, meta.namespace, meta.name!);
  if (fresh.metadata?.uid !== meta.uid) {
    throw new Error(`original ${o.owner.kind} ${meta.namespace}/${meta.name} is gone: got uid ${fresh.metadata?.uid}, wanted ${meta.uid}`);
  }
  if (fresh.metadata?.deletionTimestamp) {
    throw new Error(`${o.owner.kind} ${meta.namespace}/${meta.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }
}

/**
 * The objects the owner controls after adopting and releasing. Every object is
 * looked at even when one write fails; the first failure is thrown after.
 */
export async function claimObjects<T extends KObject>(o: ClaimOptions, objects: T[]): Promise<T[]> {
  const ownerUid = o.owner.metadata!.uid!;
  const ownerDeleting = !!o.owner.metadata?.deletionTimestamp;
  const claimed: T[] = [];
  let checked: Promise<void> | undefined;
  let failure: unknown;
  for (const obj of objects) {
    const ref = controllerRefOf(obj);
    const matches = o.selector.matches(obj.metadata?.labels);
    try {
      if (ref) {
        if (ref.uid !== ownerUid) continue;
        if (matches) claimed.push(obj);
        else if (!ownerDeleting) await release(o, obj);
        continue;
      }
      if (ownerDeleting || !matches || obj.metadata?.deletionTimestamp) continue;
      checked ??= recheckOwner(o);
      await checked;
      const adopted = await adopt(o, obj);
      if (adopted) claimed.push(adopted as T);
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
  return claimed;
}

async function adopt(o: ClaimOptions, obj: KObject): Promise<KObject | undefined> {
  const meta = obj.metadata!;
  const patch = { metadata: { ownerReferences: [controllerRefTo(o.owner)], uid: meta.uid } };
  try {
    return await o.client.patch(o.resource, meta.namespace, meta.name!, 'strategic', patch);
  } catch (e) {
    if (isNotFound(e)) return undefined; // gone meanwhile: nothing to adopt
    throw e;
  }
}

async function release(o: ClaimOptions, obj: KObject): Promise<void> {
  const meta = obj.metadata!;
  const patch = { metadata: { ownerReferences: [{ $patch: 'delete', uid: o.owner.metadata!.uid }], uid: meta.uid } };
  try {
    await o.client.patch(o.resource, meta.namespace, meta.name!, 'strategic', patch);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
