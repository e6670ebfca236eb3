/**
 * Per-kind rules for how a write turns into the stored object: what a create
 * resets, what an update may not touch, when the generation moves. The HTTP and
 * NATS edges both go through these (via the registry), so each rule lives once.
 */
import { randomUUID } from 'node:crypto';
import type { KObject, ResourceInfo } from '../../lib/api/resources.js';

/** Kinds whose status a client cannot set on create (controllers and kubelets own it). */
const STATUS_RESET_ON_CREATE = new Set(['Pod', 'Service', 'ReplicationController', 'ReplicaSet', 'Deployment']);

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}

/** The suffix Kubernetes appends to generateName: 5 chars, no vowels. */
export function randomSuffix(n = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** Fills what the server owns on a new object. */
export function prepareForCreate(resource: ResourceInfo, obj: KObject, namespace: string): void {
  const meta = (obj.metadata ??= {});
  if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
  if (resource.namespaced) meta.namespace = namespace;
  else delete meta.namespace;
  meta.uid = randomUUID();
  meta.creationTimestamp = now();
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  obj.apiVersion = resource.group ? `${resource.group}/${resource.version}` : resource.version;
  obj.kind = resource.kind;
  if (STATUS_RESET_ON_CREATE.has(resource.kind)) delete obj.status;
}

/** What an update of the main resource keeps from the stored object. */
export function prepareForUpdate(resource: ResourceInfo, obj: KObject, old: KObject): void {
  const meta = (obj.metadata ??= {});
  const oldMeta = old.metadata ?? {};
  meta.uid = oldMeta.uid;
  meta.creationTimestamp = oldMeta.creationTimestamp;
  meta.generation = oldMeta.generation;
  meta.namespace = oldMeta.namespace;
  if (oldMeta.deletionTimestamp) {
    meta.deletionTimestamp = oldMeta.deletionTimestamp;
    meta.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds;
  } else {
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
  }
  obj.apiVersion = old.apiVersion;
  obj.kind = old.kind;
  if (resource.subresources.includes('status')) {
    if (old.status === undefined) delete obj.status;
    else obj.status = old.status;
  }
  if (specChanged(obj, old)) meta.generation = (oldMeta.generation ?? 0) + 1;
}

/** A status update changes status and nothing else. */
export function prepareForStatusUpdate(obj: KObject, old: KObject): KObject {
  const next = clone(old);
  if (obj.status === undefined) delete next.status;
  else next.status = obj.status;
  return next;
}

function specChanged(obj: KObject, old: KObject): boolean {
  const keys = new Set([...Object.keys(obj), ...Object.keys(old)]);
  for (const k of keys) {
    if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
    if (!deepEqual(obj[k], old[k])) return true;
  }
  return false;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a as object).filter((k) => (a as any)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as any)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as any)[k], (b as any)[k]));
}

/** Equal apart from the resourceVersion: such an update writes nothing. */
export function sameObject(a: KObject, b: KObject): boolean {
  const strip = (o: KObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return deepEqual(strip(a), strip(b));
}
