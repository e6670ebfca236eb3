/**
 * Strategic-merge-patch list semantics for the built-in kinds Keelson serves.
 *
 * This is the `patchStrategy:"merge"` / `patchMergeKey:"..."` struct-tag information of
 * k8s.io/api, restated as data. A list field listed here is MERGED:
 *   - value is a field name  → list of objects, elements matched by that merge key;
 *   - value is `null`        → list of scalars, merged as a set (union, no duplicates).
 * A list field NOT listed here is ATOMIC: the patch's list replaces the live one, as in
 * Kubernetes (e.g. `args`, `command`, pod `tolerations`, node `taints`, service
 * `externalIPs`, Endpoints `subsets`, container statuses).
 *
 * Paths are the dotted field names from the object root; stepping into a list element adds
 * nothing to the path (`spec.containers.ports` is the ports list of any container).
 *
 * Tables:
 *  - `'*'`    applies to every kind (object metadata);
 *  - `PodSpec` is relative to a pod spec and is mounted where each kind keeps one
 *    ({@link POD_SPEC_AT}: `spec` in a Pod, `spec.template.spec` in controllers);
 *  - one table per kind for the rest (mostly `status.conditions`).
 *
 * Deliberate Kubernetes facts that may surprise: pod `tolerations` and node `taints` are
 * atomic (`+listType=atomic`, no merge key — a toleration key is not unique); container
 * `ports` merge by `containerPort` only (a TCP and a UDP port with the same number collide,
 * as in Kubernetes); node `status.addresses` merge by `type`.
 *
 * `$retainKeys` needs no table: the server honours the directive wherever a client sends it
 * (kubectl sends it for volumes and Deployment `spec.strategy`).
 */
export type MergeKey = string | null;
export type MergeKeyTable = Readonly<Record<string, MergeKey>>;

const CONTAINER: MergeKeyTable = {
  ports: 'containerPort',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
};

function containerLists(list: string): Record<string, MergeKey> {
  const out: Record<string, MergeKey> = { [list]: 'name' };
  for (const [k, v] of Object.entries(CONTAINER)) out[`${list}.${k}`] = v;
  return out;
}

export const MERGE_KEYS: Readonly<Record<string, MergeKeyTable>> = {
  '*': {
    'metadata.finalizers': null,
    'metadata.ownerReferences': 'uid',
  },
  PodSpec: {
    ...containerLists('containers'),
    ...containerLists('initContainers'),
    ...containerLists('ephemeralContainers'),
    volumes: 'name', // patchStrategy merge,retainKeys
    imagePullSecrets: 'name',
    hostAliases: 'ip',
    topologySpreadConstraints: 'topologyKey',
    schedulingGates: 'name',
    resourceClaims: 'name',
  },
  Pod: {
    'status.conditions': 'type',
    'status.podIPs': 'ip',
    'status.hostIPs': 'ip',
    'status.resourceClaimStatuses': 'name',
  },
  ReplicationController: { 'status.conditions': 'type' },
  ReplicaSet: { 'status.conditions': 'type' },
  Deployment: { 'status.conditions': 'type' },
  DaemonSet: { 'status.conditions': 'type' },
  StatefulSet: { 'status.conditions': 'type' },
  Service: {
    'spec.ports': 'port',
    'status.conditions': 'type',
  },
  Node: {
    'spec.podCIDRs': null,
    'status.conditions': 'type',
    'status.addresses': 'type',
  },
  Namespace: { 'status.conditions': 'type' },
  Endpoints: {},
  Event: {},
  Lease: {},
};

/** Where each kind keeps a PodSpec (the `PodSpec` table is mounted under this prefix). */
export const POD_SPEC_AT: Readonly<Record<string, string>> = {
  Pod: 'spec',
  PodTemplate: 'template.spec',
  ReplicationController: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  Deployment: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
};

const cache = new Map<string, ReadonlyMap<string, MergeKey>>();

function canonicalKind(kind: string): string {
  const lower = kind.toLowerCase();
  for (const k of [...Object.keys(MERGE_KEYS), ...Object.keys(POD_SPEC_AT)]) {
    if (k.toLowerCase() === lower && k !== '*' && k !== 'PodSpec') return k;
  }
  return kind;
}

/**
 * All merged-list paths of a kind (case-insensitive kind name). Unknown kinds get only the
 * metadata rules, so every other list of theirs is atomic.
 */
export function mergeKeysFor(kind: string): ReadonlyMap<string, MergeKey> {
  const canon = canonicalKind(kind);
  let rules = cache.get(canon);
  if (!rules) {
    const m = new Map<string, MergeKey>(Object.entries(MERGE_KEYS['*']!));
    const at = POD_SPEC_AT[canon];
    if (at !== undefined) {
      for (const [p, k] of Object.entries(MERGE_KEYS.PodSpec!)) m.set(`${at}.${p}`, k);
      const tmplMeta = at.replace(/spec$/, 'metadata');
      for (const [p, k] of Object.entries(MERGE_KEYS['*']!)) m.set(`${tmplMeta}.${p.slice('metadata.'.length)}`, k);
    }
    if (canon !== '*' && canon !== 'PodSpec') {
      for (const [p, k] of Object.entries(MERGE_KEYS[canon] ?? {})) m.set(p, k);
    }
    rules = m;
    cache.set(canon, rules);
  }
  return rules;
}
