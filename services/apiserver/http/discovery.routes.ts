/**
 * Discovery, as kubectl reads it before anything else: versions, groups and
 * each group-version's resources with verbs, short names and categories.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { apiGroups, groupVersion, RESOURCES, type ResourceInfo } from '../../lib/api/resources.js';
import { ApiError } from '../../lib/errors/index.js';
import type { RequestInfo } from './request-info.js';
import { ACCESS_REVIEW_GROUP, ACCESS_REVIEW_RESOURCE } from './access-review.routes.js';

/** Groups served by routes of their own rather than the registry: resources that are asked, never stored. */
const VIRTUAL: { group: string; version: string; resources: object[] }[] = [{ group: ACCESS_REVIEW_GROUP, version: 'v1', resources: [ACCESS_REVIEW_RESOURCE] }];

const allGroups = () => [...apiGroups(), ...VIRTUAL.map((v) => ({ group: v.group, versions: [v.version] }))];

/** What `/version` reports: Keelson speaks this Kubernetes minor. */
export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-keelson' };

function apiResource(r: ResourceInfo) {
  const main = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length ? { categories: r.categories } : {}),
  };
  const subs = r.subresources.map((s) => {
    const kind = s === 'scale' ? 'Scale' : s === 'binding' ? 'Binding' : s === 'eviction' ? 'Eviction' : s === 'log' || s === 'exec' ? 'Pod' : r.kind;
    const group = s === 'scale' ? 'autoscaling' : s === 'eviction' ? 'policy' : undefined;
    const version = s === 'scale' ? 'v1' : s === 'eviction' ? 'v1' : undefined;
    const verbs = s === 'binding' || s === 'eviction' ? ['create'] : s === 'log' ? ['get'] : s === 'exec' ? ['create', 'get'] : ['get', 'patch', 'update'];
    return { name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind, verbs, ...(group ? { group, version } : {}) };
  });
  return [main, ...subs];
}

function groupDoc(group: string, versions: string[]) {
  const gvs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: gvs, preferredVersion: gvs[0] };
}

export function discoveryFor(info: RequestInfo, reply: FastifyReply): unknown {
  switch (info.kind) {
    case 'versions':
      return reply.send({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] });
    case 'groups':
      return reply.send({ kind: 'APIGroupList', apiVersion: 'v1', groups: allGroups().map((g) => groupDoc(g.group, g.versions)) });
    case 'group': {
      const g = allGroups().find((x) => x.group === info.group);
      if (!g) throw new ApiError('NotFound', `the server could not find the requested resource (API group ${info.group})`);
      return reply.send({ kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g.group, g.versions) });
    }
    case 'resources': {
      const virtual = VIRTUAL.find((v) => v.group === info.group && v.version === info.version);
      if (virtual) return reply.send({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${virtual.group}/${virtual.version}`, resources: virtual.resources });
      const served = RESOURCES.filter((r) => r.group === info.group && r.version === info.version);
      if (!served.length) {
        throw new ApiError('NotFound', `the server could not find the requested resource (${info.group ? `${info.group}/` : ''}${info.version})`);
      }
      return reply.send({
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: groupVersion(served[0]!),
        resources: served.flatMap(apiResource),
      });
    }
    default:
      throw new ApiError('NotFound', 'the server could not find the requested resource');
  }
}

export function registerDiscoveryRoutes(app: FastifyInstance): void {
  app.get('/version', async () => ({
    ...KUBE_VERSION,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '2026-11-26T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  }));
  // kubectl create/apply fetch the OpenAPI schema to validate on the client;
  // an empty octet-stream makes it skip that and leave validation to us.
  for (const path of ['/openapi/v2', '/swagger-2.0.0.pb-v1']) {
    app.get(path, async (_req, reply) => reply.type('application/octet-stream').send(Buffer.alloc(0)));
  }
  app.get('/openapi/v3', async (_req, reply) => reply.send({ paths: {} }));
}
