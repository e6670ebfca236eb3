/**
 * Request bodies in Kubernetes' own protobuf encoding
 * (`application/vnd.kubernetes.protobuf`), decoded into the JSON shape. kubectl
 * 1.32's typed clients send it, without a JSON fallback, for `create namespace`,
 * `create deployment` and `create service ...`; client-go programs send it for
 * every write. Replies stay JSON: those clients also accept it.
 *
 * A body is the magic `k8s\0` and a runtime.Unknown { typeMeta, raw }; `raw` is
 * the object as the messages of k8s.io/api's generated.proto lay it out. Go
 * writes every non-pointer field even when it holds its zero value, so a zero
 * reads as "absent" unless the field is a pointer (`?` below). Only the messages
 * below are known. A field outside them is let through when it carries a zero
 * value (what a generator leaves unset); anything else is refused with 415
 * rather than dropped without a word.
 */
import { ApiError, errors } from '../../lib/errors/index.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/**
 * Field number → `name[:type][[]][?]`. Types: string (default), int32, int64,
 * bool, map (string → string), quantities (string → Quantity), Time,
 * IntOrString, Quantity, or another message here. `[]` repeated, `?` pointer.
 */
const MESSAGES: Record<string, Record<number, string>> = {
  // k8s.io/apimachinery/pkg/apis/meta/v1
  ObjectMeta: {
    1: 'name',
    2: 'generateName',
    3: 'namespace',
    5: 'uid',
    6: 'resourceVersion',
    7: 'generation:int64',
    8: 'creationTimestamp:Time',
    9: 'deletionTimestamp:Time',
    10: 'deletionGracePeriodSeconds:int64?',
    11: 'labels:map',
    12: 'annotations:map',
    13: 'ownerReferences:OwnerReference[]',
    14: 'finalizers:string[]',
  },
  OwnerReference: { 1: 'kind', 3: 'name', 4: 'uid', 5: 'apiVersion', 6: 'controller:bool?', 7: 'blockOwnerDeletion:bool?' },
  LabelSelector: { 1: 'matchLabels:map', 2: 'matchExpressions:LabelSelectorRequirement[]' },
  LabelSelectorRequirement: { 1: 'key', 2: 'operator', 3: 'values:string[]' },
  DeleteOptions: {
    1: 'gracePeriodSeconds:int64?',
    2: 'preconditions:Preconditions',
    3: 'orphanDependents:bool?',
    4: 'propagationPolicy:string?',
    5: 'dryRun:string[]',
  },
  Preconditions: { 1: 'uid:string?', 2: 'resourceVersion:string?' },
  // k8s.io/api/core/v1
  Namespace: { 1: 'metadata:ObjectMeta', 2: 'spec:NamespaceSpec', 3: 'status:NamespaceStatus' },
  NamespaceSpec: { 1: 'finalizers:string[]' },
  NamespaceStatus: { 1: 'phase' },
  Pod: { 1: 'metadata:ObjectMeta', 2: 'spec:PodSpec', 3: 'status:PodStatus' },
  PodStatus: { 1: 'phase', 3: 'message', 4: 'reason', 5: 'hostIP', 6: 'podIP', 9: 'qosClass', 11: 'nominatedNodeName' },
  PodTemplateSpec: { 1: 'metadata:ObjectMeta', 2: 'spec:PodSpec' },
  PodSpec: {
    2: 'containers:Container[]',
    3: 'restartPolicy',
    4: 'terminationGracePeriodSeconds:int64?',
    5: 'activeDeadlineSeconds:int64?',
    6: 'dnsPolicy',
    7: 'nodeSelector:map',
    8: 'serviceAccountName',
    9: 'serviceAccount',
    10: 'nodeName',
    11: 'hostNetwork:bool',
    12: 'hostPID:bool',
    13: 'hostIPC:bool',
    16: 'hostname',
    17: 'subdomain',
    19: 'schedulerName',
    20: 'initContainers:Container[]',
    21: 'automountServiceAccountToken:bool?',
    22: 'tolerations:Toleration[]',
    24: 'priorityClassName',
    25: 'priority:int32?',
    30: 'enableServiceLinks:bool?',
  },
  Container: {
    1: 'name',
    2: 'image',
    3: 'command:string[]',
    4: 'args:string[]',
    5: 'workingDir',
    6: 'ports:ContainerPort[]',
    7: 'env:EnvVar[]',
    8: 'resources:ResourceRequirements',
    13: 'terminationMessagePath',
    14: 'imagePullPolicy',
    16: 'stdin:bool',
    17: 'stdinOnce:bool',
    18: 'tty:bool',
    20: 'terminationMessagePolicy',
  },
  ContainerPort: { 1: 'name', 2: 'hostPort:int32', 3: 'containerPort:int32', 4: 'protocol', 5: 'hostIP' },
  EnvVar: { 1: 'name', 2: 'value' },
  ResourceRequirements: { 1: 'limits:quantities', 2: 'requests:quantities' },
  Toleration: { 1: 'key', 2: 'operator', 3: 'value', 4: 'effect', 5: 'tolerationSeconds:int64?' },
  ReplicationController: { 1: 'metadata:ObjectMeta', 2: 'spec:ReplicationControllerSpec', 3: 'status:ReplicaSetStatus' },
  ReplicationControllerSpec: { 1: 'replicas:int32?', 2: 'selector:map', 3: 'template:PodTemplateSpec', 4: 'minReadySeconds:int32' },
  Service: { 1: 'metadata:ObjectMeta', 2: 'spec:ServiceSpec', 3: 'status:ServiceStatus' },
  ServiceSpec: {
    1: 'ports:ServicePort[]',
    2: 'selector:map',
    3: 'clusterIP',
    4: 'type',
    5: 'externalIPs:string[]',
    7: 'sessionAffinity',
    8: 'loadBalancerIP',
    9: 'loadBalancerSourceRanges:string[]',
    10: 'externalName',
    11: 'externalTrafficPolicy',
    12: 'healthCheckNodePort:int32',
    13: 'publishNotReadyAddresses:bool',
    17: 'ipFamilyPolicy:string?',
    18: 'clusterIPs:string[]',
    19: 'ipFamilies:string[]',
    22: 'internalTrafficPolicy:string?',
  },
  ServicePort: { 1: 'name', 2: 'protocol', 3: 'port:int32', 4: 'targetPort:IntOrString', 5: 'nodePort:int32', 6: 'appProtocol:string?' },
  ServiceStatus: { 1: 'loadBalancer:LoadBalancerStatus' },
  LoadBalancerStatus: { 1: 'ingress:LoadBalancerIngress[]' },
  LoadBalancerIngress: { 1: 'ip', 2: 'hostname' },
  // k8s.io/api/apps/v1
  Deployment: { 1: 'metadata:ObjectMeta', 2: 'spec:DeploymentSpec', 3: 'status:DeploymentStatus' },
  DeploymentSpec: {
    1: 'replicas:int32?',
    2: 'selector:LabelSelector',
    3: 'template:PodTemplateSpec',
    4: 'strategy:DeploymentStrategy',
    5: 'minReadySeconds:int32',
    6: 'revisionHistoryLimit:int32?',
    7: 'paused:bool',
    9: 'progressDeadlineSeconds:int32?',
  },
  DeploymentStrategy: { 1: 'type', 2: 'rollingUpdate:RollingUpdateDeployment' },
  RollingUpdateDeployment: { 1: 'maxUnavailable:IntOrString', 2: 'maxSurge:IntOrString' },
  DeploymentStatus: {
    1: 'observedGeneration:int64',
    2: 'replicas:int32',
    3: 'updatedReplicas:int32',
    4: 'availableReplicas:int32',
    5: 'unavailableReplicas:int32',
    7: 'readyReplicas:int32',
  },
  ReplicaSet: { 1: 'metadata:ObjectMeta', 2: 'spec:ReplicaSetSpec', 3: 'status:ReplicaSetStatus' },
  ReplicaSetSpec: { 1: 'replicas:int32?', 2: 'selector:LabelSelector', 3: 'template:PodTemplateSpec', 4: 'minReadySeconds:int32' },
  ReplicaSetStatus: {
    1: 'replicas:int32',
    2: 'fullyLabeledReplicas:int32',
    3: 'observedGeneration:int64',
    4: 'readyReplicas:int32',
    5: 'availableReplicas:int32',
  },
  // k8s.io/api/policy/v1
  Eviction: { 1: 'metadata:ObjectMeta', 2: 'deleteOptions:DeleteOptions' },
  // k8s.io/api/rbac/v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`)
  Role: { 1: 'metadata:ObjectMeta', 2: 'rules:PolicyRule[]' },
  ClusterRole: { 1: 'metadata:ObjectMeta', 2: 'rules:PolicyRule[]' },
  PolicyRule: { 1: 'verbs:string[]', 2: 'apiGroups:string[]', 3: 'resources:string[]', 4: 'resourceNames:string[]', 5: 'nonResourceURLs:string[]' },
  RoleBinding: { 1: 'metadata:ObjectMeta', 2: 'subjects:Subject[]', 3: 'roleRef:RoleRef' },
  ClusterRoleBinding: { 1: 'metadata:ObjectMeta', 2: 'subjects:Subject[]', 3: 'roleRef:RoleRef' },
  Subject: { 1: 'kind', 2: 'apiGroup', 3: 'name', 4: 'namespace' },
  RoleRef: { 1: 'apiGroup', 2: 'kind', 3: 'name' },
  // k8s.io/api/authorization/v1 (`kubectl auth can-i`)
  SelfSubjectAccessReview: { 1: 'metadata:ObjectMeta', 2: 'spec:SelfSubjectAccessReviewSpec' },
  SelfSubjectAccessReviewSpec: { 1: 'resourceAttributes:ResourceAttributes', 2: 'nonResourceAttributes:NonResourceAttributes' },
  ResourceAttributes: { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' },
  NonResourceAttributes: { 1: 'path', 2: 'verb' },
};

/** The kinds a body may carry: each is its own message above. */
const TOP_LEVEL = new Set([
  'Namespace',
  'Pod',
  'Service',
  'ReplicationController',
  'Deployment',
  'ReplicaSet',
  'DeleteOptions',
  'Eviction',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'SelfSubjectAccessReview',
]);

type FieldSpec = { name: string; type: string; repeated: boolean; pointer: boolean };

const specs = new Map<string, FieldSpec>();
function fieldSpec(text: string): FieldSpec {
  let s = specs.get(text);
  if (!s) {
    const m = /^(\w+)(?::(\w+))?(\[\])?(\?)?$/.exec(text)!;
    s = { name: m[1]!, type: m[2] ?? 'string', repeated: !!m[3], pointer: !!m[4] };
    specs.set(text, s);
  }
  return s;
}

/**
 * A body the decoder refused. The route throws its error once it knows the
 * resource exists, so a POST to a resource Keelson does not serve is a 404
 * whatever its body, as in Kubernetes.
 */
export class UndecodedBody {
  constructor(readonly error: ApiError) {}
}

/** Decodes a `k8s\0`-framed body into the object's JSON shape. */
export function decodeK8sProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw errors.badRequest(`a ${PROTOBUF_MEDIA_TYPE} body must start with the "k8s\\0" prefix`);
  }
  const unknown = new Reader(body.subarray(MAGIC.length));
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  let encoding = '';
  while (!unknown.done()) {
    const [field, wire] = unknown.tag();
    if (field === 1 && wire === 2) {
      const typeMeta = new Reader(unknown.bytes());
      while (!typeMeta.done()) {
        const [f, w] = typeMeta.tag();
        if (f === 1 && w === 2) apiVersion = typeMeta.string();
        else if (f === 2 && w === 2) kind = typeMeta.string();
        else typeMeta.skip(w);
      }
    } else if (field === 2 && wire === 2) raw = unknown.bytes();
    else if (field === 3 && wire === 2) encoding = unknown.string();
    else unknown.skip(wire);
  }
  if (encoding) throw unsupported(`the protobuf body is ${encoding}-encoded`);
  if (!TOP_LEVEL.has(kind)) throw unsupported(`Keelson cannot read a ${kind || 'kind-less'} object in protobuf`);
  const obj = decodeMessage(raw ?? Buffer.alloc(0), kind, kind);
  return { apiVersion, kind, ...obj };
}

function decodeMessage(buf: Buffer, message: string, path: string): Record<string, unknown> {
  const schema = MESSAGES[message]!;
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (!r.done()) {
    const [field, wire] = r.tag();
    const text = schema[field];
    if (!text) {
      if (!r.skipZero(wire)) throw unsupported(`field ${field} of ${message} (at ${path}) is not one Keelson can read in protobuf`);
      continue;
    }
    const spec = fieldSpec(text);
    const value = decodeValue(r, wire, spec, `${path}.${spec.name}`);
    if (spec.repeated) {
      if (spec.type === 'map' || spec.type === 'quantities') throw new Error(`bad schema for ${message}.${spec.name}`);
      ((out[spec.name] ??= []) as unknown[]).push(value);
    } else if (spec.type === 'map' || spec.type === 'quantities') {
      const [k, v] = value as [string, unknown];
      ((out[spec.name] ??= {}) as Record<string, unknown>)[k] = v;
    } else if (value !== undefined && (spec.pointer || !isZero(value))) {
      out[spec.name] = value;
    } else {
      delete out[spec.name];
    }
  }
  return out;
}

function decodeValue(r: Reader, wire: number, spec: FieldSpec, path: string): unknown {
  const expect = (w: number) => {
    if (wire !== w) throw errors.badRequest(`protobuf body: ${path} has wire type ${wire}, not ${w}`);
  };
  switch (spec.type) {
    case 'string':
      expect(2);
      return r.string();
    case 'bool':
      expect(0);
      return r.varint() !== 0n;
    case 'int32':
      expect(0);
      return Number(BigInt.asIntN(32, r.varint()));
    case 'int64':
      expect(0);
      return Number(BigInt.asIntN(64, r.varint()));
    case 'map':
    case 'quantities': {
      expect(2);
      const entry = new Reader(r.bytes());
      let key = '';
      let value: unknown = spec.type === 'map' ? '' : undefined;
      while (!entry.done()) {
        const [f, w] = entry.tag();
        if (f === 1 && w === 2) key = entry.string();
        else if (f === 2 && w === 2) value = spec.type === 'map' ? entry.string() : quantity(entry.bytes());
        else entry.skip(w);
      }
      return [key, value ?? '0'];
    }
    case 'Time':
      expect(2);
      return time(r.bytes());
    case 'IntOrString':
      expect(2);
      return intOrString(r.bytes());
    case 'Quantity':
      expect(2);
      return quantity(r.bytes());
    default: {
      expect(2);
      const obj = decodeMessage(r.bytes(), spec.type, path);
      return spec.pointer || Object.keys(obj).length > 0 ? obj : undefined;
    }
  }
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

/** meta/v1 Time { seconds, nanos } → RFC 3339; Go's zero time reads as absent. */
function time(buf: Buffer): string | undefined {
  const r = new Reader(buf);
  let seconds = 0;
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === 1 && w === 0) seconds = Number(BigInt.asIntN(64, r.varint()));
    else r.skip(w);
  }
  if (seconds === 0 || seconds === -62135596800) return undefined;
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** intstr.IntOrString { type, intVal, strVal }. */
function intOrString(buf: Buffer): number | string {
  const r = new Reader(buf);
  let type = 0;
  let intVal = 0;
  let strVal = '';
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === 1 && w === 0) type = Number(r.varint());
    else if (f === 2 && w === 0) intVal = Number(BigInt.asIntN(32, r.varint()));
    else if (f === 3 && w === 2) strVal = r.string();
    else r.skip(w);
  }
  return type === 1 ? strVal : intVal;
}

/** resource.Quantity { string }. */
function quantity(buf: Buffer): string {
  const r = new Reader(buf);
  let s = '';
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) s = r.string();
    else r.skip(w);
  }
  return s;
}

function unsupported(what: string): ApiError {
  return new ApiError('UnsupportedMediaType', `${what}; send the object as application/json (kubectl create -f / apply -f do)`);
}

/** The protobuf wire format, as much of it as the messages above use. */
class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw truncated();
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw errors.badRequest('protobuf body: a varint is longer than 10 bytes');
  }

  tag(): [field: number, wire: number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }

  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw truncated();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  skip(wire: number): void {
    this.skipZero(wire);
  }

  /** Skips one value; true when it was a zero (0, "", an empty or all-zero message). */
  skipZero(wire: number): boolean {
    switch (wire) {
      case 0:
        return this.varint() === 0n;
      case 1:
        return this.fixed(8);
      case 5:
        return this.fixed(4);
      case 2:
        return allZero(this.bytes());
      default:
        throw errors.badRequest(`protobuf body: unsupported wire type ${wire}`);
    }
  }

  private fixed(n: number): boolean {
    if (this.pos + n > this.buf.length) throw truncated();
    const zero = this.buf.subarray(this.pos, this.pos + n).every((b) => b === 0);
    this.pos += n;
    return zero;
  }
}

/**
 * Whether bytes of an unknown field are a zero value: empty, or a message whose
 * fields are all zero (what Go writes for an unset struct). Text never parses
 * as such a message: its zeros would need NUL bytes.
 */
function allZero(buf: Buffer): boolean {
  if (buf.length === 0) return true;
  try {
    const r = new Reader(buf);
    while (!r.done()) {
      const [field, wire] = r.tag();
      if (field === 0 || !r.skipZero(wire)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function truncated(): ApiError {
  return errors.badRequest('protobuf body: truncated');
}
