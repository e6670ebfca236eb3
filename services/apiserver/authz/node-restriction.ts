/**
 * What RBAC cannot say about kubelets (Kubernetes' Node authorizer and
 * NodeRestriction admission): a node — user `system:node:<name>` in group
 * `system:nodes` — may change only its own Node (and its status), its own Lease
 * in kube-node-lease, and the status of pods bound to it (and delete those);
 * it may not create pods or change their specs. Pure, over a pod lookup.
 */
import { NODE_LEASE_NAMESPACE, type KObject } from '../../lib/api/resources.js';
import type { UserInfo } from '../authn/user.js';
import type { RequestAttributes } from './attributes.js';
import { NODE_USER_PREFIX } from '../../lib/nats-auth/index.js';

export const NODES_GROUP = 'system:nodes';
export { NODE_USER_PREFIX };

const READS = new Set(['get', 'list', 'watch']);

export type NodeLookup = { pod(namespace: string, name: string): KObject | undefined };

/** Why this node may not do this, or undefined when it is no node or the request is its own business. */
export function nodeRestriction(user: UserInfo, a: RequestAttributes, lookup: NodeLookup, body?: unknown): string | undefined {
  if (!user.groups.includes(NODES_GROUP) || a.kind !== 'resource' || READS.has(a.verb)) return undefined;
  if (!user.name.startsWith(NODE_USER_PREFIX) || user.name.length === NODE_USER_PREFIX.length) {
    return `user "${user.name}" is in group ${NODES_GROUP} but not named ${NODE_USER_PREFIX}<node>`;
  }
  const node = user.name.slice(NODE_USER_PREFIX.length);
  const name = a.name ?? (a.verb === 'create' ? bodyName(body) : undefined);
  switch (a.apiGroup === '' ? a.resource : `${a.resource}.${a.apiGroup}`) {
    case 'nodes':
      if (a.verb === 'delete' || a.verb === 'deletecollection') return `node "${node}" may not delete nodes`;
      return name === node ? undefined : `node "${node}" may only change its own Node object, not ${name === undefined ? 'every node' : `"${name}"`}`;
    case 'leases.coordination.k8s.io':
      if (a.namespace !== NODE_LEASE_NAMESPACE || name !== node) return `node "${node}" may only change its own Lease "${NODE_LEASE_NAMESPACE}/${node}"`;
      return undefined;
    case 'pods': {
      if (a.verb === 'create' && !a.subresource) return `node "${node}" may not create pods`;
      if (a.subresource !== 'status' && a.verb !== 'delete') return `node "${node}" may only change the status of pods, not ${a.subresource ? `pods/${a.subresource}` : 'their spec'}`;
      const pod = name ? lookup.pod(a.namespace, name) : undefined;
      const boundTo = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
      return boundTo === node ? undefined : `node "${node}" may only change pods bound to it (spec.nodeName "${node}")`;
    }
    default:
      return undefined;
  }
}

function bodyName(body: unknown): string | undefined {
  const meta = (body as { metadata?: { name?: unknown } } | undefined)?.metadata;
  return typeof meta?.name === 'string' ? meta.name : undefined;
}
