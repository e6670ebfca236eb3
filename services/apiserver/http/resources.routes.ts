/**
 * The resource endpoints: every `/api/...` and `/apis/...` path that names a
 * resource, for every verb, mapped onto the registry. Paths are parsed by
 * request-info (as Kubernetes does) rather than declared one by one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { groupVersion, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { ApiError, errors } from '../../lib/errors/index.js';
import { LEADER_TOKEN_HEADER } from '../../lib/leader-election/index.js';
import { applyPatch, PatchError, patchTypeFromContentType, type PatchType } from '../patch/index.js';
import type { DeleteOptions, ListOptions, Registry, WriteOptions } from '../registry/index.js';
import { toTable } from '../tables/index.js';
import { mediaType, wantsTable } from './content.js';
import { discoveryFor } from './discovery.routes.js';
import { UndecodedBody } from './k8s-protobuf.js';
import { isWatchRequest, parseRequestInfo, type ResourceRequest } from './request-info.js';
import { checkExec, checkExecProtocol, relayExec, spdyRefused, type ExecRequest } from './streams/exec.js';
import { streamLogs } from './streams/logs.js';
import { streamWatch, WatchQuota } from './watch.js';

type Query = Record<string, string | undefined>;

export function registerResourceRoutes(app: FastifyInstance, registry: Registry): void {
  const watchQuota = new WatchQuota();
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const info = parseRequestInfo(req.url);
    if (info.kind !== 'resource') return discoveryFor(info, reply);
    const r = resolve(info);
    // Namespaced objects are written under their namespace's path (as in Kubernetes); across all namespaces they are only read.
    if (r.resource.namespaced && !info.namespace && req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ApiError('MethodNotAllowed', `${info.plural} are written in a namespace: ${req.method} ${prefixOf(info)}/namespaces/{namespace}/${info.plural}, not across all namespaces`);
    }
    if (req.body instanceof UndecodedBody) throw req.body.error;
    // Every write answers to the leader fencing first (reads never do).
    if (req.method !== 'GET') await registry.fence(leaderToken(req));
    return serve(registry, watchQuota, r.resource, info, req, reply);
  };
  // An upgrade is checked before it happens (preHandler), so a bad request
  // gets an HTTP Status; only pods/exec upgrades, and only to a WebSocket.
  const upgrades = new WeakMap<FastifyRequest, ExecRequest>();
  const checkUpgrade = async (req: FastifyRequest) => {
    if (!req.ws) return;
    const info = parseRequestInfo(req.url);
    if (info.kind !== 'resource' || info.plural !== 'pods' || info.subresource !== 'exec' || !info.name || info.group) {
      throw errors.badRequest(`only pods/exec accepts a WebSocket upgrade, not ${req.url.split('?')[0]}`);
    }
    const pod = await registry.get(resolve(info).resource, info.namespace ?? 'default', info.name);
    const exec = checkExec(pod, req.query as Record<string, string>);
    // kubectl falls back to SPDY (a POST upgrade) when the WebSocket failed.
    if (req.method !== 'GET') throw spdyRefused();
    checkExecProtocol(req);
    upgrades.set(req, exec);
  };
  const relay = (socket: WebSocket, req: FastifyRequest) => relayExec(registry.store.connection, socket, upgrades.get(req)!);
  for (const prefix of ['/api', '/apis']) {
    app.get(prefix, handler);
    app.route({ method: 'GET', url: `${prefix}/*`, handler, preHandler: checkUpgrade, wsHandler: relay });
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: `${prefix}/*`, handler, preHandler: checkUpgrade });
  }
}

/** The fencing token of a leader-elected writer (`X-Keelson-Leader-Token`). */
function leaderToken(req: FastifyRequest): string | undefined {
  const h = req.headers[LEADER_TOKEN_HEADER.toLowerCase()];
  return Array.isArray(h) ? h[0] : h;
}

function prefixOf(info: ResourceRequest): string {
  return info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
}

function resolve(info: ResourceRequest): ResourceRequest & { resource: ResourceInfo } {
  if (!info.resource) {
    throw new ApiError('NotFound', `the server could not find the requested resource (${info.group ? `${info.plural}.${info.group}` : info.plural})`);
  }
  if (info.namespace && !info.resource.namespaced) {
    throw new ApiError('NotFound', `the server could not find the requested resource: ${info.plural} are not namespaced`);
  }
  return info as ResourceRequest & { resource: ResourceInfo };
}

function listOptions(q: Query): ListOptions {
  return {
    labelSelector: q.labelSelector,
    fieldSelector: q.fieldSelector,
    limit: q.limit ? Number(q.limit) : undefined,
    continue: q.continue,
  };
}

function writeOptions(q: Query, warnings: string[]): WriteOptions {
  const fv = q.fieldValidation;
  if (fv && fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw errors.badRequest(`fieldValidation "${fv}" is not one of Strict, Warn, Ignore`);
  }
  return { dryRun: q.dryRun === 'All', fieldValidation: (fv as WriteOptions['fieldValidation']) ?? 'Warn', warnings };
}

async function serve(
  registry: Registry,
  watchQuota: WatchQuota,
  resource: ResourceInfo,
  info: ResourceRequest,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const q = req.query as Query;
  const { namespace: ns, name, subresource: sub } = info;
  const warnings: string[] = [];
  const done = (obj: KObject, code = 200) => {
    if (warnings.length) reply.header('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
    if (wantsTable(req) && req.method === 'GET') {
      return reply.code(code).send(toTable(resource, [obj], { resourceVersion: obj.metadata?.resourceVersion ?? '', includeObject: includeObject(q) }));
    }
    return reply.code(code).send(obj);
  };
  if (sub && !resource.subresources.includes(sub)) {
    throw new ApiError('NotFound', `the server could not find the requested resource (${resource.plural}/${sub})`);
  }

  switch (req.method) {
    case 'GET': {
      const watching = isWatchRequest(req.url, q);
      if (!name) {
        if (watching) return streamWatch(registry, watchQuota, resource, ns, q, req, reply);
        const list = await registry.list(resource, ns, listOptions(q));
        if (wantsTable(req)) {
          return reply.send(toTable(resource, list.items, { resourceVersion: list.resourceVersion, continue: list.continue, includeObject: includeObject(q) }));
        }
        return reply.send({
          kind: resource.listKind,
          apiVersion: groupVersion(resource),
          metadata: {
            resourceVersion: list.resourceVersion,
            ...(list.continue ? { continue: list.continue, remainingItemCount: list.remainingItemCount } : {}),
          },
          items: list.items,
        });
      }
      if (sub === 'scale') return done(await registry.getScale(resource, ns, name));
      if (sub === 'log') return streamLogs(registry.store.connection, await registry.get(resource, ns, name), q, req, reply);
      if (sub === 'exec') throw errors.badRequest('Upgrade request required: exec is served over WebSocket (v5.channel.k8s.io)');
      return done(await registry.get(resource, ns, name));
    }
    case 'POST': {
      const body = req.body;
      if (name && sub === 'binding') {
        // Kubernetes answers a binding with a Success Status, not the pod.
        await registry.bind(ns, name, body, writeOptions(q, warnings));
        return reply.code(201).send({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
      if (name && sub === 'eviction') {
        await registry.delete(resource, ns, name, deleteOptions(q, (body as { deleteOptions?: unknown })?.deleteOptions));
        return reply.code(201).send({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
      if (name && sub === 'exec') {
        // kubectl falls back to SPDY when the WebSocket upgrade failed: the same checks, then a clear refusal.
        checkExec(await registry.get(resource, ns, name), q);
        throw spdyRefused();
      }
      if (name) throw new ApiError('MethodNotAllowed', `POST is not supported on ${resource.plural}/${name}; use PUT or PATCH to change it`);
      return done(await registry.create(resource, ns, body, writeOptions(q, warnings)), 201);
    }
    case 'PUT': {
      if (!name) throw new ApiError('MethodNotAllowed', `PUT needs an object name: ${req.url}`);
      if (sub === 'scale') {
        const scale = bodyObject(req.body);
        return done(await registry.updateScale(resource, ns, name, () => scale, writeOptions(q, warnings)));
      }
      return done(await registry.update(resource, ns, name, req.body, { ...writeOptions(q, warnings), ...statusSub(sub) }));
    }
    case 'PATCH': {
      if (!name) throw new ApiError('MethodNotAllowed', `PATCH needs an object name: ${req.url}`);
      const type = patchTypeFromContentType(mediaType(req));
      if (!type) {
        throw new ApiError('UnsupportedMediaType', `the patch media type "${mediaType(req)}" is not supported`);
      }
      if (sub === 'scale') {
        return done(await registry.updateScale(resource, ns, name, (scale) => patchScale(type, scale, req.body), writeOptions(q, warnings)));
      }
      const patched = await registry.patch(resource, ns, name, type, req.body, { ...writeOptions(q, warnings), ...statusSub(sub) });
      return done(patched.object, patched.created ? 201 : 200);
    }
    case 'DELETE': {
      if (!name) {
        const res = await registry.deleteCollection(resource, ns, listOptions(q), deleteOptions(q, req.body));
        return reply.send({ kind: resource.listKind, apiVersion: groupVersion(resource), metadata: { resourceVersion: res.resourceVersion }, items: res.items });
      }
      return done(await registry.delete(resource, ns, name, deleteOptions(q, req.body)));
    }
  }
  throw new ApiError('MethodNotAllowed', `${req.method} is not supported`);
}

/** A patch of the Scale; a patch that cannot apply is the client's error, not a 500. */
function patchScale(type: PatchType, scale: KObject, patch: unknown): KObject {
  let patched: unknown;
  try {
    patched = applyPatch(type, scale, patch, 'Scale');
  } catch (e) {
    if (e instanceof PatchError) throw new ApiError(e.reason, e.message);
    throw e;
  }
  if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) throw errors.badRequest('the patch did not produce an object');
  return patched as KObject;
}

function statusSub(sub: string | undefined): { subresource?: 'status' } {
  return sub === 'status' ? { subresource: 'status' } : {};
}

function bodyObject(body: unknown): KObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.badRequest('the request body must be an object');
  return body as KObject;
}

function includeObject(q: Query): 'None' | 'Metadata' | 'Object' {
  const v = q.includeObject;
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

/** DeleteOptions from the body (kubectl) or the query string (curl). */
function deleteOptions(q: Query, body: unknown): DeleteOptions {
  const b = (body && typeof body === 'object' ? body : {}) as DeleteOptions & { dryRun?: string[] };
  const grace = b.gracePeriodSeconds ?? (q.gracePeriodSeconds !== undefined ? Number(q.gracePeriodSeconds) : undefined);
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) {
    throw errors.badRequest(`gracePeriodSeconds must be a non-negative integer, not ${JSON.stringify(grace)}`);
  }
  const policy = b.propagationPolicy ?? (q.propagationPolicy as DeleteOptions['propagationPolicy']);
  if (policy && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
    throw errors.badRequest(`propagationPolicy "${policy}" is not one of Orphan, Background, Foreground`);
  }
  return {
    gracePeriodSeconds: grace,
    propagationPolicy: policy,
    preconditions: b.preconditions,
    dryRun: q.dryRun === 'All' || (Array.isArray(b.dryRun) && b.dryRun.includes('All')),
  };
}

