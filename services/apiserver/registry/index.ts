/**
 * The registry: every API operation, once. The HTTP routes and the NATS service
 * parse their requests into these calls and render what comes back; validation,
 * defaulting, admission, Service IP / node port allocation (service-allocations.ts)
 * and storage happen here and nowhere else.
 */
import { resourceForKind, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { CodecError, decodeObject, encodeObject, unknownFields } from '../../lib/codec/index.js';
import { ApiError, errors, isConflict, isNotFound } from '../../lib/errors/index.js';
import { parseFieldSelector, parseLabelSelector } from '../../lib/selectors/index.js';
import { invalidValue, storeKey, type Store } from '../../lib/store/index.js';
import { applyPatch, PatchError, type PatchType } from '../patch/index.js';
import type { ServiceAllocator } from '../allocation/index.js';
import type { WatchCache, WatchEvent, Watcher } from '../watch-cache/index.js';
import type { WriteFence } from '../fencing.js';
import { applyDefaults } from './defaults.js';
import { deleteObject, type DeleteOptions } from './deletion.js';
import { getScale, scaleToReplicas } from './scale.js';
import { clone, now, prepareForCreate, prepareForStatusUpdate, prepareForUpdate, sameObject } from './strategy.js';
import { ServiceAllocations } from './service-allocations.js';
import { validateCreate, validateStatusUpdate, validateUpdate, type ValidationOptions } from './validation/index.js';

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

export type RegistryOptions = {
  /** Cluster IPs and node ports for Services; without one, Services keep what the client sent. */
  allocator?: ServiceAllocator;
  validation?: ValidationOptions;
};

export type ListResult = { items: KObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number };

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-node-lease', 'kube-public'];

const namespaces = resourceForKind('Namespace')!;
const pods = resourceForKind('Pod')!;
/**
 * How often a read-modify-write (patch, scale) starts over when another writer
 * got in between, as Kubernetes' GuaranteedUpdate does; bounded so that one hot
 * object cannot keep a request spinning.
 */
const CONFLICT_RETRIES = 50;

async function retryOnConflict<T>(retryable: boolean | (() => boolean), attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      const again = typeof retryable === 'function' ? retryable() : retryable;
      if (!isConflict(e) || !again || n >= CONFLICT_RETRIES) throw e;
    }
  }
}

export class Registry {
  readonly allocations: ServiceAllocations;
  private readonly validation: ValidationOptions;

  constructor(
    readonly store: Store,
    readonly cache: WatchCache,
    private readonly fencing?: WriteFence,
    opts: RegistryOptions = {},
  ) {
    this.allocations = new ServiceAllocations(store, opts.allocator);
    this.validation = { serviceNodePortRange: opts.allocator?.nodePortRange, ...opts.validation };
  }

  /**
   * Before any write, from both edges: a leader token whose term was superseded
   * is refused with 409, a malformed one with 400 (services/apiserver/fencing.ts).
   */
  async fence(token: string | undefined): Promise<void> {
    if (token) await this.fencing?.check(token);
  }

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

  /**
   * A read of one object, served as lists are: from the watch cache once it
   * holds every write the store has acknowledged (`fresh`), so as fresh as
   * the store, and from what the cache holds while the store has no quorum
   * (a replica's direct get could miss a write just acknowledged; the stream
   * leader's own get goes unanswered for ~20 s after it lost its quorum).
   * The object is the cache's own: never change it (see `getForUpdate`).
   */
  async get(resource: ResourceInfo, namespace: string, name: string): Promise<KObject> {
    // A name or namespace too long to be stored is a 400, as it is for a write.
    storeKey(resource, namespace, name);
    // The cache keys objects `namespace/name`: a `/` in either names nothing (never another namespace's object).
    const namesNothing = name.includes('/') || (resource.namespaced && namespace.includes('/'));
    const obj = namesNothing ? undefined : (await this.cache.fresh(), this.cache.get(resource, namespace, name));
    if (!obj) throw errors.notFound(resource.plural, name, resource.group);
    return obj;
  }

  /** As `get`, this caller's own copy: a change is built on it, and defaulting changes parts of it in place. */
  private async getForUpdate(resource: ResourceInfo, namespace: string, name: string): Promise<KObject> {
    return clone(await this.get(resource, namespace, name));
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
    this.checkValid(resource, obj, validateCreate(resource.kind, obj, this.validation));
    const taken = await this.allocations.take(resource, obj, undefined, opts);
    if (opts.dryRun) return obj;
    try {
      const created = await this.store.create(resource, obj);
      if (resource.namespaced) await this.recheckNamespace(resource, created);
      return created;
    } catch (e) {
      await taken.undo();
      throw e;
    }
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
    const bodyNs = obj.metadata?.namespace;
    if (resource.namespaced && bodyNs && namespace && bodyNs !== namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const old = await this.getForUpdate(resource, namespace, name);
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

  /**
   * Applies a patch to the current object. Server-side apply creates what does
   * not exist yet; `created` tells the edges to answer 201.
   */
  async patch(
    resource: ResourceInfo,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<{ object: KObject; created: boolean }> {
    // A patch that names a resourceVersion is a precondition: its conflict stands.
    const pinned = !!(patch as KObject | undefined)?.metadata?.resourceVersion;
    return retryOnConflict(!pinned, async () => {
      let old: KObject;
      try {
        old = await this.getForUpdate(resource, namespace, name);
      } catch (e) {
        if (type === 'apply' && isNotFound(e)) return { object: await this.create(resource, namespace, patch, opts), created: true };
        throw e;
      }
      let patched: KObject;
      try {
        patched = applyPatch(type, old, patch, resource.kind) as KObject;
      } catch (e) {
        // A malformed patch is a 400; one that cannot apply to this object (a
        // failed `test`, a missing path) is a 422, as in Kubernetes.
        if (e instanceof PatchError) throw new ApiError(e.reason, e.message);
        throw e;
      }
      if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) {
        throw errors.badRequest('the patch did not produce an object');
      }
      const wanted = patched.metadata?.resourceVersion;
      if (wanted && wanted !== old.metadata?.resourceVersion) {
        throw errors.conflict(resource.plural, name, 'the resourceVersion in the patch is not the current one', resource.group);
      }
      return { object: await this.writeUpdate(resource, this.decodeBody(resource, patched, opts), old, opts), created: false };
    });
  }

  async delete(resource: ResourceInfo, namespace: string, name: string, opts: DeleteOptions = {}): Promise<KObject> {
    const old = await this.getForUpdate(resource, namespace, name);
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
    // `pod` is the cache's own (`get`): only copies of the parts that change are changed.
    const status = (pod.status ?? {}) as Record<string, unknown>;
    const conditions = ((status.conditions as Record<string, unknown>[]) ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: now() });
    const next: KObject = { ...pod, spec: { ...spec, nodeName: node }, status: { ...status, conditions } };
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
    let pinned = false;
    return retryOnConflict(() => !pinned, async () => {
      const old = await this.getForUpdate(resource, namespace, name);
      const scale = change(getScale(resource, old));
      pinned = !!scale.metadata?.resourceVersion && scale.metadata.resourceVersion !== old.metadata?.resourceVersion;
      const next = scaleToReplicas(resource, old, scale);
      return getScale(resource, await this.writeUpdate(resource, next, old, opts));
    });
  }

  /** The shared tail of update and patch: strategy, defaults, validation, CAS. */
  async writeUpdate(
    resource: ResourceInfo,
    obj: KObject,
    old: KObject,
    opts: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<KObject> {
    checkKind(resource, obj);
    // A uid names one incarnation: a write meant for an object since deleted and
    // created again under the same name must not land on the new one.
    const uid = obj.metadata?.uid;
    if (uid && uid !== old.metadata?.uid) {
      throw errors.conflict(resource.plural, old.metadata!.name!, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old.metadata?.uid}`, resource.group);
    }
    let next: KObject;
    if (opts.subresource === 'status') next = prepareForStatusUpdate(obj, old);
    else {
      next = clone(obj);
      prepareForUpdate(resource, next, old);
      this.allocations.prepareUpdate(resource, next, old);
    }
    applyDefaults(resource.kind, next);
    // A status write keeps the stored spec: it answers to the status rules
    // (phases, conditions, IPs), not to the spec's.
    const causes =
      opts.subresource === 'status' ? validateStatusUpdate(resource.kind, next, old) : validateUpdate(resource.kind, next, old, this.validation);
    this.checkValid(resource, next, causes);
    if (sameObject(next, old)) return old;
    const rev = Number(old.metadata!.resourceVersion);
    // The last finalizer is gone from an object being deleted: it can go now —
    // a pod only once its grace is over (its kubelet then deletes it with grace 0).
    const meta = next.metadata;
    if (meta?.deletionTimestamp && !meta.finalizers?.length && (resource.kind !== 'Pod' || meta.deletionGracePeriodSeconds === 0)) {
      if (opts.dryRun) return next;
      await this.store.delete(resource, meta.namespace ?? '', meta.name!, rev);
      await this.allocations.removed(resource, old);
      return next;
    }
    const taken = await this.allocations.take(resource, next, old, opts);
    if (opts.dryRun) return next;
    let written: KObject;
    try {
      written = await this.store.update(resource, next, rev);
    } catch (e) {
      await taken.undo();
      throw e;
    }
    await taken.done();
    return written;
  }

  private async requireNamespace(name: string): Promise<void> {
    checkNamespaceOpen(name, this.cache.get(namespaces, '', name) ?? (await this.store.get(namespaces, '', name)));
  }

  /**
   * The check before a create reads the cache, and the namespace may start
   * terminating between that check and the write; its cleanup may then have
   * looked before our object landed. So once the cache holds our write — and
   * with it every namespace change ordered before it — the namespace is looked
   * at again: if it is going or gone, the object is taken back and the create
   * fails, instead of leaving an orphan in a namespace that no longer exists.
   */
  private async recheckNamespace(resource: ResourceInfo, obj: KObject): Promise<void> {
    const name = obj.metadata!.namespace!;
    try {
      await this.cache.informer.waitForRevision(Number(obj.metadata!.resourceVersion));
    } catch {
      return; // The cache is behind (store unreachable); the write itself succeeded.
    }
    try {
      checkNamespaceOpen(name, this.cache.get(namespaces, '', name));
    } catch (e) {
      await this.store.delete(resource, name, obj.metadata!.name!, Number(obj.metadata!.resourceVersion)).catch(() => undefined);
      throw e;
    }
  }

  private decodeBody(resource: ResourceInfo, body: unknown, opts: WriteOptions): KObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw errors.badRequest(`the body of the request must be a ${resource.kind} object`);
    }
    const obj = body as KObject;
    if (opts.fieldValidation !== 'Ignore') {
      const unknown = unknownFields(resource.protoType, obj);
      if (unknown.length && opts.fieldValidation === 'Strict') {
        throw errors.badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
      }
      for (const f of unknown) opts.warnings?.push(`unknown field "${f}"`);
    }
    return asStored(resource, obj);
  }

  private checkValid(resource: ResourceInfo, obj: KObject, causes: { field?: string; message: string; reason?: string }[]): void {
    if (causes.length) throw errors.invalid(resource.kind, obj.metadata?.name ?? obj.metadata?.generateName ?? '', causes, resource.group);
  }
}

/** New objects may go into a namespace that exists and is not terminating. */
function checkNamespaceOpen(name: string, ns: KObject | undefined): void {
  if (!ns) throw errors.notFound('namespaces', name);
  if (ns.metadata?.deletionTimestamp) {
    throw new ApiError('Forbidden', `unable to create new content in namespace ${name} because it is being terminated`);
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

/**
 * The body as the store will keep it (a protobuf round trip, which also copies
 * it): fields the schema does not know are dropped rather than echoed back or
 * mistaken for a spec change, and `null`s and numeric quantities take their
 * stored form — so a write answers, compares and validates what a read returns.
 */
function asStored(resource: ResourceInfo, obj: KObject): KObject {
  try {
    return decodeObject(resource.protoType, encodeObject(resource.protoType, obj));
  } catch (e) {
    throw e instanceof CodecError ? invalidValue(resource, obj.metadata?.name, e) : e;
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
