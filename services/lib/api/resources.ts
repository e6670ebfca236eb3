/**
 * The resource table: every kind Keelson serves, with the facts that discovery,
 * the store, the codec and the HTTP routes need. One row per resource; nothing else
 * in the code base hard-codes plural names, groups or short names.
 */

/** A Kubernetes-style object in its JSON shape (what kubectl sends and receives). */
export type KObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
};

/** The metadata fields the control plane itself reads and writes. */
export type ObjectMeta = {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [field: string]: unknown;
};

export type OwnerReference = {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
};

export type Verb =
  | 'create'
  | 'delete'
  | 'deletecollection'
  | 'get'
  | 'list'
  | 'patch'
  | 'update'
  | 'watch';

/** One served resource. */
export type ResourceInfo = {
  /** URL segment and store prefix, e.g. `pods`. */
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  /** API group; '' is the core group served under /api/v1. */
  group: string;
  version: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: Verb[];
  /** Subresources served as `{plural}/{sub}`. */
  subresources: string[];
  /** Fully qualified protobuf message name of the stored object. */
  protoType: string;
};

const ALL_VERBS: Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

function resource(
  r: Omit<ResourceInfo, 'listKind' | 'singular' | 'verbs' | 'categories' | 'subresources'> &
    Partial<Pick<ResourceInfo, 'verbs' | 'categories' | 'subresources'>>,
): ResourceInfo {
  return {
    listKind: `${r.kind}List`,
    singular: r.kind.toLowerCase(),
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    ...r,
  };
}

/** Where each node's heartbeat Lease lives, named after the node. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** Roles and bindings: who may do what (services/apiserver/authz). */
export const RBAC_GROUP = 'rbac.authorization.k8s.io';

export const RESOURCES: readonly ResourceInfo[] = [
  resource({
    plural: 'namespaces',
    kind: 'Namespace',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
    protoType: 'keelson.core.v1.Namespace',
  }),
  resource({
    plural: 'pods',
    kind: 'Pod',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'binding', 'log', 'exec', 'eviction'],
    protoType: 'keelson.core.v1.Pod',
  }),
  resource({
    plural: 'nodes',
    kind: 'Node',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
    protoType: 'keelson.core.v1.Node',
  }),
  resource({
    plural: 'services',
    kind: 'Service',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
    protoType: 'keelson.core.v1.Service',
  }),
  resource({
    plural: 'endpoints',
    kind: 'Endpoints',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['ep'],
    protoType: 'keelson.core.v1.Endpoints',
  }),
  resource({
    plural: 'replicationcontrollers',
    kind: 'ReplicationController',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['rc'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    protoType: 'keelson.core.v1.ReplicationController',
  }),
  resource({
    plural: 'events',
    kind: 'Event',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['ev'],
    protoType: 'keelson.core.v1.Event',
  }),
  resource({
    plural: 'deployments',
    kind: 'Deployment',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    protoType: 'keelson.apps.v1.Deployment',
  }),
  resource({
    plural: 'replicasets',
    kind: 'ReplicaSet',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    protoType: 'keelson.apps.v1.ReplicaSet',
  }),
  resource({
    plural: 'leases',
    kind: 'Lease',
    group: 'coordination.k8s.io',
    version: 'v1',
    namespaced: true,
    shortNames: [],
    protoType: 'keelson.coordination.v1.Lease',
  }),
  ...(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const).map((kind) =>
    resource({
      plural: `${kind.toLowerCase()}s`,
      kind,
      group: RBAC_GROUP,
      version: 'v1',
      namespaced: !kind.startsWith('Cluster'),
      shortNames: [],
      protoType: `keelson.rbac.v1.${kind}`,
    }),
  ),
];

/** `v1` for the core group, `apps/v1` otherwise. */
export function groupVersion(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

const byPlural = new Map(RESOURCES.map((r) => [`${groupVersion(r)}/${r.plural}`, r]));
const byKind = new Map(RESOURCES.map((r) => [r.kind, r]));
const byName = new Map<string, ResourceInfo>();
for (const r of RESOURCES) {
  for (const n of [r.plural, r.singular, r.kind.toLowerCase(), ...r.shortNames]) byName.set(n, r);
}

/** The resource served at `/{apis/group|api}/{version}/{plural}`, if any. */
export function resourceFor(group: string, version: string, plural: string): ResourceInfo | undefined {
  return byPlural.get(`${group ? `${group}/` : ''}${version}/${plural}`);
}

export function resourceForKind(kind: string): ResourceInfo | undefined {
  return byKind.get(kind);
}

/** Resolves what a user typed (`po`, `pods`, `deployment`, `svc`). */
export function resourceForName(name: string): ResourceInfo | undefined {
  return byName.get(name.toLowerCase()) ?? byName.get(name.toLowerCase().split('.')[0] ?? '');
}

/** The API groups served, in discovery order, with their versions. */
export function apiGroups(): { group: string; versions: string[] }[] {
  const groups = new Map<string, Set<string>>();
  for (const r of RESOURCES) {
    if (!r.group) continue;
    const v = groups.get(r.group) ?? new Set();
    v.add(r.version);
    groups.set(r.group, v);
  }
  return [...groups].map(([group, versions]) => ({ group, versions: [...versions] }));
}
