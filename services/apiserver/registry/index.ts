/**
 * The registry: every API operation, once. The HTTP routes and the NATS service
 * parse their requests into these calls and render what comes back; validation,
 * defaulting, admission and storage happen here and nowhere else.
 */
import { resourceForKind, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { unknownFields } from '../../lib/codec/index.js';
import { ApiError, errors, isConflict, isNotFound } from '../../lib/errors/index.js';
import { parseFieldSelector, parseLabelSelector } from '../../lib/selectors/index.js';
import type { Store } from '../../lib/store/index.js';
import { applyPatch, PatchError, type PatchType } from '../patch/index.js';
import type { WatchCache, WatchEvent, Watcher } from '../watch-cache/index.js';
import { applyDefaults } from './defaults.js';
import { deleteObject, type DeleteOptions } from './deletion.js';
import { getScale, scaleToReplicas } from './scale.js';
import { clone, now, prepareForCreate, prepareForStatusUpdate, prepareForUpdate, sameObject } from './strategy.js';
import { validateCreate, validateUpdate } from './validation/index.js';

export type { DeleteOptions } from './deletion.js';

export type WriteOptions = {
  dryRun?: boolean;
  /** kubectl's fieldValidation: unknown fields fail (Strict), warn (Warn) or pass (Ignore). */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** Collected Kubernetes warnings (sent as `Warning` headers on HTTP). */
  warnings?: string[];
};

export type ListOptions = {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
};

export type ListResult = { items: KObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number };

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-node-lease', 'kube-public'];

const namespaces = resourceForKind('Namespace')!;
const pods = resourceForKind('Pod')!;
/** How often a patch is retried when another writer got in between. */
const PATCH_RETRIES = 5;

export class Registry {
  constructor(
    readonly store: Store,
    readonly cache: WatchCache,
  ) {}

  /** Creates the namespaces every cluster has from the start. */
  async bootstrap(): Promise<void> {
    for (const name of SYSTEM_NAMESPACES) {
      const exists = await this.store.get(namespaces, '', name);
      if (exists) continue;
      await this.create(namespaces, '', { metadata: { name } }).catch((e) => {
        if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
      });
    }
  }

  /** A read of one object, always as fresh as the store. */
  async get(resource: ResourceInfo, namespace: string, name: string): Promise<KObject> {
    const obj = await this.store.get(resource, namespace, name);
    if (!obj) throw errors.notFound(resource.plural, name, resource.group);
    return obj;
  }

  async list(resource: ResourceInfo, namespace: string, opts: ListOptions = {}): Promise<ListResult> {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, resource.kind);
    const revision = await this.cache.fresh();
    const items = this.cache
      .list(resource, namespace || undefined)
      .filter((o) => labels.matches(o.metadata?.labels) && fields.matches(o))
      .sort(byNamespaceAndName);
    return paginate(items, String(revision), opts);
  }

  watch(
    resource: ResourceInfo,
    namespace: string,
    opts: ListOptions & { resourceVersion?: string },
    send: (e: WatchEvent) => void,
  ): Watcher {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, resource.kind);
    const rv = opts.resourceVersion;
    const fromRevision = rv === undefined || rv === '' || rv === '0' ? undefined : parseRevision(rv);
    return this.cache.watch(
      { resource, namespace: namespace || undefined, fromRevision, matches: (o) => labels.matches(o.metadata?.labels) && fields.matches(o) },
      send,
    );
  }

  async create(resource: ResourceInfo, namespace: string, body: unknown, opts: WriteOptions = {}): Promise<KObject> {
    const obj = this.decodeBody(resource, body, opts);
    checkKind(resource, obj);
    const bodyNs = obj.metadata?.namespace;
    if (resource.namespaced && bodyNs && namespace && bodyNs !== namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (obj.metadata?.resourceVersion) {
      throw errors.badRequest('resourceVersion should not be set on objects to be created');
    }
    const ns = resource.namespaced ? namespace || bodyNs || 'default' : '';
    if (resource.namespaced) await this.requireNamespace(ns);
    prepareForCreate(resource, obj, ns);
    applyDefaults(resource.kind, obj);
    this.checkValid(resource, obj, validateCreate(resource.kind, obj));
    if (opts.dryRun) return obj;
    return this.store.create(resource, obj);
  }

  /** PUT of the main resource or of `/status`. */
  async update(
    resource: ResourceInfo,
    namespace: string,
    name: string,
    body: unknown,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<KObject> {
    const obj = this.decodeBody(resource, body, opts);
    checkKind(resource, obj);
    if (obj.metadata?.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const old = await this.get(resource, namespace, name);
    const wanted = obj.metadata?.resourceVersion;
    if (wanted && wanted !== old.metadata?.resourceVersion) {
      throw errors.conflict(
        resource.plural,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
        resource.group,
      );
    }
    return this.writeUpdate(resource, { ...obj, metadata: { ...obj.metadata, name } }, old, opts);
  }

  async patch(
    resource: ResourceInfo,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<KObject> {
    for (let attempt = 0; ; attempt++) {
      let old: KObject;
      try {
        old = await this.get(resource, namespace, name);
      } catch (e) {
        // Server-side apply creates what does not exist yet.
        if (type === 'apply' && isNotFound(e)) return this.create(resource, namespace, patch, opts);
        throw e;
      }
      let patched: KObject;
      try {
        patched = applyPatch(type, old, patch, resource.kind) as KObject;
      } catch (e) {
        if (e instanceof PatchError) throw errors.badRequest(e.message);
        throw e;
      }
      if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) {
        throw errors.badRequest('the patch did not produce an object');
      }
      try {
        const wanted = patched.metadata?.resourceVersion;
        if (wanted && wanted !== old.metadata?.resourceVersion) {
          throw errors.conflict(resource.plural, name, 'the resourceVersion in the patch is not the current one', resource.group);
        }
        return await this.writeUpdate(resource, this.decodeBody(resource, patched, opts), old, opts);
      } catch (e) {
        // Another writer got in between our read and write: patch the new version.
        if (isConflict(e) && !(patch as KObject)?.metadata?.resourceVersion && attempt < PATCH_RETRIES) continue;
        throw e;
      }
    }
  }

  async delete(resource: ResourceInfo, namespace: string, name: string, opts: DeleteOptions = {}): Promise<KObject> {
    const old = await this.get(resource, namespace, name);
    return deleteObject(this, resource, old, opts);
  }

  async deleteCollection(resource: ResourceInfo, namespace: string, list: ListOptions, opts: DeleteOptions = {}): Promise<ListResult> {
    const { items, resourceVersion } = await this.list(resource, namespace, list);
    const deleted: KObject[] = [];
    for (const o of items) {
      try {
        deleted.push(await this.delete(resource, o.metadata?.namespace ?? '', o.metadata!.name!, opts));
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return { items: deleted, resourceVersion };
  }

  /** POST pods/{name}/binding: assigns the pod to a node, once. */
  async bind(namespace: string, name: string, body: unknown, opts: WriteOptions = {}): Promise<KObject> {
    const binding = (body ?? {}) as { target?: { name?: string; kind?: string } };
    const node = binding.target?.name;
    if (!node) {
      throw errors.invalid('Binding', name, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
    }
    const pod = await this.get(pods, namespace, name);
    const spec = (pod.spec ?? {}) as { nodeName?: string };
    if (spec.nodeName) throw errors.conflict('pods/binding', name, `pod ${name} is already assigned to node "${spec.nodeName}"`);
    if (pod.metadata?.deletionTimestamp) throw errors.conflict('pods/binding', name, `pod ${name} is being deleted, cannot be assigned to a host`);
    const next = clone(pod);
    (next.spec as { nodeName?: string }).nodeName = node;
    const status = ((next.status as Record<string, unknown>) ??= {});
    const conditions = ((status.conditions as Record<string, unknown>[]) ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: now() });
    status.conditions = conditions;
    if (opts.dryRun) return next;
    return this.store.update(pods, next, Number(pod.metadata!.resourceVersion));
  }

  async getScale(resource: ResourceInfo, namespace: string, name: string): Promise<KObject> {
    return getScale(resource, await this.get(resource, namespace, name));
  }

  /** PUT or PATCH of `/scale`: the replica count goes to the owner's spec. */
  async updateScale(
    resource: ResourceInfo,
    namespace: string,
    name: string,
    change: (scale: KObject) => KObject,
    opts: WriteOptions = {},
  ): Promise<KObject> {
    const old = await this.get(resource, namespace, name);
    const scale = change(getScale(resource, old));
    const next = scaleToReplicas(resource, old, scale);
    const written = await this.writeUpdate(resource, next, old, opts);
    return getScale(resource, written);
  }

  /** The shared tail of update and patch: strategy, defaults, validation, CAS. */
  async writeUpdate(
    resource: ResourceInfo,
    obj: KObject,
    old: KObject,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<KObject> {
    checkKind(resource, obj);
    let next: KObject;
    if (opts.subresource === 'status') next = prepareForStatusUpdate(obj, old);
    else {
      next = clone(obj);
      prepareForUpdate(resource, next, old);
    }
    applyDefaults(resource.kind, next);
    this.checkValid(resource, next, validateUpdate(resource.kind, next, old));
    if (sameObject(next, old)) return old;
    if (opts.dryRun) return next;
    const rev = Number(old.metadata!.resourceVersion);
    // The last finalizer is gone from an object being deleted: it can go now.
    if (next.metadata?.deletionTimestamp && !next.metadata.finalizers?.length && resource.kind !== 'Pod') {
      await this.store.delete(resource, next.metadata.namespace ?? '', next.metadata.name!, rev);
      return next;
    }
    return this.store.update(resource, next, rev);
  }

  private async requireNamespace(name: string): Promise<void> {
    const ns = this.cache.get(namespaces, '', name) ?? (await this.store.get(namespaces, '', name));
    if (!ns) throw errors.notFound('namespaces', name);
    if (ns.metadata?.deletionTimestamp) {
      throw new ApiError('Forbidden', `unable to create new content in namespace ${name} because it is being terminated`);
    }
  }

  private decodeBody(resource: ResourceInfo, body: unknown, opts: WriteOptions): KObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw errors.badRequest(`the body of the request must be a ${resource.kind} object`);
    }
    const obj = clone(body) as KObject;
    if (opts.fieldValidation !== 'Ignore') {
      const unknown = unknownFields(resource.protoType, obj);
      if (unknown.length && opts.fieldValidation === 'Strict') {
        throw errors.badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
      }
      for (const f of unknown) opts.warnings?.push(`unknown field "${f}"`);
    }
    return obj;
  }

  private checkValid(resource: ResourceInfo, obj: KObject, causes: { field?: string; message: string; reason?: string }[]): void {
    if (causes.length) throw errors.invalid(resource.kind, obj.metadata?.name ?? obj.metadata?.generateName ?? '', causes, resource.group);
  }
}

function checkKind(resource: ResourceInfo, obj: KObject): void {
  if (obj.kind && obj.kind !== resource.kind) {
    throw errors.badRequest(`the kind of the object (${obj.kind}) does not match the resource (${resource.plural}: ${resource.kind})`);
  }
  const gv = resource.group ? `${resource.group}/${resource.version}` : resource.version;
  if (obj.apiVersion && obj.apiVersion !== gv) {
    throw errors.badRequest(`the apiVersion of the object (${obj.apiVersion}) does not match the resource's (${gv})`);
  }
}

function parseRevision(rv: string): number {
  const n = Number(rv);
  if (!Number.isInteger(n) || n < 0) throw errors.badRequest(`invalid resourceVersion "${rv}": it must be a non-negative integer`);
  return n;
}

function byNamespaceAndName(a: KObject, b: KObject): number {
  const ka = `${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`;
  const kb = `${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** `limit` + `continue` over a sorted list; the token carries the last key. */
function paginate(items: KObject[], resourceVersion: string, opts: ListOptions): ListResult {
  let start = 0;
  if (opts.continue) {
    let after: string;
    try {
      after = JSON.parse(Buffer.from(opts.continue, 'base64url').toString()).k;
    } catch {
      throw errors.badRequest('the continue token is not valid; list again without it');
    }
    start = items.findIndex((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}` > after);
    if (start < 0) start = items.length;
  }
  const limit = opts.limit && opts.limit > 0 ? opts.limit : items.length;
  const page = items.slice(start, start + limit);
  const rest = items.length - (start + page.length);
  if (rest <= 0) return { items: page, resourceVersion };
  const lastItem = page[page.length - 1]!;
  const k = `${lastItem.metadata?.namespace ?? ''}/${lastItem.metadata?.name}`;
  return {
    items: page,
    resourceVersion,
    continue: Buffer.from(JSON.stringify({ k, rv: resourceVersion })).toString('base64url'),
    remainingItemCount: rest,
  };
}
