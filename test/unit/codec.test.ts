/**
 * The JSON <-> protobuf codec (services/lib/codec).
 * Run: node --import tsx --test test/unit/codec.test.ts   (after `npm run gen`)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs/light.js';

import { RESOURCES, type KObject } from '../../services/lib/api/resources.js';
import {
  CodecError,
  EMPTY_FIELDS_ID,
  INT_OR_STRING_TYPE,
  QUANTITY_FIELDS,
  RAW_JSON_TYPE,
  decodeMessage,
  decodeObject,
  encodeMessage,
  encodeObject,
  hasMessageType,
  messageType,
  unknownFields,
  type ApiRequest,
  type ApiResponse,
  type DeleteOptions,
  type ListMeta,
  type StatusMessage,
  type WatchEvent,
} from '../../services/lib/codec/index.js';
import type { keelson } from '../../services/lib/gen/types.js';

// ------------------------------------------- compile-time: API types = protos

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Fields<P> = Exclude<keyof P, '$unknowns'>;
const apiTypesMatchProtos: [
  Equal<keyof ApiRequest, Fields<keelson.api.v1.ApiRequest.$Properties>>,
  Equal<keyof ApiResponse, Fields<keelson.api.v1.ApiResponse.$Properties>>,
  Equal<keyof WatchEvent, Fields<keelson.api.v1.WatchEvent.$Properties>>,
  Equal<keyof StatusMessage, Fields<keelson.meta.v1.Status.$Properties>>,
  Equal<keyof ListMeta, Fields<keelson.meta.v1.ListMeta.$Properties>>,
  Equal<keyof DeleteOptions, Fields<keelson.meta.v1.DeleteOptions.$Properties>>,
] = [true, true, true, true, true, true];
void apiTypesMatchProtos;

// ----------------------------------------------------------------- helpers

const roundTrip = (protoType: string, obj: KObject): KObject => decodeObject(protoType, encodeObject(protoType, obj));

function fullName(t: protobuf.ReflectionObject): string {
  return t.fullName.replace(/^\./, '');
}

/**
 * Builds a JSON sample of message `type` that sets every field it defines,
 * recursively: distinct strings, signed and large numbers, both booleans, maps
 * with two entries, lists with two items, IntOrString alternately as int and
 * string. With `zero`, every field holds its zero value instead ("" / 0 / false /
 * [] / {}), nested messages included: presence must survive too.
 */
function sampleOf(type: protobuf.Type, zero: boolean): { obj: Record<string, unknown>; fields: number } {
  let counter = 0;
  let intOrStringToggle = false;
  let fields = 0;

  function scalar(fieldType: string, owner: string, fieldName: string): unknown {
    const n = ++counter;
    switch (fieldType) {
      case 'string':
        if (zero) return '';
        return QUANTITY_FIELDS.has(`${owner}.${fieldName}`) ? `${n}00m` : `${fieldName}-${n}-ü`;
      case 'bool':
        return zero ? false : n % 2 === 0;
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        return zero ? 0 : n % 3 === 0 ? -n : n * 1000;
      case 'uint32':
      case 'fixed32':
        return zero ? 0 : n * 100_000;
      case 'int64':
      case 'sint64':
      case 'sfixed64':
        return zero ? 0 : n % 3 === 0 ? -(2 ** 40 + n) : 2 ** 50 + n;
      case 'uint64':
      case 'fixed64':
        return zero ? 0 : 2 ** 52 + n;
      case 'double':
        return zero ? 0 : n + 0.25;
      case 'float':
        return zero ? 0 : 0.5;
      case 'bytes':
        return zero ? new Uint8Array(0) : new Uint8Array([n & 255, 0, 255]);
      default:
        throw new Error(`sample: unhandled type ${fieldType}`);
    }
  }

  function value(field: protobuf.Field, owner: string, stack: string[]): unknown {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) {
      const name = fullName(rt);
      if (name === INT_OR_STRING_TYPE) {
        intOrStringToggle = !intOrStringToggle;
        if (zero) return intOrStringToggle ? 0 : '';
        return intOrStringToggle ? 8000 + ++counter : `port-${++counter}%`;
      }
      if (name === RAW_JSON_TYPE) {
        return zero ? {} : { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, list: [1, 'two', true, null, 2.5] };
      }
      if (stack.includes(name)) throw new Error(`sample: recursive type ${name}`);
      return message(rt, [...stack, name]);
    }
    if (rt instanceof protobuf.Enum) {
      const names = Object.keys(rt.values);
      return zero ? names[0] : names[names.length - 1];
    }
    return scalar(field.type, owner, field.name);
  }

  function message(t: protobuf.Type, stack: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const owner = fullName(t);
    for (const field of t.fieldsArray) {
      field.resolve();
      fields++;
      if (field.map) {
        out[field.name] = zero ? {} : { 'example.com/b-key': value(field, owner, stack), a: value(field, owner, stack) };
      } else if (field.repeated) {
        out[field.name] = zero ? [] : [value(field, owner, stack), value(field, owner, stack)];
      } else {
        out[field.name] = value(field, owner, stack);
      }
    }
    return out;
  }

  const obj = message(type, [fullName(type)]);
  return { obj, fields };
}

/** Every message type reachable from `type`. */
function reachableTypes(type: protobuf.Type, seen = new Set<string>()): Set<string> {
  if (seen.has(fullName(type))) return seen;
  seen.add(fullName(type));
  for (const f of type.fieldsArray) {
    f.resolve();
    if (f.resolvedType instanceof protobuf.Type) reachableTypes(f.resolvedType, seen);
  }
  return seen;
}

// ------------------------------------------------------------ every resource

test('every resource protoType exists and has apiVersion, kind, metadata', () => {
  assert.ok(RESOURCES.length >= 10);
  for (const r of RESOURCES) {
    assert.ok(hasMessageType(r.protoType), `${r.protoType} is missing from protos/`);
    const t = messageType(r.protoType);
    assert.equal(t.fields.apiVersion?.type, 'string', `${r.protoType}.apiVersion`);
    assert.equal(t.fields.kind?.type, 'string', `${r.protoType}.kind`);
    assert.equal(fullName(t.fields.metadata!.resolve().resolvedType!), 'keelson.meta.v1.ObjectMeta', `${r.protoType}.metadata`);
  }
});

for (const r of RESOURCES) {
  test(`${r.kind}: a sample setting every field round-trips exactly`, () => {
    const { obj, fields } = sampleOf(messageType(r.protoType), false);
    assert.ok(fields > 10, `${r.protoType}: only ${fields} fields walked`);
    assert.deepEqual(unknownFields(r.protoType, obj), [], 'the sample uses only defined fields');
    const bytes = encodeObject(r.protoType, obj as KObject);
    assert.ok(bytes instanceof Uint8Array && bytes.length > 0);
    assert.deepEqual(decodeObject(r.protoType, bytes), obj);
    // Deterministic: encoding the decoded object gives the same bytes.
    assert.deepEqual(encodeObject(r.protoType, decodeObject(r.protoType, bytes)), bytes);
  });

  test(`${r.kind}: a sample with every field at its zero value ("", 0, false, [], {}) round-trips exactly`, () => {
    const { obj } = sampleOf(messageType(r.protoType), true);
    assert.deepEqual(roundTrip(r.protoType, obj as KObject), obj);
  });
}

test('the sample generator covers IntOrString both ways, int64, maps and RawJSON', () => {
  const pod = sampleOf(messageType('keelson.core.v1.Pod'), false).obj as any;
  const httpGet = pod.spec.containers[0].livenessProbe.httpGet;
  const tcp = pod.spec.containers[0].livenessProbe.tcpSocket;
  assert.equal(typeof httpGet.port === 'number', typeof tcp.port !== 'number', 'one int, one string');
  assert.ok(Math.abs(pod.metadata.generation) > 2 ** 32, 'int64 beyond 32 bits');
  assert.equal(Object.keys(pod.metadata.labels).length, 2);
  assert.ok(pod.metadata.managedFields[0].fieldsV1['f:metadata']);
});

// ------------------------------------------------------------ realistic objects

const kubectlPod: KObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d4b9c8f6d-x2k9p',
    generateName: 'web-7d4b9c8f6d-',
    namespace: 'default',
    uid: '3f1c2a7e-9a51-4a4e-8c3b-2f6e0c1d9b11',
    resourceVersion: '48213',
    creationTimestamp: '2024-05-01T10:00:00Z',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6d' },
    annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T09:59:58Z' },
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'web-7d4b9c8f6d',
        uid: 'a1b2c3d4-0000-4000-8000-000000000001',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: {
    volumes: [
      { name: 'cache', emptyDir: {} },
      { name: 'data', hostPath: { path: '/var/lib/web', type: 'DirectoryOrCreate' } },
      {
        name: 'kube-api-access-9xk2t',
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: {
                items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
              },
            },
          ],
          defaultMode: 420,
        },
      },
    ],
    containers: [
      {
        name: 'nginx',
        image: 'nginx:1.25',
        command: ['nginx'],
        args: ['-g', 'daemon off;'],
        ports: [
          { name: 'http', containerPort: 80, protocol: 'TCP' },
          { containerPort: 9113, hostPort: 0, protocol: 'UDP' },
        ],
        env: [
          { name: 'MODE', value: 'prod' },
          { name: 'EMPTY', value: '' },
          { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password', optional: false } } },
          { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
        ],
        resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } },
        volumeMounts: [
          { name: 'cache', mountPath: '/var/cache/nginx' },
          { name: 'kube-api-access-9xk2t', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
        ],
        livenessProbe: {
          httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] },
          initialDelaySeconds: 0,
          timeoutSeconds: 1,
          periodSeconds: 10,
          successThreshold: 1,
          failureThreshold: 3,
        },
        readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5 },
        startupProbe: { exec: { command: ['cat', '/tmp/ready'] }, failureThreshold: 30 },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
        securityContext: { allowPrivilegeEscalation: false, runAsUser: 0, capabilities: { drop: ['ALL'] } },
      },
    ],
    initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'], stdin: false, tty: false }],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    serviceAccountName: 'default',
    serviceAccount: 'default',
    nodeName: 'node-1',
    securityContext: {},
    schedulerName: 'default-scheduler',
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }],
        },
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              labelSelector: { matchLabels: { app: 'web' } },
              topologyKey: 'kubernetes.io/hostname',
            },
          },
        ],
      },
    },
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
  },
  status: {
    phase: 'Running',
    conditions: [
      { type: 'Initialized', status: 'True', lastProbeTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:01Z' },
      { type: 'Ready', status: 'False', lastTransitionTime: '2024-05-01T10:00:05Z', reason: 'ContainersNotReady', message: 'containers with unready status: [nginx]' },
    ],
    hostIP: '10.0.0.11',
    hostIPs: [{ ip: '10.0.0.11' }],
    podIP: '10.244.1.7',
    podIPs: [{ ip: '10.244.1.7' }, { ip: 'fd00::7' }],
    startTime: '2024-05-01T10:00:00Z',
    initContainerStatuses: [
      {
        name: 'init',
        state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: '2024-05-01T10:00:01Z', finishedAt: '2024-05-01T10:00:02Z', containerID: 'docker://aaa' } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: 'busybox:latest',
        imageID: 'docker-pullable://busybox@sha256:abc',
        containerID: 'docker://aaa',
      },
    ],
    containerStatuses: [
      {
        name: 'nginx',
        state: { running: { startedAt: '2024-05-01T10:00:03Z' } },
        lastState: { terminated: { exitCode: 137, signal: 9, reason: 'OOMKilled', startedAt: '2024-05-01T09:00:00Z', finishedAt: '2024-05-01T09:59:00Z' } },
        ready: false,
        restartCount: 1,
        image: 'nginx:1.25',
        imageID: 'docker-pullable://nginx@sha256:def',
        containerID: 'docker://bbb',
        started: true,
      },
    ],
    qosClass: 'Burstable',
  },
};

const kubectlDeployment: KObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'default',
    generation: 3,
    labels: { app: 'web' },
    annotations: {
      'deployment.kubernetes.io/revision': '2',
      'kubectl.kubernetes.io/last-applied-configuration':
        '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":"web","namespace":"default"},"spec":{"replicas":3}}\n',
    },
    finalizers: [],
    managedFields: [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: '2024-05-01T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } } } },
      },
    ],
  },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'nginx:1.25',
            ports: [{ containerPort: 80 }],
            resources: {},
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        securityContext: {},
        schedulerName: 'default-scheduler',
      },
    },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } },
    minReadySeconds: 0,
    revisionHistoryLimit: 10,
    paused: false,
    progressDeadlineSeconds: 600,
  },
  status: {
    observedGeneration: 3,
    replicas: 3,
    updatedReplicas: 3,
    readyReplicas: 2,
    availableReplicas: 2,
    unavailableReplicas: 1,
    conditions: [
      {
        type: 'Available',
        status: 'False',
        lastUpdateTime: '2024-05-01T10:00:00Z',
        lastTransitionTime: '2024-05-01T10:00:00Z',
        reason: 'MinimumReplicasUnavailable',
        message: 'Deployment does not have minimum availability.',
      },
    ],
  },
};

test('a realistic kubectl-style Pod round-trips exactly', () => {
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', kubectlPod), []);
  const back = roundTrip('keelson.core.v1.Pod', kubectlPod);
  assert.deepEqual(back, kubectlPod);
  // Field order follows the .proto declarations: apiVersion, kind, metadata, spec, status.
  assert.deepEqual(Object.keys(back), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  assert.equal(JSON.stringify(back).length, JSON.stringify(kubectlPod).length);
});

test('a realistic kubectl-style Deployment round-trips exactly (IntOrString as "25%" and as 1)', () => {
  assert.deepEqual(unknownFields('keelson.apps.v1.Deployment', kubectlDeployment), []);
  const back = roundTrip('keelson.apps.v1.Deployment', kubectlDeployment) as any;
  assert.deepEqual(back as unknown, kubectlDeployment);
  assert.equal(back.spec.strategy.rollingUpdate.maxUnavailable, '25%');
  assert.equal(back.spec.strategy.rollingUpdate.maxSurge, 1);
});

test('a Service keeps targetPort as a number or a name, and nodePort 0', () => {
  const svc: KObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 },
        { name: 'metrics', port: 9100, targetPort: 'metrics', nodePort: 0 },
      ],
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      externalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
  const back = roundTrip('keelson.core.v1.Service', svc) as any;
  assert.deepEqual(back as unknown, svc);
  assert.equal(back.spec.ports[0].targetPort, 8080);
  assert.equal(back.spec.ports[1].targetPort, 'metrics');
});

// ------------------------------------------------------------------ presence

test('explicit 0, false and "" are preserved; absent fields are not invented', () => {
  const rs: KObject = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: '', generation: 0 },
    spec: { replicas: 0, minReadySeconds: 0, template: { spec: { containers: [{ name: 'c', stdin: false, tty: false }] } } },
    status: { replicas: 0, readyReplicas: 0, observedGeneration: 0 },
  };
  const back = roundTrip('keelson.apps.v1.ReplicaSet', rs) as any;
  assert.deepEqual(back as unknown, rs);
  assert.equal(back.spec.replicas, 0);
  assert.equal(back.metadata.name, '');
  assert.equal(back.spec.template.spec.containers[0].stdin, false);
  assert.equal('availableReplicas' in back.status, false);
  assert.equal('selector' in back.spec, false);

  const node: KObject = { kind: 'Node', spec: { unschedulable: false }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  assert.deepEqual(roundTrip('keelson.core.v1.Node', node), node);
  const lease: KObject = { kind: 'Lease', spec: { holderIdentity: '', leaseDurationSeconds: 0, leaseTransitions: 0 } };
  assert.deepEqual(roundTrip('keelson.coordination.v1.Lease', lease), lease);
});

test('nothing is invented: {} → {}, empty bytes → {}, and empty messages stay present', () => {
  for (const r of RESOURCES) {
    assert.deepEqual(roundTrip(r.protoType, {}), {}, r.protoType);
    assert.deepEqual(decodeObject(r.protoType, new Uint8Array(0)), {}, r.protoType);
  }
  const pod: KObject = { metadata: {}, spec: { containers: [{}], volumes: [{ name: 'x', emptyDir: {} }] }, status: {} };
  assert.deepEqual(roundTrip('keelson.core.v1.Pod', pod), pod);
});

test('empty lists and maps survive ([] and {} are not the same as absent)', () => {
  const pod: KObject = {
    metadata: { labels: {}, finalizers: [], annotations: { a: '' } },
    spec: { containers: [{ name: 'c', args: [], env: [] }], nodeSelector: {}, tolerations: [] },
  };
  const back = roundTrip('keelson.core.v1.Pod', pod) as any;
  assert.deepEqual(back as unknown, pod);
  assert.deepEqual(Object.keys(back.metadata), ['labels', 'annotations', 'finalizers'], 'declaration order kept');
  // The marker is only written when needed.
  const plain = encodeObject('keelson.core.v1.Pod', { metadata: { name: 'a' } });
  const withEmpty = encodeObject('keelson.core.v1.Pod', { metadata: { name: 'a', finalizers: [] } });
  assert.ok(withEmpty.length > plain.length);
});

test('lossy by design: null is absent, null list items become zero values, quantity numbers become strings', () => {
  const back = roundTrip('keelson.core.v1.Pod', {
    metadata: { name: 'a', creationTimestamp: null as unknown as string, labels: { x: null as unknown as string } },
    spec: { containers: [{ name: 'c', args: ['a', null], resources: { limits: { cpu: 1, memory: '1Gi' }, requests: { cpu: 0.5 } } }] },
    status: null,
  } as KObject) as any;
  assert.deepEqual(back, {
    metadata: { name: 'a', labels: { x: '' } },
    spec: { containers: [{ name: 'c', args: ['a', ''], resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '0.5' } } }] },
  });
});

test('map keys that are special to JavaScript stay plain keys', () => {
  const labels = JSON.parse('{"__proto__":"x","constructor":"y","toString":"z"}') as Record<string, string>;
  const back = roundTrip('keelson.core.v1.Pod', { metadata: { labels } }) as { metadata: { labels: Record<string, string> } };
  assert.equal(Object.getPrototypeOf(back.metadata.labels), Object.prototype);
  assert.deepEqual(Object.entries(back.metadata.labels), [['__proto__', 'x'], ['constructor', 'y'], ['toString', 'z']]);
});

test('every QUANTITY_FIELDS entry names a string field of the schema', () => {
  for (const q of QUANTITY_FIELDS) {
    const dot = q.lastIndexOf('.');
    const f = messageType(q.slice(0, dot)).fields[q.slice(dot + 1)];
    assert.ok(f, `${q} does not exist`);
    assert.equal(f.type, 'string', q);
  }
});

test('encoding is deterministic: map key order does not change the bytes', () => {
  const a = encodeObject('keelson.core.v1.Pod', { metadata: { labels: { a: '1', b: '2', c: '3' } } });
  const b = encodeObject('keelson.core.v1.Pod', { metadata: { labels: { c: '3', a: '1', b: '2' } } });
  assert.deepEqual(a, b);
});

// ------------------------------------------------------------- unknownFields

test('unknownFields finds misspelled nested fields with their JSON paths', () => {
  const bad = structuredClone(kubectlDeployment) as any;
  bad.spec.template.spec.containers[0].imagee = 'nginx';
  bad.spec.template.spec.containers[0].ports[0].containerport = 80;
  bad.metadata.labelz = {};
  bad.specc = {};
  bad.spec.strategy.rollingUpdate.maxSurge = 2; // IntOrString: a leaf, fine
  assert.deepEqual(unknownFields('keelson.apps.v1.Deployment', bad), [
    'metadata.labelz',
    'spec.template.spec.containers[0].ports[0].containerport',
    'spec.template.spec.containers[0].imagee', // added last: document order
    'specc',
  ]);
  // The encoder ignores them (kubectl's fieldValidation=Ignore).
  const back = roundTrip('keelson.apps.v1.Deployment', bad) as any;
  assert.equal(back.spec.template.spec.containers[0].imagee, undefined);
  assert.equal(back.specc, undefined);
});

test('unknownFields returns [] for valid objects and non-objects', () => {
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', kubectlPod), []);
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', {}), []);
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', null), []);
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', { metadata: { labels: { anything: 'goes' } } }), []);
  assert.deepEqual(unknownFields('keelson.core.v1.Pod', { spec: { containers: [{ name: 'x', imagee: 'y' }, { nmae: 'z' }] } }), [
    'spec.containers[0].imagee',
    'spec.containers[1].nmae',
  ]);
});

// -------------------------------------------------------------------- errors

test('values of the wrong JSON type throw CodecError with the path', () => {
  const cases: [unknown, RegExp][] = [
    [{ spec: { replicas: '3' } }, /^spec\.replicas: expected int32/],
    [{ spec: { template: { spec: { containers: [{}, { ports: [{ containerPort: 1.5 }] }] } } } }, /^spec\.template\.spec\.containers\[1\]\.ports\[0\]\.containerPort:/],
    [{ spec: { paused: 'false' } }, /^spec\.paused: expected boolean/],
    [{ metadata: { labels: { app: 3 } } }, /^metadata\.labels\[app\]: expected string/],
    [{ metadata: { finalizers: 'x' } }, /^metadata\.finalizers: expected array/],
    [{ spec: { strategy: { rollingUpdate: { maxSurge: true } } } }, /maxSurge: expected integer or string/],
    [{ spec: { strategy: { rollingUpdate: { maxSurge: 2.5 } } } }, /maxSurge: expected integer or string/],
    [{ spec: { replicas: 2 ** 31 } }, /out of range for int32/],
    [{ spec: [] }, /^spec: expected object/],
  ];
  for (const [obj, re] of cases) {
    assert.throws(() => encodeObject('keelson.apps.v1.Deployment', obj as KObject), (err: unknown) => {
      assert.ok(err instanceof CodecError, String(err));
      assert.match(err.message, re);
      return true;
    });
  }
  assert.throws(() => encodeObject('keelson.core.v1.Nope', {}), /unknown protobuf message type/);
  assert.throws(() => encodeObject('keelson.core.v1.Pod', 'pod' as unknown as KObject), CodecError);
});

test('malformed bytes throw CodecError; unknown wire fields are skipped', () => {
  assert.throws(() => decodeObject('keelson.core.v1.Pod', new Uint8Array([0x1a, 0x05, 0x0a])), CodecError);
  assert.throws(() => decodeObject('keelson.core.v1.Pod', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), CodecError);
  // A newer writer's field 99 (varint) and 100 (string) are ignored.
  const bytes = encodeObject('keelson.core.v1.Pod', kubectlPod);
  const w = protobuf.Writer.create();
  w.uint32((99 << 3) | 0).uint32(7).uint32((100 << 3) | 2).string('future');
  const extended = new Uint8Array([...bytes, ...w.finish()]);
  assert.deepEqual(decodeObject('keelson.core.v1.Pod', extended), kubectlPod);
});

test('repeated int64 decode both packed (what we write) and unpacked', () => {
  const packed = encodeObject('keelson.core.v1.PodSecurityContext', { supplementalGroups: [1, 2 ** 40, -3] });
  assert.deepEqual(decodeObject('keelson.core.v1.PodSecurityContext', packed), { supplementalGroups: [1, 2 ** 40, -3] });
  const w = protobuf.Writer.create();
  for (const g of [5, 6]) w.uint32((4 << 3) | 0).int64(g);
  assert.deepEqual(decodeObject('keelson.core.v1.PodSecurityContext', w.finish()), { supplementalGroups: [5, 6] });
  assert.equal(EMPTY_FIELDS_ID, 2 ** 29 - 1);
});

// --------------------------------------------------------------- api.proto

test('ApiRequest round-trips, carrying an encoded object as body', () => {
  const body = encodeObject('keelson.core.v1.Pod', kubectlPod);
  const req: ApiRequest = {
    verb: 'create',
    group: '',
    version: 'v1',
    resource: 'pods',
    namespace: 'default',
    name: '',
    subresource: '',
    body,
    patchType: 'application/merge-patch+json',
    labelSelector: 'app=web,tier!=db',
    fieldSelector: 'spec.nodeName=node-1',
    resourceVersion: '0',
    limit: 500,
    continue: 'eyJydiI6MX0',
    watch: false,
    allowWatchBookmarks: true,
    deleteOptions: { gracePeriodSeconds: 0, propagationPolicy: 'Foreground', preconditions: { uid: 'u', resourceVersion: '7' }, dryRun: ['All'] },
    dryRun: [],
    fieldManager: 'kubectl-client-side-apply',
    force: false,
    token: 'leader-42',
    fieldValidation: 'Strict',
    params: { container: 'nginx', tailLines: '10' },
  };
  const back = decodeMessage('keelson.api.v1.ApiRequest', encodeMessage('keelson.api.v1.ApiRequest', req));
  assert.deepEqual(back, req);
  assert.ok(back.body instanceof Uint8Array);
  assert.deepEqual(decodeObject('keelson.core.v1.Pod', back.body), kubectlPod);
  assert.deepEqual(decodeMessage('keelson.api.v1.ApiRequest', encodeMessage('keelson.api.v1.ApiRequest', { verb: 'get' })), { verb: 'get' });
});

test('ApiResponse (list and error) and WatchEvent round-trip', () => {
  const items = [kubectlPod, { ...kubectlPod, metadata: { name: 'other' } }].map((p) => encodeObject('keelson.core.v1.Pod', p));
  const list: ApiResponse = { code: 200, kind: 'Pod', items, listMeta: { resourceVersion: '99', continue: '', remainingItemCount: 0 }, warnings: ['unknown field "spec.foo"'] };
  const backList = decodeMessage('keelson.api.v1.ApiResponse', encodeMessage('keelson.api.v1.ApiResponse', list));
  assert.deepEqual(backList, list);
  assert.deepEqual(decodeObject('keelson.core.v1.Pod', backList.items![1]!), { ...kubectlPod, metadata: { name: 'other' } });

  const status: StatusMessage = {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: 'Pod "web" is invalid: spec.containers[0].image: Required value',
    reason: 'Invalid',
    details: { name: 'web', kind: 'Pod', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }] },
    code: 422,
  };
  const err: ApiResponse = { code: 422, kind: 'Status', status };
  assert.deepEqual(decodeMessage('keelson.api.v1.ApiResponse', encodeMessage('keelson.api.v1.ApiResponse', err)), err);

  const ev: WatchEvent = { type: 'MODIFIED', kind: 'Pod', object: items[0] };
  assert.deepEqual(decodeMessage('keelson.api.v1.WatchEvent', encodeMessage('keelson.api.v1.WatchEvent', ev)), ev);
  const gone: WatchEvent = { type: 'ERROR', status: { ...status, reason: 'Expired', code: 410, details: undefined } };
  delete gone.status!.details;
  assert.deepEqual(decodeMessage('keelson.api.v1.WatchEvent', encodeMessage('keelson.api.v1.WatchEvent', gone)), gone);
});

test('every message of api.proto round-trips a sample setting every field', () => {
  const types = new Set<string>();
  for (const name of ['keelson.api.v1.ApiRequest', 'keelson.api.v1.ApiResponse', 'keelson.api.v1.WatchEvent']) {
    for (const t of reachableTypes(messageType(name))) types.add(t);
  }
  assert.ok(types.has('keelson.meta.v1.DeleteOptions') && types.has('keelson.meta.v1.StatusCause'));
  for (const name of types) {
    for (const zero of [false, true]) {
      const { obj } = sampleOf(messageType(name), zero);
      assert.deepEqual(decodeMessage(name, encodeMessage(name, obj)), obj, `${name} zero=${zero}`);
    }
  }
});

// --------------------------------------------------------------- performance

test('encode + decode of a typical pod takes microseconds, not milliseconds', () => {
  const t = 'keelson.core.v1.Pod';
  for (let i = 0; i < 2000; i++) decodeObject(t, encodeObject(t, kubectlPod)); // warm up
  const n = 5000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) decodeObject(t, encodeObject(t, kubectlPod));
  const micros = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`# encode+decode of a ${encodeObject(t, kubectlPod).length}-byte pod: ${micros.toFixed(1)} µs`);
  // Generous bound (shared CI machines); typically well under 50 µs for this large pod.
  assert.ok(micros < 500, `${micros} µs per round trip`);
});
