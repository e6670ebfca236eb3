/**
 * The API over NATS: a `@nats-io/services` endpoint in a queue group, so any
 * number of API servers share the requests. Each request is decoded from
 * protobuf, run through the same registry as HTTP, and answered in protobuf.
 *
 * On a cluster whose NATS is secured (`authorizer` given), a request counts
 * only on its caller's own subject `keelson.api.v1.request.<user>`, which NATS
 * permissions let no one else publish to (lib/nats-auth): the user it names is
 * authorized as an HTTP caller is (RBAC, the node authorizer). A request on
 * the shared subject is then a 401.
 */
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  API_QUEUE,
  API_SERVICE_NAME,
  API_SUBJECT,
  bodyTypeFor,
  REQUEST_TYPE,
  RESPONSE_TYPE,
  type ApiRequest,
  type ApiResponse,
} from '../../lib/api/nats-api.js';
import { resourceFor, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { CodecError, decodeMessage, decodeObject, encodeMessage, encodeObject } from '../../lib/codec/index.js';
import { ApiError, errors, logServerFailure, toApiError } from '../../lib/errors/index.js';
import { applyPatch, patchTypeFromContentType } from '../patch/index.js';
import type { DeleteOptions, Registry, WriteOptions } from '../registry/index.js';
import { parseText } from '../input/index.js';
import { natsCaller, type UserInfo } from '../authn/index.js';
import { namespaceOfRequest, type Authorizer, type RequestAttributes } from '../authz/index.js';
import { repliesToOwnInbox, userOfToken } from '../../lib/nats-auth/index.js';

export type NatsApi = { stop(): Promise<void> };

/** Who may do what; without it (NATS not secured) every request is served. */
export type NatsApiAccess = { authorizer: Authorizer };

export async function startNatsApi(nc: NatsConnection, registry: Registry, version: string, access?: NatsApiAccess): Promise<NatsApi> {
  const service: Service = await new Svcm(nc).add({
    name: API_SERVICE_NAME,
    version,
    description: 'Keelson API server: Kubernetes-style CRUD on protobuf messages',
    queue: API_QUEUE,
  });
  service.addEndpoint('api', {
    subject: API_SUBJECT,
    handler: (err, msg) => {
      if (err) return;
      void answer(registry, msg, access && { authorizer: access.authorizer });
    },
  });
  service.addEndpoint('api-caller', {
    subject: `${API_SUBJECT}.*`,
    handler: (err, msg) => {
      if (err) return;
      const user = userOfToken(msg.subject.slice(API_SUBJECT.length + 1));
      // The answer goes only to the caller's own inbox: a reply subject of its choosing would have this
      // server (which may publish anywhere) write there for it — into the store, say.
      if (access && (user === undefined || !repliesToOwnInbox(msg.reply, user))) return;
      void answer(registry, msg, access && { authorizer: access.authorizer, user: user === undefined ? undefined : natsCaller(user) });
    },
  });
  return { stop: async () => void (await service.stop()) };
}

/** The caller to authorize: no user is a request on the shared subject (or one not naming a user). */
type Caller = { authorizer: Authorizer; user?: UserInfo };

async function answer(registry: Registry, msg: ServiceMsg, caller?: Caller): Promise<void> {
  let res: ApiResponse;
  try {
    if (caller && !caller.user) throw new ApiError('Unauthorized', 'Unauthorized: NATS API requests must come on their caller\'s own subject (keelson.api.v1.request.<user>)');
    res = await handle(registry, fromCaller('the request', () => decodeMessage(REQUEST_TYPE, msg.data) as ApiRequest), caller);
  } catch (e) {
    const err = toApiError(e);
    logServerFailure('apiserver: NATS request failed', err, e);
    res = { code: err.code, kind: 'Status', status: err.toStatus() };
  }
  msg.respond(encodeMessage(RESPONSE_TYPE, res));
}

/** What the caller sent, decoded: bytes that do not decode are its mistake (400), as a bad JSON body is on HTTP. */
function fromCaller<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw e instanceof CodecError ? errors.badRequest(`${what} does not decode: ${e.message}`) : e;
  }
}

function resourceOf(req: ApiRequest): ResourceInfo {
  const r = resourceFor(req.group ?? '', req.version || 'v1', req.resource ?? '');
  if (!r) throw new ApiError('NotFound', `the server could not find the requested resource (${req.resource})`);
  return r;
}

function one(resource: ResourceInfo, obj: KObject, code = 200, sub?: string, warnings?: string[]): ApiResponse {
  const type = bodyTypeFor(resource, sub);
  return { code, kind: obj.kind, object: encodeObject(type, obj), warnings };
}

async function handle(registry: Registry, req: ApiRequest, caller?: Caller): Promise<ApiResponse> {
  const resource = resourceOf(req);
  const ns = resource.namespaced ? (req.namespace ?? '') : '';
  const name = req.name ?? '';
  const sub = req.subresource || undefined;
  // As on HTTP: a subresource the resource does not have is not there, rather
  // than a write to the main object.
  if (sub && !resource.subresources.includes(sub)) {
    throw new ApiError('NotFound', `the server could not find the requested resource (${resource.plural}/${sub})`);
  }
  let decoded: KObject | undefined;
  const body = () => {
    if (!req.body?.length) throw errors.badRequest('the request has no body');
    return (decoded ??= fromCaller('the request body', () => decodeObject(bodyTypeFor(resource, sub), req.body!)));
  };
  // Parsed once, for the authorizer and for the write.
  let parsedPatch: ReturnType<typeof patchOf> | undefined;
  const patch = () => (parsedPatch ??= patchOf(req));
  if (caller?.user) {
    const written = req.verb === 'create' || req.verb === 'update' ? body() : req.verb === 'patch' ? patch().patch : undefined;
    caller.authorizer.check(caller.user, attributesOf(req, resource, ns, name, sub), written);
  }
  // Every write answers to the leader fencing first (reads never do).
  if (req.verb !== 'get' && req.verb !== 'list') await registry.fence(req.token);
  const warnings: string[] = [];
  const write: WriteOptions = {
    dryRun: req.dryRun?.includes('All'),
    fieldValidation: (req.fieldValidation || 'Warn') as WriteOptions['fieldValidation'],
    warnings,
  };
  const need = () => {
    if (!name) throw errors.badRequest(`${req.verb} needs an object name`);
    return name;
  };
  switch (req.verb) {
    case 'get':
      if (sub === 'scale') return one(resource, await registry.getScale(resource, ns, need()), 200, sub);
      return one(resource, await registry.get(resource, ns, need()));
    case 'list': {
      const list = await registry.list(resource, ns, {
        labelSelector: req.labelSelector,
        fieldSelector: req.fieldSelector,
        limit: req.limit,
        continue: req.continue,
      });
      return {
        code: 200,
        kind: resource.listKind,
        items: list.items.map((o) => encodeObject(resource.protoType, o)),
        listMeta: { resourceVersion: list.resourceVersion, continue: list.continue, remainingItemCount: list.remainingItemCount },
      };
    }
    case 'create':
      if (sub === 'binding') return one(resource, await registry.bind(ns, need(), body(), write), 201);
      if (sub === 'eviction') {
        const ev = body() as { deleteOptions?: WireDeleteOptions };
        return one(resource, await registry.delete(resource, ns, need(), deleteOptions(req, ev.deleteOptions)), 201);
      }
      return one(resource, await registry.create(resource, ns, body(), write), 201, undefined, warnings);
    case 'update':
      if (sub === 'scale') {
        const scale = body();
        return one(resource, await registry.updateScale(resource, ns, need(), () => scale, write), 200, sub);
      }
      return one(resource, await registry.update(resource, ns, need(), body(), { ...write, ...(sub === 'status' ? { subresource: 'status' } : {}) }), 200, undefined, warnings);
    case 'patch': {
      const { type, patch: doc } = patch();
      if (sub === 'scale') {
        const out = await registry.updateScale(resource, ns, need(), (s) => applyPatch(type, s, doc, 'Scale') as KObject, write);
        return one(resource, out, 200, sub);
      }
      const out = await registry.patch(resource, ns, need(), type, doc, { ...write, ...(sub === 'status' ? { subresource: 'status' } : {}) });
      return one(resource, out.object, out.created ? 201 : 200, undefined, warnings);
    }
    case 'delete':
      return one(resource, await registry.delete(resource, ns, need(), deleteOptions(req, req.deleteOptions)));
    case 'deletecollection': {
      const res = await registry.deleteCollection(resource, ns, { labelSelector: req.labelSelector, fieldSelector: req.fieldSelector }, deleteOptions(req, req.deleteOptions));
      return { code: 200, kind: resource.listKind, items: res.items.map((o) => encodeObject(resource.protoType, o)), listMeta: { resourceVersion: res.resourceVersion } };
    }
  }
  throw errors.badRequest(`unknown verb "${(req as { verb: string }).verb}"`);
}

/** A patch request's type and document; 415 for a type not supported. */
function patchOf(req: ApiRequest) {
  const type = patchTypeFromContentType(req.patchType ?? '');
  if (!type) throw new ApiError('UnsupportedMediaType', `the patch type "${req.patchType}" is not supported`);
  const text = Buffer.from(req.body ?? []).toString();
  return { type, patch: parseText(text, type === 'apply' ? 'yaml' : 'json', 'the patch') };
}

/** What a NATS request asks to do, as RBAC rules say it (the same as its HTTP twin's). */
function attributesOf(req: ApiRequest, resource: ResourceInfo, ns: string, name: string, sub: string | undefined): RequestAttributes {
  return {
    kind: 'resource',
    verb: req.verb ?? '',
    apiGroup: resource.group,
    resource: resource.plural,
    ...(sub ? { subresource: sub } : {}),
    namespace: namespaceOfRequest(resource.group, resource.plural, name, ns),
    ...(name ? { name } : {}),
  };
}

/** keelson.meta.v1.DeleteOptions as decoded: `dryRun` is a list, as in Kubernetes. */
type WireDeleteOptions = Omit<DeleteOptions, 'dryRun'> & { dryRun?: string[] };

/**
 * The registry's DeleteOptions from the wire: a dry run is asked for by
 * `dryRun: ["All"]` on the request or in the options — any other list (an
 * empty one included) deletes for real.
 */
function deleteOptions(req: ApiRequest, wire: Record<string, unknown> | WireDeleteOptions | undefined): DeleteOptions {
  const o = (wire ?? {}) as WireDeleteOptions;
  return {
    gracePeriodSeconds: o.gracePeriodSeconds,
    propagationPolicy: o.propagationPolicy,
    preconditions: o.preconditions,
    dryRun: !!req.dryRun?.includes('All') || (Array.isArray(o.dryRun) && o.dryRun.includes('All')),
  };
}
