/**
 * The typed Keelson client over NATS, for the other components and for outside
 * programs. Writes and reads are requests to the API servers' queue group
 * (protobuf both ways); watches and informers read the store directly, which
 * every component may do (only the API server writes it).
 */
import { NoRespondersError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import {
  API_SUBJECT,
  bodyTypeFor,
  REQUEST_TYPE,
  RESPONSE_TYPE,
  type ApiRequest,
  type ApiResponse,
} from '../api/nats-api.js';
import { resourceForKind, resourceForName, type KObject, type ResourceInfo } from '../api/resources.js';
import { decodeMessage, decodeObject, encodeMessage, encodeObject } from '../codec/index.js';
import { ApiError, errors } from '../errors/index.js';
import { Informer } from '../informer/index.js';
import { connectNats, natsUserOf, type NatsAddress } from '../nats/index.js';
import { apiSubjectFor } from '../nats-auth/index.js';
import { Store, type StoreEvent, type StoreWatch } from '../store/index.js';

export type ClientOptions = {
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  bucket?: string;
  /** Fencing token sent with every write (leader-elected components). */
  token?: string;
};

export type PatchKind = 'json' | 'merge' | 'strategic' | 'apply';

const PATCH_TYPES: Record<PatchKind, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** Finds a resource by kind (`Pod`), plural (`pods`) or short name (`po`). */
export function resolveResource(what: string | ResourceInfo): ResourceInfo {
  if (typeof what !== 'string') return what;
  const r = resourceForKind(what) ?? resourceForName(what);
  if (!r) throw new ApiError('NotFound', `the server doesn't have a resource type "${what}"`);
  return r;
}

/** Errors of requests that NATS failed (no Status from an API server), and of those the ones nobody answered. */
const failedInNats = new WeakSet<ApiError>();
const unanswered = new WeakSet<ApiError>();

/** True for a Status an API server sent, as opposed to a request NATS failed. */
export function isStatusAnswer(e: unknown): e is ApiError {
  return e instanceof ApiError && !failedInNats.has(e);
}

/**
 * True when no API server answered the request over NATS (a timeout, or nobody
 * listening through this connection's server): the path may be what failed.
 * A closed connection, a permission refused or an API server's Status is not.
 */
export function isUnanswered(e: unknown): boolean {
  return e instanceof ApiError && unanswered.has(e);
}

/** True when the request was unanswered because nobody listens for it through this connection's server. */
export function isNoResponders(e: unknown): boolean {
  return isUnanswered(e) && natsNoResponders((e as ApiError).cause);
}

/** nats.js' two shapes of "no responders" on a request. */
function natsNoResponders(e: unknown): boolean {
  return e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
}

export class KeelsonClient {
  private store?: Promise<Store>;

  /** Its caller's own subject when the connection has a NATS user (the API server then knows who asks), else the shared one. */
  private readonly apiSubject: string;

  constructor(
    readonly nc: NatsConnection,
    private readonly opts: ClientOptions = {},
  ) {
    const user = natsUserOf(nc);
    this.apiSubject = user === undefined ? API_SUBJECT : apiSubjectFor(user);
  }

  static async connect(servers: NatsAddress, name = 'keelson-client', opts: ClientOptions = {}): Promise<KeelsonClient> {
    return new KeelsonClient(await connectNats(servers, name, { waitForServer: false }), opts);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }

  /**
   * A client on the same connection whose requests carry a leader's fencing token
   * (see services/lib/leader-election): the API server refuses its writes with 409
   * once another leader's term began. Closing either client closes both.
   */
  withToken(token: string | undefined): KeelsonClient {
    return new KeelsonClient(this.nc, { ...this.opts, token });
  }

  /** One API request; a failure Status comes back as an ApiError. */
  async request(req: ApiRequest): Promise<ApiResponse> {
    let reply;
    try {
      reply = await this.nc.request(this.apiSubject, encodeMessage(REQUEST_TYPE, { ...req, token: req.token ?? this.opts.token }), {
        timeout: this.opts.timeoutMs ?? 10_000,
      });
    } catch (e) {
      const err = errors.unavailable(`no API server answered on NATS (${(e as Error).message}); is the control plane running?`, e);
      failedInNats.add(err);
      if (e instanceof TimeoutError || natsNoResponders(e)) unanswered.add(err);
      throw err;
    }
    const res = decodeMessage(RESPONSE_TYPE, reply.data) as ApiResponse;
    if (res.status && (res.code ?? 500) >= 400) throw ApiError.fromStatus(res.status);
    return res;
  }

  private base(r: ResourceInfo, namespace?: string, name?: string): Pick<ApiRequest, 'group' | 'version' | 'resource' | 'namespace' | 'name'> {
    return { group: r.group, version: r.version, resource: r.plural, namespace: r.namespaced ? (namespace ?? 'default') : '', name };
  }

  private object(r: ResourceInfo, res: ApiResponse, sub?: string): KObject {
    if (!res.object) throw errors.internal('the API server sent no object');
    return decodeObject(bodyTypeFor(r, sub), res.object);
  }

  async get(what: string | ResourceInfo, namespace: string | undefined, name: string): Promise<KObject> {
    const r = resolveResource(what);
    return this.object(r, await this.request({ verb: 'get', ...this.base(r, namespace, name) }));
  }

  /**
   * Lists; `namespace` '' lists every namespace. With `limit`, a page: pass the
   * `continue` it returns to get the next one (absent on the last page).
   */
  async list(
    what: string | ResourceInfo,
    namespace?: string,
    opts: { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string } = {},
  ): Promise<{ items: KObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number }> {
    const r = resolveResource(what);
    const res = await this.request({ verb: 'list', ...this.base(r, namespace), namespace: r.namespaced ? (namespace ?? '') : '', ...opts });
    const meta = res.listMeta ?? {};
    return {
      items: (res.items ?? []).map((b) => decodeObject(r.protoType, b)),
      resourceVersion: meta.resourceVersion ?? '',
      ...(meta.continue ? { continue: meta.continue, remainingItemCount: meta.remainingItemCount } : {}),
    };
  }

  async create(obj: KObject, opts: { dryRun?: boolean } = {}): Promise<KObject> {
    const r = resolveResource(obj.kind ?? '');
    const res = await this.request({
      verb: 'create',
      ...this.base(r, obj.metadata?.namespace),
      body: encodeObject(r.protoType, obj),
      dryRun: opts.dryRun ? ['All'] : undefined,
    });
    return this.object(r, res);
  }

  async update(obj: KObject, opts: { subresource?: 'status' } = {}): Promise<KObject> {
    const r = resolveResource(obj.kind ?? '');
    const res = await this.request({
      verb: 'update',
      ...this.base(r, obj.metadata?.namespace, obj.metadata?.name),
      subresource: opts.subresource,
      body: encodeObject(r.protoType, obj),
    });
    return this.object(r, res);
  }

  updateStatus(obj: KObject): Promise<KObject> {
    return this.update(obj, { subresource: 'status' });
  }

  async patch(what: string | ResourceInfo, namespace: string | undefined, name: string, kind: PatchKind, patch: unknown, subresource?: string): Promise<KObject> {
    const r = resolveResource(what);
    const text = typeof patch === 'string' ? patch : JSON.stringify(patch);
    const res = await this.request({
      verb: 'patch',
      ...this.base(r, namespace, name),
      subresource,
      patchType: PATCH_TYPES[kind],
      body: new TextEncoder().encode(text),
    });
    return this.object(r, res, subresource === 'scale' ? 'scale' : undefined);
  }

  /**
   * Deletes; `preconditions` make it fail with Conflict unless the object still
   * has that uid / resourceVersion. Answers the object as deleted (or, for a
   * graceful deletion, as now marked).
   */
  async delete(
    what: string | ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: {
      gracePeriodSeconds?: number;
      propagationPolicy?: string;
      preconditions?: { uid?: string; resourceVersion?: string };
      dryRun?: boolean;
    } = {},
  ): Promise<KObject> {
    const r = resolveResource(what);
    const { dryRun, ...deleteOptions } = opts;
    return this.object(
      r,
      await this.request({ verb: 'delete', ...this.base(r, namespace, name), deleteOptions, dryRun: dryRun ? ['All'] : undefined }),
    );
  }

  /** Assigns a pod to a node (the scheduler's one write). */
  async bind(namespace: string, pod: string, node: string): Promise<KObject> {
    const r = resolveResource('Pod');
    const body = encodeObject(bodyTypeFor(r, 'binding'), {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod, namespace },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    });
    return this.object(r, await this.request({ verb: 'create', ...this.base(r, namespace, pod), subresource: 'binding', body }));
  }

  async scale(what: string | ResourceInfo, namespace: string | undefined, name: string, replicas: number): Promise<KObject> {
    return this.patch(what, namespace, name, 'merge', { spec: { replicas } }, 'scale');
  }

  /** The store, read-only: for watches and informers. */
  private async readStore(): Promise<Store> {
    this.store ??= Store.open(this.nc, { bucket: this.opts.bucket, bindOnly: true });
    return this.store;
  }

  /** Streams changes to a resource from a revision (or current state first). */
  async watch(what: string | ResourceInfo, namespace: string | undefined, onEvent: (ev: StoreEvent) => void, fromRevision?: number): Promise<StoreWatch> {
    const r = resolveResource(what);
    const store = await this.readStore();
    return store.watch({ resource: r, namespace: r.namespaced ? namespace : undefined }, onEvent, fromRevision !== undefined ? { fromRevision } : {});
  }

  /** A started informer (cache + handlers) for one resource, optionally filtered (InformerOptions.filter). */
  async informer(what: string | ResourceInfo, namespace?: string, filter?: (object: KObject) => boolean): Promise<Informer> {
    const inf = new Informer(await this.readStore(), { resource: resolveResource(what), namespace, filter });
    await inf.start();
    return inf;
  }
}
