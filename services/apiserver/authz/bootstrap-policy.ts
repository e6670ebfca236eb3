/**
 * The built-in roles and bindings every API server makes sure of at start (as
 * kube-apiserver's bootstrap policy): cluster-admin, admin, view, the nodes'
 * role, the scheduler's, the controller-manager's and the proxy's (bound to
 * their NATS users), discovery for every authenticated user. A built-in object that carries
 * the autoupdate annotation is put back as it should be; one a user set to
 * "false" is left alone.
 */
import { RBAC_GROUP, RESOURCES, type KObject } from '../../lib/api/resources.js';
import { MASTERS_GROUP, AUTHENTICATED_GROUP } from '../authn/user.js';
import { NODES_GROUP } from './node-restriction.js';
import type { PolicyRule } from './rbac.js';
import { CONTROLLER_MANAGER_USER, PROXY_USER, SCHEDULER_USER } from '../../lib/nats-auth/index.js';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
/** The group `keelson up`'s read-only user is in. */
export const VIEWERS_GROUP = 'keelson:viewers';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];
type Resource = (typeof RESOURCES)[number];

/** One rule per API group, naming that group's resources (and subresources that `sub` keeps). */
function perGroup(verbs: string[], resources: readonly Resource[], sub: (s: string) => boolean = () => true): PolicyRule[] {
  const groups = [...new Set(resources.map((r) => r.group))];
  return groups.map((g) =>
    rule(
      verbs,
      [g],
      resources.filter((r) => r.group === g).flatMap((r) => [r.plural, ...r.subresources.filter(sub).map((s) => `${r.plural}/${s}`)]),
    ),
  );
}

const rule = (verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule => ({
  verbs,
  apiGroups,
  resources,
  ...(resourceNames ? { resourceNames } : {}),
});

export const CLUSTER_ROLES: Record<string, PolicyRule[]> = {
  'cluster-admin': [rule(['*'], ['*'], ['*']), { verbs: ['*'], nonResourceURLs: ['*'] }],
  // Everything inside namespaces, roles and bindings included; nothing cluster-wide. The
  // verbs are named (not `*`) so that escalate, bind and impersonate are not among them.
  // Its own namespace readable too, as Kubernetes' admin (through view) has it: it holds all of view there.
  admin: [...perGroup([...READ, ...WRITE], RESOURCES.filter((r) => r.namespaced)), rule(READ, [''], ['namespaces', 'namespaces/status'])],
  // Reading everything but who may do what; the dashboard's data.
  view: [
    ...perGroup(READ, RESOURCES.filter((r) => r.group !== RBAC_GROUP), (s) => !['exec', 'binding', 'eviction'].includes(s)),
    { verbs: ['get'], nonResourceURLs: ['/keelson/v1/*'] },
  ],
  // What a kubelet needs; node-restriction.ts narrows the writes to its own objects.
  'system:node': [
    rule(READ, [''], ['nodes', 'pods', 'services', 'endpoints', 'namespaces']),
    rule(['create', 'update', 'patch'], [''], ['nodes', 'nodes/status']),
    rule(['update', 'patch'], [''], ['pods/status']),
    rule(['delete'], [''], ['pods']),
    rule(['create', 'update', 'patch'], [''], ['events']),
    rule([...READ, ...WRITE], ['coordination.k8s.io'], ['leases']),
  ],
  // The scheduler: reads everything it places by, binds pods, says why it could not.
  'system:kube-scheduler': [
    ...perGroup(READ, RESOURCES.filter((r) => r.group !== RBAC_GROUP), () => false),
    rule(['create'], [''], ['pods/binding', 'bindings']),
    rule(['update', 'patch'], [''], ['pods/status']),
    rule(['create', 'update', 'patch'], [''], ['events']),
    rule([...READ, ...WRITE], ['coordination.k8s.io'], ['leases']),
  ],
  // The controllers: every object (Kubernetes splits this per controller). Roles and bindings only as
  // the garbage collector needs them: deleted with their owner, their finalizers taken off.
  'system:kube-controller-manager': [
    ...perGroup([...READ, ...WRITE], RESOURCES.filter((r) => r.group !== RBAC_GROUP)),
    rule([...READ, 'update', 'patch', 'delete', 'escalate', 'bind'], [RBAC_GROUP], ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']),
  ],
  // The proxy reads Services, Endpoints and Nodes, and reports events.
  'system:node-proxier': [rule(READ, [''], ['services', 'endpoints', 'nodes']), rule(['create', 'update', 'patch'], [''], ['events'])],
  // Asking what one may do (`kubectl auth can-i`), for every authenticated user.
  'system:basic-user': [rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews'])],
  // Discovery and health for every authenticated user (kubectl starts with these).
  'system:discovery': [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/version', '/version/', '/openapi', '/openapi/*', '/healthz', '/livez', '/readyz'] }],
};

const CLUSTER_ROLE_BINDINGS: { name: string; role: string; group?: string; user?: string }[] = [
  { name: 'cluster-admin', role: 'cluster-admin', group: MASTERS_GROUP },
  { name: 'system:node', role: 'system:node', group: NODES_GROUP },
  { name: 'system:discovery', role: 'system:discovery', group: AUTHENTICATED_GROUP },
  { name: 'system:basic-user', role: 'system:basic-user', group: AUTHENTICATED_GROUP },
  { name: 'keelson:viewers', role: 'view', group: VIEWERS_GROUP },
  { name: 'system:kube-scheduler', role: 'system:kube-scheduler', user: SCHEDULER_USER },
  { name: 'system:kube-controller-manager', role: 'system:kube-controller-manager', user: CONTROLLER_MANAGER_USER },
  { name: 'system:node-proxier', role: 'system:node-proxier', user: PROXY_USER },
];

const metadata = (name: string) => ({ name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } });

/** The built-in objects, ClusterRoles first. */
export function bootstrapPolicy(): KObject[] {
  return [
    ...Object.entries(CLUSTER_ROLES).map(([name, rules]) => ({ apiVersion: `${RBAC_GROUP}/v1`, kind: 'ClusterRole', metadata: metadata(name), rules })),
    ...CLUSTER_ROLE_BINDINGS.map((b) => ({
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: metadata(b.name),
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: b.role },
      subjects: [b.user ? { kind: 'User', apiGroup: RBAC_GROUP, name: b.user } : { kind: 'Group', apiGroup: RBAC_GROUP, name: b.group }],
    })),
  ];
}
