/**
 * Kubernetes' defaulting, per kind: fills in what a client may leave out, so the
 * stored object says everything the controllers, scheduler and kubelet will read.
 * It mutates the object it is given (callers pass a copy), never overwrites what the
 * client set, is idempotent, and leaves uid / creationTimestamp / resourceVersion /
 * generation to the store.
 *
 * Go's zero values matter: where Kubernetes uses a plain int or string, `0` and `""`
 * mean "not set" and get the default; where it uses a pointer (replicas,
 * terminationGracePeriodSeconds, ...) only an absent field does.
 */
import type { KObject } from '../../lib/api/resources.js';
import { addQuantities, compareQuantities, sign, tryParseQuantity, type Quantity } from '../../lib/quantity/index.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const unset = (v: unknown): boolean => v === undefined || v === null;
const zero = (v: unknown): boolean => unset(v) || v === '' || v === 0;

/** Sets `o[key]` when it is absent (pointer semantics). */
function orDefault(o: Obj, key: string, value: unknown): void {
  if (unset(o[key])) o[key] = value;
}

/** Sets `o[key]` when it is absent, `0` or `""` (value semantics). */
function orDefaultZero(o: Obj, key: string, value: unknown): void {
  if (zero(o[key])) o[key] = value;
}

/** `o[key]` as an object, created when absent; undefined when it holds something else. */
function objField(o: Obj, key: string): Obj | undefined {
  if (unset(o[key])) o[key] = {};
  const v = o[key];
  return isObj(v) ? v : undefined;
}

const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** Defaults `obj` (of the given kind) in place. Unknown kinds are left alone. */
export function applyDefaults(kind: string, obj: KObject): void {
  switch (kind) {
    case 'Pod':
      return defaultPod(obj);
    case 'Service':
      return defaultService(obj);
    case 'ReplicationController':
      return defaultReplicationController(obj);
    case 'ReplicaSet':
      return defaultReplicaSet(obj);
    case 'Deployment':
      return defaultDeployment(obj);
    case 'Namespace':
      return defaultNamespace(obj);
    case 'Node':
      return defaultNode(obj);
    case 'Endpoints':
      return defaultEndpoints(obj);
  }
}

function defaultPod(pod: KObject): void {
  const spec = isObj(pod.spec) ? pod.spec : undefined;
  if (spec) defaultPodSpec(spec);
  const status = objField(pod, 'status');
  if (!status) return;
  orDefaultZero(status, 'phase', 'Pending');
  if (spec) status.qosClass = computeQOSClass(spec);
}

/** Pod spec defaults, shared by pods and the pod templates of workloads. */
export function defaultPodSpec(spec: Obj): void {
  orDefaultZero(spec, 'restartPolicy', 'Always');
  orDefaultZero(spec, 'dnsPolicy', 'ClusterFirst');
  orDefault(spec, 'terminationGracePeriodSeconds', 30);
  orDefaultZero(spec, 'schedulerName', 'default-scheduler');
  orDefault(spec, 'enableServiceLinks', true);
  orDefault(spec, 'securityContext', {});
  const containers = [...objects(spec.initContainers), ...objects(spec.containers)];
  for (const c of containers) defaultContainer(c, spec.hostNetwork === true);
  for (const v of objects(spec.volumes)) defaultVolume(v);
}

const VOLUME_SOURCE_KEYS = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi',
  'glusterfs', 'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc',
  'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected',
  'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
];
/** 0644, the mode Kubernetes gives projected files. */
const DEFAULT_FILE_MODE = 0o644;

function defaultVolume(v: Obj): void {
  // A volume naming no source is an emptyDir, as in Kubernetes.
  if (VOLUME_SOURCE_KEYS.every((k) => unset(v[k]))) v.emptyDir = {};
  for (const k of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    if (isObj(v[k])) orDefault(v[k], 'defaultMode', DEFAULT_FILE_MODE);
  }
}

/** `Always` for `:latest` or an untagged image without a digest, `IfNotPresent` otherwise. */
export function imagePullPolicyFor(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : '';
  if (tag === 'latest') return 'Always';
  if (tag === '' && at < 0) return 'Always';
  return 'IfNotPresent';
}

function defaultContainer(c: Obj, hostNetwork: boolean): void {
  if (typeof c.image === 'string' && c.image) orDefaultZero(c, 'imagePullPolicy', imagePullPolicyFor(c.image));
  orDefaultZero(c, 'terminationMessagePath', '/dev/termination-log');
  orDefaultZero(c, 'terminationMessagePolicy', 'File');
  for (const p of objects(c.ports)) {
    orDefaultZero(p, 'protocol', 'TCP');
    if (hostNetwork && zero(p.hostPort) && typeof p.containerPort === 'number') p.hostPort = p.containerPort;
  }
  const resources = objField(c, 'resources');
  if (resources && isObj(resources.limits)) {
    // Kubernetes: a limit without a request requests the limit.
    const requests = objField(resources, 'requests');
    if (requests) for (const [k, v] of Object.entries(resources.limits)) orDefault(requests, k, v);
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = c[probe];
    if (!isObj(p)) continue;
    orDefaultZero(p, 'timeoutSeconds', 1);
    orDefaultZero(p, 'periodSeconds', 10);
    orDefaultZero(p, 'successThreshold', 1);
    orDefaultZero(p, 'failureThreshold', 3);
    defaultHandler(p);
  }
  if (isObj(c.lifecycle)) for (const hook of ['postStart', 'preStop']) defaultHandler(c.lifecycle[hook]);
  for (const env of objects(c.env)) {
    const from = env.valueFrom;
    if (isObj(from) && isObj(from.fieldRef)) orDefaultZero(from.fieldRef, 'apiVersion', 'v1');
  }
}

function defaultHandler(h: unknown): void {
  if (!isObj(h) || !isObj(h.httpGet)) return;
  orDefaultZero(h.httpGet, 'path', '/');
  orDefaultZero(h.httpGet, 'scheme', 'HTTP');
}

/**
 * The pod's QoS class, as Kubernetes computes it from cpu and memory: Guaranteed when
 * every container limits both and requests equal limits, BestEffort when nothing is
 * requested or limited, Burstable otherwise.
 */
export function computeQOSClass(spec: Obj): QOSClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (m: Map<string, Quantity>, k: string, q: Quantity) => m.set(k, m.has(k) ? addQuantities(m.get(k)!, q) : q);
  for (const c of [...objects(spec.initContainers), ...objects(spec.containers)]) {
    const r = isObj(c.resources) ? c.resources : {};
    const found = new Set<string>();
    for (const [key, into] of [['requests', requests], ['limits', limits]] as const) {
      const list = isObj(r[key]) ? r[key] : {};
      for (const name of ['cpu', 'memory']) {
        const q = tryParseQuantity(list[name]);
        if (!q || sign(q) <= 0) continue;
        add(into, name, q);
        if (key === 'limits') found.add(name);
      }
    }
    if (found.size < 2) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareQuantities(lim, req) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

function defaultService(svc: KObject): void {
  const spec = objField(svc, 'spec');
  if (!spec) return;
  orDefaultZero(spec, 'type', 'ClusterIP');
  orDefaultZero(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP') {
    const clientIP = objField(objField(spec, 'sessionAffinityConfig') ?? {}, 'clientIP');
    if (clientIP) orDefaultZero(clientIP, 'timeoutSeconds', 10800);
  }
  for (const p of objects(spec.ports)) {
    orDefaultZero(p, 'protocol', 'TCP');
    if (zero(p.targetPort) && !unset(p.port)) p.targetPort = p.port;
  }
  if (spec.type !== 'ExternalName') {
    // clusterIP and clusterIPs say the same thing: either one fills in the other.
    const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    if (zero(spec.clusterIP) && typeof ips[0] === 'string' && ips[0]) spec.clusterIP = ips[0];
    else if (typeof spec.clusterIP === 'string' && spec.clusterIP && ips.length === 0) spec.clusterIPs = [spec.clusterIP];
    if (zero(spec.ipFamilies) || (Array.isArray(spec.ipFamilies) && spec.ipFamilies.length === 0)) spec.ipFamilies = ['IPv4'];
    orDefaultZero(spec, 'ipFamilyPolicy', 'SingleStack');
    orDefaultZero(spec, 'internalTrafficPolicy', 'Cluster');
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') orDefaultZero(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') orDefault(spec, 'allocateLoadBalancerNodePorts', true);
}

/** Defaults a workload's pod template; returns its labels. */
function defaultTemplate(spec: Obj): Record<string, string> | undefined {
  const tpl = spec.template;
  if (!isObj(tpl)) return undefined;
  if (isObj(tpl.spec)) defaultPodSpec(tpl.spec);
  const meta = tpl.metadata;
  return isObj(meta) && isObj(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
}

const isEmptyMap = (v: unknown) => !isObj(v) || Object.keys(v).length === 0;

function defaultReplicationController(rc: KObject): void {
  const spec = objField(rc, 'spec');
  if (!spec) return;
  orDefault(spec, 'replicas', 1);
  const labels = defaultTemplate(spec);
  if (!labels || Object.keys(labels).length === 0) return;
  if (isEmptyMap(spec.selector)) spec.selector = { ...labels };
  const meta = objField(rc, 'metadata');
  if (meta && isEmptyMap(meta.labels)) meta.labels = { ...labels };
}

function defaultReplicaSet(rs: KObject): void {
  const spec = objField(rs, 'spec');
  if (!spec) return;
  orDefault(spec, 'replicas', 1);
  defaultTemplate(spec);
}

function defaultDeployment(d: KObject): void {
  const spec = objField(d, 'spec');
  if (!spec) return;
  orDefault(spec, 'replicas', 1);
  orDefault(spec, 'revisionHistoryLimit', 10);
  orDefault(spec, 'progressDeadlineSeconds', 600);
  const strategy = objField(spec, 'strategy');
  if (strategy) {
    orDefaultZero(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = objField(strategy, 'rollingUpdate');
      if (ru) {
        orDefault(ru, 'maxUnavailable', '25%');
        orDefault(ru, 'maxSurge', '25%');
      }
    }
  }
  defaultTemplate(spec);
}

function defaultNamespace(ns: KObject): void {
  // Every namespace carries its own name as a label (Kubernetes 1.21+), so
  // selectors can pick namespaces by name.
  const name = ns.metadata?.name;
  if (name) ns.metadata!.labels = { ...ns.metadata!.labels, 'kubernetes.io/metadata.name': name };
  const spec = objField(ns, 'spec');
  if (spec) orDefault(spec, 'finalizers', ['kubernetes']);
  const status = objField(ns, 'status');
  if (status) orDefaultZero(status, 'phase', 'Active');
}

function defaultNode(node: KObject): void {
  const status = node.status;
  if (isObj(status) && isObj(status.capacity) && unset(status.allocatable)) status.allocatable = { ...status.capacity };
}

function defaultEndpoints(ep: KObject): void {
  for (const subset of objects(ep.subsets)) for (const p of objects(subset.ports)) orDefaultZero(p, 'protocol', 'TCP');
}
