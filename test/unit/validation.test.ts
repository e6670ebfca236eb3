import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../services/lib/api/resources.js';
import {
  POD_UPDATE_MESSAGE,
  validateCreate,
  validateStatusUpdate,
  validateUpdate,
  type CauseReason,
} from '../../services/apiserver/registry/validation/index.js';
import { applyDefaults } from '../../services/apiserver/registry/defaults.js';
import { errors } from '../../services/lib/errors/index.js';

// ---------------------------------------------------------------- builders

type Json = Record<string, any>;

/** Sets a dotted path (`spec.containers.0.image`); `undefined` deletes it. */
function setPath(o: Json, path: string, v: unknown): void {
  const keys = path.split('.');
  let cur: any = o;
  keys.slice(0, -1).forEach((k, i) => {
    if (cur[k] === undefined) cur[k] = /^\d+$/.test(keys[i + 1]!) ? [] : {};
    cur = cur[k];
  });
  const last = keys[keys.length - 1]!;
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}

class Builder {
  constructor(
    readonly kind: string,
    readonly obj: Json,
  ) {}
  set(path: string, v: unknown): this {
    setPath(this.obj, path, v);
    return this;
  }
  with(fn: (o: Json) => void): this {
    fn(this.obj);
    return this;
  }
  build(): KObject {
    return this.obj as KObject;
  }
}

class PodBuilder extends Builder {
  constructor(name: string) {
    super('Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [] } });
  }
  container(name: string, image = 'busybox', extra: Json = {}): this {
    this.obj.spec.containers.push({ name, image, ...extra });
    return this;
  }
  init(name: string, image = 'busybox', extra: Json = {}): this {
    (this.obj.spec.initContainers ??= []).push({ name, image, ...extra });
    return this;
  }
  volume(name: string, source: Json = { emptyDir: {} }): this {
    (this.obj.spec.volumes ??= []).push({ name, ...source });
    return this;
  }
  toleration(t: Json): this {
    (this.obj.spec.tolerations ??= []).push(t);
    return this;
  }
  spec(patch: Json): this {
    Object.assign(this.obj.spec, patch);
    return this;
  }
}

const pod = (name = 'web') => new PodBuilder(name);
const app = (name = 'web') => pod(name).container('app', 'nginx:1.25');

class ServiceBuilder extends Builder {
  constructor(name: string) {
    super('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [] } });
  }
  port(port: number, extra: Json = {}): this {
    this.obj.spec.ports.push({ port, ...extra });
    return this;
  }
  spec(patch: Json): this {
    Object.assign(this.obj.spec, patch);
    return this;
  }
}
const svc = (name = 'web') => new ServiceBuilder(name);

const template = (labels: Json, containers: Json[] = [{ name: 'app', image: 'nginx:1.25' }]) => ({
  metadata: { labels },
  spec: { containers },
});

const rc = (name = 'web') =>
  new Builder('ReplicationController', {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: 'default' },
    spec: { replicas: 2, selector: { app: name }, template: template({ app: name }) },
  });
const workload = (kind: 'Deployment' | 'ReplicaSet', name = 'web') =>
  new Builder(kind, {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: 'default' },
    spec: { replicas: 3, selector: { matchLabels: { app: name } }, template: template({ app: name }) },
  });
const deploy = (name = 'web') => workload('Deployment', name);
const rs = (name = 'web') => workload('ReplicaSet', name);
const ns = (name = 'team-a') => new Builder('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const node = (name = 'node-1') =>
  new Builder('Node', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { podCIDR: '10.244.1.0/24', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
    status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '3800m', memory: '7Gi' } },
  });
const endpoints = (name = 'web') =>
  new Builder('Endpoints', {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: 'default' },
    subsets: [{ addresses: [{ ip: '10.0.0.5', nodeName: 'node-1' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
  });
const event = (name = 'web.17a2b') =>
  new Builder('Event', {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' },
    reason: 'Scheduled',
    message: 'assigned default/web to node-1',
    type: 'Normal',
  });
const lease = (name = 'node-1') =>
  new Builder('Lease', {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: 'kube-node-lease' },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: '2024-01-01T00:00:00.000000Z' },
  });

const causesOf = (b: Builder, opts?: Parameters<typeof validateCreate>[2]) => validateCreate(b.kind, b.build(), opts);
const fieldsOf = (b: Builder, opts?: Parameters<typeof validateCreate>[2]) =>
  causesOf(b, opts).map((c) => [c.field, c.reason]);

type Case = [name: string, build: () => Builder, expected: [field: string, reason: CauseReason][]];

function runCases(group: string, cases: Case[]): void {
  for (const [name, build, expected] of cases) {
    test(`${group}: ${name}`, () => {
      const b = build();
      assert.deepEqual(fieldsOf(b), expected, JSON.stringify(causesOf(b), null, 2));
    });
  }
}

const R = 'FieldValueRequired';
const I = 'FieldValueInvalid';
const NS = 'FieldValueNotSupported';
const D = 'FieldValueDuplicate';
const F = 'FieldValueForbidden';
const TL = 'FieldValueTooLong';

// ---------------------------------------------------------------- valid objects

test('a valid object of every kind has no causes, before and after defaulting', () => {
  const valid: Builder[] = [
    ns(),
    app(),
    node(),
    svc().port(80, { targetPort: 8080 }),
    endpoints(),
    rc(),
    event(),
    deploy(),
    rs(),
    lease(),
  ];
  for (const b of valid) {
    assert.deepEqual(causesOf(b), [], b.kind);
    const copy = structuredClone(b.build());
    applyDefaults(b.kind, copy);
    assert.deepEqual(validateCreate(b.kind, copy), [], `${b.kind} after defaults`);
  }
});

test('a pod using every feature is valid', () => {
  const b = pod('full')
    .volume('data', { emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } })
    .volume('host', { hostPath: { path: '/var/log', type: 'Directory' } })
    .volume('cfg', { configMap: { name: 'settings' } })
    .container('app', 'registry.local:5000/team/app@sha256:abc', {
      ports: [
        { name: 'http', containerPort: 8080, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9090, hostPort: 9090 },
      ],
      env: [
        { name: 'MODE', value: 'prod' },
        { name: 'my.weird-name', value: 'x' },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ],
      envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
      resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: 1, memory: '128Mi', 'example.com/gpu': '1' } },
      volumeMounts: [
        { name: 'data', mountPath: '/data' },
        { name: 'host', mountPath: '/host/logs', readOnly: true, subPath: 'app' },
      ],
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
      readinessProbe: { tcpSocket: { port: 8080 }, successThreshold: 2 },
      startupProbe: { exec: { command: ['true'] }, failureThreshold: 30 },
      lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
    })
    .container('sidecar', 'busybox:1.36', { command: ['sh', '-c', 'tail -f /dev/null'] })
    .init('setup', 'busybox:1.36', { volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] })
    .init('proxy', 'envoy:1', { restartPolicy: 'Always', readinessProbe: { grpc: { port: 9901 } } })
    .toleration({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })
    .toleration({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' })
    .toleration({ operator: 'Exists' })
    .spec({
      restartPolicy: 'OnFailure',
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['10.96.0.10'], searches: ['svc.cluster.local'] },
      terminationGracePeriodSeconds: 0,
      activeDeadlineSeconds: 600,
      nodeSelector: { 'kubernetes.io/os': 'linux', disk: 'ssd' },
      hostname: 'full',
      subdomain: 'web',
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'zone', operator: 'In', values: ['a', 'b'] },
                  { key: 'cores', operator: 'Gt', values: ['4'] },
                  { key: 'legacy', operator: 'DoesNotExist' },
                ],
              },
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] },
            ],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 50, preference: { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] } },
          ],
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: 'full' } }, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'full' } } },
      ],
    });
  assert.deepEqual(causesOf(b), []);
});

test('generateName stands in for a name', () => {
  assert.deepEqual(causesOf(app().set('metadata.name', undefined).set('metadata.generateName', 'web-')), []);
});

test('headless and ExternalName services need no ports', () => {
  assert.deepEqual(causesOf(svc().spec({ clusterIP: 'None' })), []);
  assert.deepEqual(causesOf(svc().spec({ type: 'ExternalName', externalName: 'db.example.com', selector: undefined })), []);
});

test('malformed JSON types are reported, never thrown', () => {
  const weird = [
    new Builder('Pod', { metadata: 'x', spec: { containers: 'nope' } }),
    new Builder('Pod', { metadata: { name: 5, namespace: 'default' }, spec: { containers: [7, null] } }),
    new Builder('Service', { metadata: { name: 'a', namespace: 'b', labels: { a: 1 } }, spec: { ports: [{ port: '80' }] } }),
    new Builder('Deployment', { metadata: { name: 'a', namespace: 'b' }, spec: { selector: [], template: 3 } }),
    new Builder('Node', { metadata: { name: 'n' }, spec: { taints: {} }, status: { capacity: [] } }),
    new Builder('Endpoints', { metadata: { name: 'e', namespace: 'b' }, subsets: [{ addresses: 'x' }] }),
    new Builder('Event', { metadata: { name: 'e', namespace: 'b' }, involvedObject: 'pod' }),
  ];
  for (const b of weird) assert.ok(causesOf(b).length > 0, b.kind);
  assert.deepEqual(fieldsOf(weird[1]!).slice(0, 1), [['metadata.name', I]]);
});

// ---------------------------------------------------------------- metadata

runCases('metadata', [
  ['name required', () => app().set('metadata.name', undefined), [['metadata.name', R]]],
  ['pod name is a DNS subdomain', () => app('Web_1'), [['metadata.name', I]]],
  ['pod name may contain dots', () => app('web.v1'), []],
  ['pod name at most 253 characters', () => app('a'.repeat(254)), [['metadata.name', I]]],
  ['bad generateName', () => app().set('metadata.name', undefined).set('metadata.generateName', 'Web-'), [['metadata.generateName', I]]],
  ['namespace required for namespaced kinds', () => app().set('metadata.namespace', undefined), [['metadata.namespace', R]]],
  ['namespace must be a DNS label', () => app().set('metadata.namespace', 'a.b'), [['metadata.namespace', I]]],
  ['no namespace on cluster-scoped kinds', () => node().set('metadata.namespace', 'default'), [['metadata.namespace', F]]],
  ['namespace name is a DNS label', () => ns('team.a'), [['metadata.name', I]]],
  ['namespace name at most 63 characters', () => ns('a'.repeat(64)), [['metadata.name', I]]],
  ['service name is an RFC 1035 label', () => svc('1web').port(80), [['metadata.name', I]]],
  ['service name may not have dots', () => svc('web.v1').port(80), [['metadata.name', I]]],
  ['label key syntax', () => app().set('metadata.labels', { 'bad key': 'x' }), [['metadata.labels', I]]],
  ['label key with prefix', () => app().set('metadata.labels', { 'example.com/tier': 'db' }), []],
  ['label key prefix must be a subdomain', () => app().set('metadata.labels', { 'Example_com/tier': 'db' }), [['metadata.labels', I]]],
  ['label key with two slashes', () => app().set('metadata.labels', { 'a/b/c': 'x' }), [['metadata.labels', I]]],
  ['label key name part at most 63', () => app().set('metadata.labels', { ['k'.repeat(64)]: 'x' }), [['metadata.labels', I]]],
  ['label value at most 63', () => app().set('metadata.labels', { app: 'v'.repeat(64) }), [['metadata.labels', I]]],
  ['label value syntax', () => app().set('metadata.labels', { app: '-web' }), [['metadata.labels', I]]],
  ['empty label value is fine', () => app().set('metadata.labels', { app: '' }), []],
  ['annotation key syntax', () => app().set('metadata.annotations', { 'a b': 'x' }), [['metadata.annotations', I]]],
  ['annotations at most 256 KiB', () => app().set('metadata.annotations', { big: 'x'.repeat(256 * 1024) }), [['metadata.annotations', TL]]],
  ['owner reference fields required', () => app().set('metadata.ownerReferences', [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web' }]), [['metadata.ownerReferences[0].uid', R]]],
  [
    'only one controller owner',
    () =>
      app().set('metadata.ownerReferences', [
        { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1', controller: true },
        { apiVersion: 'v1', kind: 'B', name: 'b', uid: '2', controller: true },
      ]),
    [['metadata.ownerReferences', I]],
  ],
  ['finalizer must be standard or qualified', () => app().set('metadata.finalizers', ['cleanup']), [['metadata.finalizers[0]', I]]],
  ['qualified finalizer', () => app().set('metadata.finalizers', ['example.com/cleanup', 'foregroundDeletion']), []],
]);

test('messages read like Kubernetes', () => {
  const [name] = causesOf(app('Web'));
  assert.equal(
    name?.message,
    `Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  );
  const [label] = causesOf(pod().container('Foo'));
  assert.equal(
    label?.message,
    `Invalid value: "Foo": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
  );
  assert.equal(causesOf(pod())[0]?.message, 'Required value');
  assert.equal(causesOf(app().set('metadata.name', undefined))[0]?.message, 'Required value: name or generateName is required');
  assert.equal(
    causesOf(app().spec({ restartPolicy: 'Sometimes' }))[0]?.message,
    'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
  );
  assert.equal(causesOf(pod().container('a').container('a'))[0]?.message, 'Duplicate value: "a"');
  assert.equal(causesOf(app('a'.repeat(254)))[0]?.message, `Invalid value: "${'a'.repeat(254)}": must be no more than 253 characters`);
  // A huge value is shown cut short: the error is not larger than what it is about.
  assert.equal(causesOf(app('a'.repeat(1_000_000)))[0]?.message, `Invalid value: "${'a'.repeat(256)}... (999744 more characters)": must be no more than 253 characters`);
  assert.equal(
    causesOf(pod().container('a', 'x', { ports: [{ containerPort: 70000 }] }))[0]?.message,
    'Invalid value: 70000: must be between 1 and 65535, inclusive',
  );
  assert.equal(
    causesOf(pod().container('a', 'x', { resources: { requests: { cpu: '2' }, limits: { cpu: '500m' } } }))[0]?.message,
    'Invalid value: "2": must be less than or equal to cpu limit of 500m',
  );
});

// ---------------------------------------------------------------- pods

const c0 = 'spec.containers[0]';

runCases('pod containers', [
  ['at least one container', () => pod(), [['spec.containers', R]]],
  ['a pod without spec needs containers', () => app().set('spec', undefined), [['spec.containers', R]]],
  ['container name required', () => pod().container(''), [[`${c0}.name`, R]]],
  ['container name is a DNS label', () => pod().container('App'), [[`${c0}.name`, I]]],
  ['container names unique', () => pod().container('a').container('a'), [['spec.containers[1].name', D]]],
  ['unique across init containers', () => pod().container('a').init('a'), [['spec.initContainers[0].name', D]]],
  ['image required', () => pod().container('a', ''), [[`${c0}.image`, R]]],
  ['image without surrounding spaces', () => pod().container('a', ' nginx'), [[`${c0}.image`, I]]],
  ['imagePullPolicy values', () => pod().container('a', 'x', { imagePullPolicy: 'Sometimes' }), [[`${c0}.imagePullPolicy`, NS]]],
  ['terminationMessagePolicy values', () => pod().container('a', 'x', { terminationMessagePolicy: 'Logs' }), [[`${c0}.terminationMessagePolicy`, NS]]],
  ['restartPolicy only on init containers', () => pod().container('a', 'x', { restartPolicy: 'Always' }), [[`${c0}.restartPolicy`, F]]],
  ['init container restartPolicy only Always', () => app().init('i', 'x', { restartPolicy: 'Never' }), [['spec.initContainers[0].restartPolicy', NS]]],
]);

const port = (p: Json) => pod().container('a', 'x', { ports: [p] });
runCases('pod ports', [
  ['containerPort required', () => port({ name: 'http' }), [[`${c0}.ports[0].containerPort`, R]]],
  ['containerPort at most 65535', () => port({ containerPort: 65536 }), [[`${c0}.ports[0].containerPort`, I]]],
  ['containerPort at least 1', () => port({ containerPort: -1 }), [[`${c0}.ports[0].containerPort`, I]]],
  ['hostPort range', () => port({ containerPort: 80, hostPort: 70000 }), [[`${c0}.ports[0].hostPort`, I]]],
  ['hostPort 0 means none', () => port({ containerPort: 80, hostPort: 0 }), []],
  ['protocol values', () => port({ containerPort: 80, protocol: 'HTTP' }), [[`${c0}.ports[0].protocol`, NS]]],
  ['SCTP is a protocol', () => port({ containerPort: 80, protocol: 'SCTP' }), []],
  // Like Kubernetes: one cause for the charset, one for the missing lowercase letter.
  ['port name lowercase', () => port({ containerPort: 80, name: 'HTTP' }), [[`${c0}.ports[0].name`, I], [`${c0}.ports[0].name`, I]]],
  ['port name charset', () => port({ containerPort: 80, name: 'web_ui' }), [[`${c0}.ports[0].name`, I]]],
  ['port name at most 15', () => port({ containerPort: 80, name: 'a-very-long-name1' }), [[`${c0}.ports[0].name`, I]]],
  ['port name needs a letter', () => port({ containerPort: 80, name: '8080' }), [[`${c0}.ports[0].name`, I]]],
  ['port name no leading hyphen', () => port({ containerPort: 80, name: '-web' }), [[`${c0}.ports[0].name`, I]]],
  [
    'port names unique',
    () => pod().container('a', 'x', { ports: [{ name: 'web', containerPort: 80 }, { name: 'web', containerPort: 81 }] }),
    [[`${c0}.ports[1].name`, D]],
  ],
  [
    'host ports unique across containers',
    () => pod().container('a', 'x', { ports: [{ containerPort: 80, hostPort: 8080 }] }).container('b', 'x', { ports: [{ containerPort: 81, hostPort: 8080 }] }),
    [['spec.containers[1].ports[0].hostPort', D]],
  ],
  [
    'same host port, other protocol',
    () => pod().container('a', 'x', { ports: [{ containerPort: 53, hostPort: 53 }, { containerPort: 53, hostPort: 53, protocol: 'UDP' }] }),
    [],
  ],
  [
    'hostNetwork needs containerPort == hostPort',
    () => port({ containerPort: 80, hostPort: 8080 }).spec({ hostNetwork: true }),
    [[`${c0}.ports[0].containerPort`, I]],
  ],
]);

const env = (e: Json) => pod().container('a', 'x', { env: [e] });
runCases('pod env', [
  ['env name required', () => env({ value: 'x' }), [[`${c0}.env[0].name`, R]]],
  ['env name without =', () => env({ name: 'A=B' }), [[`${c0}.env[0].name`, I]]],
  ['env name printable', () => env({ name: 'A\nB' }), [[`${c0}.env[0].name`, I]]],
  ['value and valueFrom exclusive', () => env({ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }), [[`${c0}.env[0].valueFrom`, I]]],
  ['valueFrom needs a source', () => env({ name: 'A', valueFrom: {} }), [[`${c0}.env[0].valueFrom`, I]]],
  ['valueFrom one source', () => env({ name: 'A', valueFrom: { fieldRef: { fieldPath: 'x' }, secretKeyRef: { name: 's', key: 'k' } } }), [[`${c0}.env[0].valueFrom`, I]]],
  ['secretKeyRef key required', () => env({ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }), [[`${c0}.env[0].valueFrom.secretKeyRef.key`, R]]],
  ['envFrom needs a source', () => pod().container('a', 'x', { envFrom: [{ prefix: 'X_' }] }), [[`${c0}.envFrom[0]`, I]]],
]);

const res = (r: Json) => pod().container('a', 'x', { resources: r });
runCases('pod resources', [
  ['quantity syntax', () => res({ limits: { cpu: 'lots' } }), [[`${c0}.resources.limits[cpu]`, I]]],
  ['uppercase K is not a suffix', () => res({ requests: { memory: '1K' } }), [[`${c0}.resources.requests[memory]`, I]]],
  ['no negative quantities', () => res({ requests: { memory: '-1Mi' } }), [[`${c0}.resources.requests[memory]`, I]]],
  ['requests at most limits', () => res({ requests: { cpu: '2' }, limits: { cpu: '1500m' } }), [[`${c0}.resources.requests[cpu]`, I]]],
  ['requests equal to limits', () => res({ requests: { memory: '1Gi' }, limits: { memory: '1024Mi' } }), []],
  ['standard resource names', () => res({ limits: { gpu: '1' } }), [[`${c0}.resources.limits[gpu]`, I]]],
  ['numeric quantities', () => res({ limits: { cpu: 2, memory: 1073741824 } }), []],
]);

const probe = (p: Json, kind = 'livenessProbe') => pod().container('a', 'x', { [kind]: p });
runCases('pod probes', [
  ['a handler is required', () => probe({ periodSeconds: 5 }), [[`${c0}.livenessProbe`, R]]],
  ['only one handler', () => probe({ exec: { command: ['true'] }, tcpSocket: { port: 80 } }), [[`${c0}.livenessProbe.tcpSocket`, F]]],
  ['exec needs a command', () => probe({ exec: {} }), [[`${c0}.livenessProbe.exec.command`, R]]],
  ['httpGet port required', () => probe({ httpGet: { path: '/' } }), [[`${c0}.livenessProbe.httpGet.port`, R]]],
  ['httpGet port range', () => probe({ httpGet: { port: 70000 } }), [[`${c0}.livenessProbe.httpGet.port`, I]]],
  ['httpGet named port', () => probe({ httpGet: { port: 'Web_Port' } }), [[`${c0}.livenessProbe.httpGet.port`, I]]],
  ['httpGet scheme', () => probe({ httpGet: { port: 80, scheme: 'FTP' } }), [[`${c0}.livenessProbe.httpGet.scheme`, NS]]],
  ['periods not negative', () => probe({ exec: { command: ['true'] }, periodSeconds: -1 }), [[`${c0}.livenessProbe.periodSeconds`, I]]],
  ['timeouts not negative', () => probe({ exec: { command: ['true'] }, timeoutSeconds: -5 }), [[`${c0}.livenessProbe.timeoutSeconds`, I]]],
  ['liveness successThreshold is 1', () => probe({ exec: { command: ['true'] }, successThreshold: 3 }), [[`${c0}.livenessProbe.successThreshold`, I]]],
  ['readiness successThreshold may be more', () => probe({ exec: { command: ['true'] }, successThreshold: 3 }, 'readinessProbe'), []],
  ['init containers have no probes', () => app().init('i', 'x', { livenessProbe: { exec: { command: ['true'] } } }), [['spec.initContainers[0].livenessProbe', F]]],
  ['lifecycle hook needs a handler', () => pod().container('a', 'x', { lifecycle: { preStop: {} } }), [[`${c0}.lifecycle.preStop`, R]]],
]);

runCases('pod volumes', [
  ['volume name required', () => app().volume(''), [['spec.volumes[0].name', R]]],
  ['volume name is a DNS label', () => app().volume('Data'), [['spec.volumes[0].name', I]]],
  ['volume names unique', () => app().volume('d').volume('d'), [['spec.volumes[1].name', D]]],
  ['a volume source is required', () => app().volume('d', {}), [['spec.volumes[0]', R]]],
  ['only one volume source', () => app().volume('d', { hostPath: { path: '/x' }, emptyDir: {} }), [['spec.volumes[0].emptyDir', F]]],
  ['hostPath path required', () => app().volume('d', { hostPath: {} }), [['spec.volumes[0].hostPath.path', R]]],
  ['hostPath path absolute', () => app().volume('d', { hostPath: { path: 'var/log' } }), [['spec.volumes[0].hostPath.path', I]]],
  ['hostPath type', () => app().volume('d', { hostPath: { path: '/x', type: 'Folder' } }), [['spec.volumes[0].hostPath.type', NS]]],
  ['emptyDir medium', () => app().volume('d', { emptyDir: { medium: 'Disk' } }), [['spec.volumes[0].emptyDir.medium', NS]]],
  ['secret name required', () => app().volume('d', { secret: {} }), [['spec.volumes[0].secret.secretName', R]]],
  ['pvc claimName required', () => app().volume('d', { persistentVolumeClaim: {} }), [['spec.volumes[0].persistentVolumeClaim.claimName', R]]],
]);

const mounts = (...m: Json[]) => pod().volume('data').container('a', 'x', { volumeMounts: m });
runCases('pod volumeMounts', [
  ['mount refers to a volume', () => mounts({ name: 'other', mountPath: '/d' }), [[`${c0}.volumeMounts[0].name`, I]]],
  ['mount name required', () => mounts({ mountPath: '/d' }), [[`${c0}.volumeMounts[0].name`, R]]],
  ['mountPath required', () => mounts({ name: 'data' }), [[`${c0}.volumeMounts[0].mountPath`, R]]],
  ['mountPath absolute', () => mounts({ name: 'data', mountPath: 'data' }), [[`${c0}.volumeMounts[0].mountPath`, I]]],
  ['mountPath unique', () => mounts({ name: 'data', mountPath: '/d' }, { name: 'data', mountPath: '/d' }), [[`${c0}.volumeMounts[1].mountPath`, I]]],
  ['subPath relative without ..', () => mounts({ name: 'data', mountPath: '/d', subPath: '../etc' }), [[`${c0}.volumeMounts[0].subPath`, I]]],
]);

runCases('pod policies', [
  ['restartPolicy values', () => app().spec({ restartPolicy: 'Sometimes' }), [['spec.restartPolicy', NS]]],
  ['dnsPolicy values', () => app().spec({ dnsPolicy: 'Google' }), [['spec.dnsPolicy', NS]]],
  ['dnsPolicy None needs dnsConfig', () => app().spec({ dnsPolicy: 'None' }), [['spec.dnsConfig', R]]],
  ['nameservers are IPs', () => app().spec({ dnsConfig: { nameservers: ['dns.local'] } }), [['spec.dnsConfig.nameservers[0]', I]]],
  ['terminationGracePeriodSeconds not negative', () => app().spec({ terminationGracePeriodSeconds: -1 }), [['spec.terminationGracePeriodSeconds', I]]],
  ['activeDeadlineSeconds positive', () => app().spec({ activeDeadlineSeconds: 0 }), [['spec.activeDeadlineSeconds', I]]],
  ['nodeName is a subdomain', () => app().spec({ nodeName: 'Node_1' }), [['spec.nodeName', I]]],
  ['hostname is a label', () => app().spec({ hostname: 'a.b' }), [['spec.hostname', I]]],
  ['integer fields are integers', () => app().spec({ terminationGracePeriodSeconds: 1.5 }), [['spec.terminationGracePeriodSeconds', I]]],
]);

const tol = (t: Json) => app().toleration(t);
runCases('pod tolerations', [
  ['operator values', () => tol({ key: 'k', operator: 'Maybe' }), [['spec.tolerations[0].operator', NS]]],
  ['Exists takes no value', () => tol({ key: 'k', operator: 'Exists', value: 'v' }), [['spec.tolerations[0].value', I]]],
  ['effect values', () => tol({ key: 'k', operator: 'Exists', effect: 'Never' }), [['spec.tolerations[0].effect', NS]]],
  ['empty key needs Exists', () => tol({ operator: 'Equal', value: 'v' }), [['spec.tolerations[0].operator', I]]],
  ['tolerationSeconds needs NoExecute', () => tol({ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 10 }), [['spec.tolerations[0].effect', I]]],
  ['key syntax', () => tol({ key: 'bad key', operator: 'Exists' }), [['spec.tolerations[0].key', I]]],
  ['Equal value is a label value', () => tol({ key: 'k', operator: 'Equal', value: 'bad value' }), [['spec.tolerations[0].value', I]]],
]);

const required = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution';
const nodeAffinity = (expr: Json) =>
  app().spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr] }] } } } });
const term0 = `${required}.nodeSelectorTerms[0].matchExpressions[0]`;
runCases('pod scheduling', [
  ['nodeSelector keys', () => app().spec({ nodeSelector: { 'bad key': 'x' } }), [['spec.nodeSelector', I]]],
  ['nodeSelector values', () => app().spec({ nodeSelector: { disk: 'a b' } }), [['spec.nodeSelector', I]]],
  ['node affinity operators', () => nodeAffinity({ key: 'zone', operator: 'Like', values: ['a'] }), [[`${term0}.operator`, I]]],
  ['In needs values', () => nodeAffinity({ key: 'zone', operator: 'In' }), [[`${term0}.values`, R]]],
  ['Exists takes no values', () => nodeAffinity({ key: 'zone', operator: 'Exists', values: ['a'] }), [[`${term0}.values`, F]]],
  ['Gt takes one value', () => nodeAffinity({ key: 'cores', operator: 'Gt', values: ['1', '2'] }), [[`${term0}.values`, R]]],
  ['Lt takes an integer', () => nodeAffinity({ key: 'cores', operator: 'Lt', values: ['many'] }), [[`${term0}.values[0]`, I]]],
  ['affinity keys', () => nodeAffinity({ key: 'a/b/c', operator: 'Exists' }), [[`${term0}.key`, I]]],
  [
    'at least one node selector term',
    () => app().spec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }),
    [[`${required}.nodeSelectorTerms`, R]],
  ],
  [
    'preferred weight 1-100',
    () => app().spec({ affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }] } } }),
    [['spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight', I]],
  ],
  [
    'pod affinity needs a topologyKey',
    () => app().spec({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { a: 'b' } } }] } } }),
    [['spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey', R]],
  ],
  [
    'topology spread maxSkew positive',
    () => app().spec({ topologySpreadConstraints: [{ maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] }),
    [['spec.topologySpreadConstraints[0].maxSkew', I]],
  ],
]);

// ---------------------------------------------------------------- services

runCases('service', [
  ['ports required', () => svc(), [['spec.ports', R]]],
  ['port required', () => svc().port(0), [['spec.ports[0].port', R]]],
  ['port range', () => svc().port(65536), [['spec.ports[0].port', I]]],
  ['port names required when several', () => svc().port(80).port(443, { name: 'https' }), [['spec.ports[0].name', R]]],
  ['port names unique', () => svc().port(80, { name: 'web' }).port(443, { name: 'web' }), [['spec.ports[1].name', D]]],
  ['port names are DNS labels', () => svc().port(80, { name: 'Web' }), [['spec.ports[0].name', I]]],
  ['port and protocol unique', () => svc().port(80, { name: 'a' }).port(80, { name: 'b' }), [['spec.ports[1]', D]]],
  ['protocol values', () => svc().port(80, { protocol: 'ICMP' }), [['spec.ports[0].protocol', NS]]],
  ['targetPort range', () => svc().port(80, { targetPort: 70000 }), [['spec.ports[0].targetPort', I]]],
  ['targetPort name', () => svc().port(80, { targetPort: 'web--ui' }), [['spec.ports[0].targetPort', I]]],
  ['targetPort by name', () => svc().port(80, { targetPort: 'http' }), []],
  ['nodePort only for NodePort/LoadBalancer', () => svc().port(80, { nodePort: 30080 }), [['spec.ports[0].nodePort', F]]],
  ['nodePort in range', () => svc().spec({ type: 'NodePort' }).port(80, { nodePort: 8080 }), [['spec.ports[0].nodePort', I]]],
  ['nodePort accepted', () => svc().spec({ type: 'LoadBalancer' }).port(80, { nodePort: 32767 }), []],
  [
    'nodePorts unique',
    () => svc().spec({ type: 'NodePort' }).port(80, { name: 'a', nodePort: 30001 }).port(81, { name: 'b', nodePort: 30001 }),
    [['spec.ports[1].nodePort', D]],
  ],
  ['type values', () => svc().spec({ type: 'Internal' }).port(80), [['spec.type', NS]]],
  ['clusterIP is None, empty or an IPv4', () => svc().spec({ clusterIP: '10.0.0.300' }).port(80), [['spec.clusterIP', I]]],
  ['clusterIP set', () => svc().spec({ clusterIP: '10.96.0.10' }).port(80), []],
  ['headless NodePort', () => svc().spec({ type: 'NodePort', clusterIP: 'None' }).port(80), [['spec.clusterIP', I]]],
  ['ExternalName needs externalName', () => svc().spec({ type: 'ExternalName' }), [['spec.externalName', R]]],
  ['ExternalName has no clusterIP', () => svc().spec({ type: 'ExternalName', externalName: 'db.example.com', clusterIP: '10.0.0.1' }), [['spec.clusterIP', I]]],
  ['sessionAffinity values', () => svc().spec({ sessionAffinity: 'Sticky' }).port(80), [['spec.sessionAffinity', NS]]],
  [
    'ClientIP timeout range',
    () => svc().spec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }).port(80),
    [['spec.sessionAffinityConfig.clientIP.timeoutSeconds', I]],
  ],
  ['selector labels', () => svc().spec({ selector: { app: 'a b' } }).port(80), [['spec.selector', I]]],
  ['externalTrafficPolicy needs NodePort', () => svc().spec({ externalTrafficPolicy: 'Local' }).port(80), [['spec.externalTrafficPolicy', I]]],
  ['ipFamilies values', () => svc().spec({ ipFamilies: ['IPv5'] }).port(80), [['spec.ipFamilies[0]', NS]]],
]);

test('service: the node port range is a parameter', () => {
  const b = svc().spec({ type: 'NodePort' }).port(80, { nodePort: 8080 });
  assert.deepEqual(fieldsOf(b, { serviceNodePortRange: { min: 8000, max: 9000 } }), []);
  assert.deepEqual(fieldsOf(b.set('spec.ports.0.nodePort', 30080), { serviceNodePortRange: { min: 8000, max: 9000 } }), [
    ['spec.ports[0].nodePort', I],
  ]);
  assert.match(
    causesOf(b, { serviceNodePortRange: { min: 8000, max: 9000 } })[0]!.message,
    /The range of valid ports is 8000-9000/,
  );
});

// ---------------------------------------------------------------- workloads

const tpl = 'spec.template.spec';
runCases('replicationcontroller', [
  ['replicas not negative', () => rc().set('spec.replicas', -1), [['spec.replicas', I]]],
  ['template required', () => rc().set('spec.template', undefined), [['spec.template', R]]],
  ['selector matches template', () => rc().set('spec.selector', { app: 'other' }), [['spec.template.metadata.labels', I]]],
  ['selector defaults from template labels', () => rc().set('spec.selector', undefined), []],
  ['a selector is needed', () => rc().set('spec.selector', undefined).set('spec.template.metadata.labels', undefined), [['spec.selector', R]]],
  ['selector label syntax', () => rc().set('spec.selector', { 'bad key': 'web' }), [['spec.selector', I]]],
  ['template restartPolicy Always', () => rc().set(`${tpl}.restartPolicy`, 'Never'), [[`${tpl}.restartPolicy`, NS]]],
  ['template pod spec is validated', () => rc().set(`${tpl}.containers.0.image`, undefined), [[`${tpl}.containers[0].image`, R]]],
  ['template has no activeDeadlineSeconds', () => rc().set(`${tpl}.activeDeadlineSeconds`, 10), [[`${tpl}.activeDeadlineSeconds`, F]]],
  ['template labels syntax', () => rc().set('spec.template.metadata.labels', { app: 'web', 'x y': 'z' }), [['spec.template.metadata.labels', I]]],
]);

runCases('replicaset', [
  ['replicas not negative', () => rs().set('spec.replicas', -2), [['spec.replicas', I]]],
  ['selector required', () => rs().set('spec.selector', undefined), [['spec.selector', R]]],
  ['selector not empty', () => rs().set('spec.selector', {}), [['spec.selector', I]]],
  ['selector matches template', () => rs().set('spec.selector.matchLabels', { app: 'db' }), [['spec.template.metadata.labels', I]]],
  [
    'matchExpressions match template',
    () => rs().set('spec.selector', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }),
    [['spec.template.metadata.labels', I]],
  ],
  [
    'matchExpressions select the template',
    () => rs().set('spec.selector', { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }),
    [],
  ],
  [
    'selector operators',
    () => rs().set('spec.selector', { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] }),
    [['spec.selector.matchExpressions[0].operator', I]],
  ],
  [
    'In needs values',
    () => rs().set('spec.selector', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In' }] }),
    [['spec.selector.matchExpressions[0].values', R]],
  ],
  ['template required', () => rs().set('spec.template', undefined), [['spec.template', R]]],
  ['template restartPolicy Always', () => rs().set(`${tpl}.restartPolicy`, 'OnFailure'), [[`${tpl}.restartPolicy`, NS]]],
]);

const ru = 'spec.strategy.rollingUpdate';
const rolling = (r: Json) => deploy().set('spec.strategy', { type: 'RollingUpdate', rollingUpdate: r });
runCases('deployment', [
  ['replicas not negative', () => deploy().set('spec.replicas', -1), [['spec.replicas', I]]],
  ['selector required', () => deploy().set('spec.selector', undefined), [['spec.selector', R]]],
  ['selector matches template', () => deploy().set('spec.template.metadata.labels', { app: 'api' }), [['spec.template.metadata.labels', I]]],
  ['strategy types', () => deploy().set('spec.strategy', { type: 'BlueGreen' }), [['spec.strategy.type', NS]]],
  ['Recreate has no rollingUpdate', () => deploy().set('spec.strategy', { type: 'Recreate', rollingUpdate: { maxSurge: 1 } }), [[ru, F]]],
  ['maxSurge percent syntax', () => rolling({ maxSurge: '25' }), [[`${ru}.maxSurge`, I]]],
  ['maxUnavailable not negative', () => rolling({ maxUnavailable: -1 }), [[`${ru}.maxUnavailable`, I]]],
  ['not both zero', () => rolling({ maxUnavailable: 0, maxSurge: '0%' }), [[`${ru}.maxUnavailable`, I]]],
  ['one zero is fine', () => rolling({ maxUnavailable: 0, maxSurge: 1 }), []],
  ['maxUnavailable at most 100%', () => rolling({ maxUnavailable: '110%' }), [[`${ru}.maxUnavailable`, I]]],
  ['revisionHistoryLimit not negative', () => deploy().set('spec.revisionHistoryLimit', -1), [['spec.revisionHistoryLimit', I]]],
  [
    'progressDeadlineSeconds above minReadySeconds',
    () => deploy().set('spec.minReadySeconds', 30).set('spec.progressDeadlineSeconds', 30),
    [['spec.progressDeadlineSeconds', I]],
  ],
  ['template pod spec is validated', () => deploy().set(`${tpl}.containers.0.name`, 'App'), [[`${tpl}.containers[0].name`, I]]],
]);

// ---------------------------------------------------------------- the rest

runCases('event', [
  ['involvedObject required', () => event().set('involvedObject', undefined), [['involvedObject', R]]],
  ['type Normal or Warning', () => event().set('type', 'Error'), [['type', NS]]],
  ['involved namespace matches', () => event().set('involvedObject.namespace', 'other'), [['involvedObject.namespace', I]]],
  ['cluster-scoped objects in default', () => event().set('involvedObject', { kind: 'Node', name: 'node-1' }), []],
  ['cluster-scoped objects only in default', () => event().set('metadata.namespace', 'kube-system').set('involvedObject', { kind: 'Node', name: 'n' }), [['involvedObject.namespace', I]]],
]);

runCases('lease', [
  ['leaseDurationSeconds positive', () => lease().set('spec.leaseDurationSeconds', 0), [['spec.leaseDurationSeconds', I]]],
  ['leaseTransitions not negative', () => lease().set('spec.leaseTransitions', -1), [['spec.leaseTransitions', I]]],
  ['renewTime is a time', () => lease().set('spec.renewTime', 'yesterday'), [['spec.renewTime', I]]],
  ['spec is optional', () => lease().set('spec', undefined), []],
]);

runCases('node', [
  ['taint effect values', () => node().set('spec.taints.0.effect', 'Sometimes'), [['spec.taints[0].effect', NS]]],
  ['taint effect required', () => node().set('spec.taints.0.effect', undefined), [['spec.taints[0].effect', R]]],
  ['taint key required', () => node().set('spec.taints.0.key', undefined), [['spec.taints[0].key', R]]],
  ['taint value syntax', () => node().set('spec.taints.0.value', 'a b'), [['spec.taints[0].value', I]]],
  [
    'taints unique by key and effect',
    () => node().set('spec.taints.1', { key: 'dedicated', value: 'cpu', effect: 'NoSchedule' }),
    [['spec.taints[1]', D]],
  ],
  ['same key, other effect', () => node().set('spec.taints.1', { key: 'dedicated', effect: 'NoExecute' }), []],
  ['podCIDR is a CIDR', () => node().set('spec.podCIDR', '10.244.1.0'), [['spec.podCIDR', I]]],
  ['capacity quantities', () => node().set('status.capacity.cpu', 'four'), [['status.capacity[cpu]', I]]],
  ['allocatable not negative', () => node().set('status.allocatable.memory', '-1Gi'), [['status.allocatable[memory]', I]]],
]);

runCases('endpoints', [
  ['addresses are IPs', () => endpoints().set('subsets.0.addresses.0.ip', '10.0.0.256'), [['subsets[0].addresses[0].ip', I]]],
  ['no link-local addresses', () => endpoints().set('subsets.0.addresses.0.ip', '169.254.1.1'), [['subsets[0].addresses[0].ip', I]]],
  ['IPv6 addresses', () => endpoints().set('subsets.0.addresses.0.ip', 'fd00::5'), []],
  ['a subset has addresses', () => endpoints().set('subsets.0.addresses', []), [['subsets[0]', R]]],
  ['not-ready addresses count', () => endpoints().set('subsets.0.notReadyAddresses', [{ ip: '10.0.0.6' }]).set('subsets.0.addresses', []), []],
  ['port range', () => endpoints().set('subsets.0.ports.0.port', 0), [['subsets[0].ports[0].port', I]]],
  ['port protocol', () => endpoints().set('subsets.0.ports.0.protocol', 'tcp'), [['subsets[0].ports[0].protocol', NS]]],
  ['port names required when several', () => endpoints().set('subsets.0.ports.1', { name: 'b', port: 9090 }), [['subsets[0].ports[0].name', R]]],
  ['nodeName syntax', () => endpoints().set('subsets.0.addresses.0.nodeName', 'Node 1'), [['subsets[0].addresses[0].nodeName', I]]],
]);

runCases('namespace', [
  ['spec finalizers', () => ns().set('spec.finalizers', ['cleanup']), [['spec.finalizers[0]', I]]],
  ['the kubernetes finalizer', () => ns().set('spec.finalizers', ['kubernetes']), []],
  ['phase values', () => ns().set('status.phase', 'Deleted'), [['status.phase', NS]]],
]);

// ---------------------------------------------------------------- updates

function stored(b: Builder): KObject {
  const o = structuredClone(b.build());
  applyDefaults(b.kind, o);
  o.metadata = { ...o.metadata, uid: 'u-1', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '5' };
  return o;
}

type UpdateCase = [name: string, build: () => Builder, change: (o: Json) => void, expected: [string, CauseReason][]];

function runUpdates(group: string, cases: UpdateCase[]): void {
  for (const [name, build, change, expected] of cases) {
    test(`update ${group}: ${name}`, () => {
      const b = build();
      const old = stored(b);
      const next = structuredClone(old) as Json;
      change(next);
      const causes = validateUpdate(b.kind, next as KObject, old);
      assert.deepEqual(causes.map((c) => [c.field, c.reason]), expected, JSON.stringify(causes, null, 2));
    });
  }
}

runUpdates('metadata', [
  ['labels may change', () => app(), (o) => (o.metadata.labels = { tier: 'web' }), []],
  ['name is immutable', () => app(), (o) => (o.metadata.name = 'other'), [['metadata.name', I]]],
  ['namespace is immutable', () => app(), (o) => (o.metadata.namespace = 'other'), [['metadata.namespace', I]]],
  ['uid is immutable', () => ns(), (o) => (o.metadata.uid = 'u-2'), [['metadata.uid', I]]],
  ['creationTimestamp is immutable', () => svc().port(80), (o) => (o.metadata.creationTimestamp = '2025-01-01T00:00:00Z'), [['metadata.creationTimestamp', I]]],
  ['omitted uid and creationTimestamp are kept', () => app(), (o) => { delete o.metadata.uid; delete o.metadata.creationTimestamp; }, []],
  ['create rules still apply', () => app(), (o) => (o.metadata.labels = { 'bad key': 'x' }), [['metadata.labels', I]]],
]);

runUpdates('pod', [
  ['image may change', () => app().init('setup'), (o) => { o.spec.containers[0].image = 'nginx:1.26'; o.spec.initContainers[0].image = 'busybox:2'; }, []],
  ['image stays required', () => app(), (o) => (o.spec.containers[0].image = ''), [['spec.containers[0].image', R]]],
  ['nodeName may not change', () => app(), (o) => (o.spec.nodeName = 'node-1'), [['spec', F]]],
  ['env may not change', () => app(), (o) => (o.spec.containers[0].env = [{ name: 'A', value: 'b' }]), [['spec', F]]],
  ['containers may not be added', () => app(), (o) => o.spec.containers.push({ name: 'b', image: 'x' }), [['spec', F]]],
  ['restartPolicy may not change', () => app(), (o) => (o.spec.restartPolicy = 'Never'), [['spec', F]]],
  ['omitting defaults changes nothing', () => app(), (o) => { delete o.spec.dnsPolicy; delete o.spec.containers[0].imagePullPolicy; delete o.spec.securityContext; }, []],
  ['terminationGracePeriodSeconds may change', () => app(), (o) => (o.spec.terminationGracePeriodSeconds = 5), []],
  ['tolerations may be added', () => app().toleration({ key: 'a', operator: 'Exists' }), (o) => o.spec.tolerations.push({ key: 'b', operator: 'Exists' }), []],
  ['tolerations may not be removed', () => app().toleration({ key: 'a', operator: 'Exists' }), (o) => (o.spec.tolerations = []), [['spec.tolerations', F]]],
  [
    'tolerationSeconds may change',
    () => app().toleration({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
    (o) => (o.spec.tolerations[0].tolerationSeconds = 10),
    [],
  ],
  ['activeDeadlineSeconds may be set', () => app(), (o) => (o.spec.activeDeadlineSeconds = 100), []],
  ['activeDeadlineSeconds may shrink', () => app().spec({ activeDeadlineSeconds: 100 }), (o) => (o.spec.activeDeadlineSeconds = 50), []],
  ['activeDeadlineSeconds may not grow', () => app().spec({ activeDeadlineSeconds: 100 }), (o) => (o.spec.activeDeadlineSeconds = 200), [['spec.activeDeadlineSeconds', I]]],
  ['activeDeadlineSeconds may not be removed', () => app().spec({ activeDeadlineSeconds: 100 }), (o) => delete o.spec.activeDeadlineSeconds, [['spec.activeDeadlineSeconds', I]]],
]);

test('update pod: the Kubernetes message, naming what changed', () => {
  const old = stored(app());
  const next = structuredClone(old) as Json;
  next.spec.nodeName = 'node-1';
  const [cause] = validateUpdate('Pod', next as KObject, old);
  assert.ok(cause?.message.startsWith('Forbidden: pod updates may not change fields other than `spec.containers[*].image`'));
  assert.ok(cause?.message.includes(POD_UPDATE_MESSAGE));
  assert.ok(cause?.message.includes('spec.nodeName'));
});

runUpdates('service', [
  ['clusterIP is immutable', () => svc().port(80).spec({ clusterIP: '10.96.0.10' }), (o) => (o.spec.clusterIP = '10.96.0.11'), [['spec.clusterIP', I]]],
  ['clusterIP may be set once', () => svc().port(80), (o) => (o.spec.clusterIP = '10.96.0.11'), []],
  ['omitted clusterIP is kept', () => svc().port(80).spec({ clusterIP: '10.96.0.10' }), (o) => delete o.spec.clusterIP, []],
  ['ports may change', () => svc().port(80).spec({ clusterIP: '10.96.0.10' }), (o) => (o.spec.ports[0].port = 81), []],
]);

runUpdates('workloads', [
  [
    'deployment selector is immutable',
    () => deploy(),
    (o) => { o.spec.selector = { matchLabels: { app: 'web', v: '2' } }; o.spec.template.metadata.labels.v = '2'; },
    [['spec.selector', I]],
  ],
  ['replicaset selector is immutable', () => rs(), (o) => (o.spec.selector = { matchExpressions: [{ key: 'app', operator: 'Exists' }] }), [['spec.selector', I]]],
  ['deployment replicas and template may change', () => deploy(), (o) => { o.spec.replicas = 10; o.spec.template.spec.containers[0].image = 'nginx:2'; }, []],
  ['rc selector may change', () => rc(), (o) => { o.spec.selector = { app: 'web', v: '2' }; o.spec.template.metadata.labels.v = '2'; }, []],
]);

runUpdates('node', [
  ['podCIDR is immutable once set', () => node(), (o) => (o.spec.podCIDR = '10.244.2.0/24'), [['spec.podCIDR', F]]],
  ['podCIDR may be set once', () => node().set('spec.podCIDR', undefined), (o) => (o.spec.podCIDR = '10.244.2.0/24'), []],
  ['unschedulable may change', () => node(), (o) => (o.spec.unschedulable = true), []],
]);

// ---------------------------------------------------------------- status

test('status updates check the status and identity only', () => {
  const old = stored(app());
  const cases: [string, KObject, (o: Json) => void, [string, CauseReason][]][] = [
    ['pod phase', old, (o) => (o.status.phase = 'Running'), []],
    ['pod phase values', old, (o) => (o.status.phase = 'Done'), [['status.phase', NS]]],
    ['pod IP', old, (o) => (o.status.podIP = 'x'), [['status.podIP', I]]],
    ['spec is not checked', old, (o) => (o.spec.nodeName = 'node-1'), []],
    ['name still immutable', old, (o) => (o.metadata.name = 'b'), [['metadata.name', I]]],
    ['terminal phases stay', { ...old, status: { phase: 'Failed' } }, (o) => (o.status.phase = 'Running'), [['status.phase', F]]],
  ];
  for (const [name, base, change, expected] of cases) {
    const next = structuredClone(base) as Json;
    change(next);
    assert.deepEqual(validateStatusUpdate('Pod', next as KObject, base).map((c) => [c.field, c.reason]), expected, name);
  }
  const d = stored(deploy());
  const bad = structuredClone(d) as Json;
  bad.status = { replicas: 2, readyReplicas: 3 };
  assert.deepEqual(validateStatusUpdate('Deployment', bad as KObject, d).map((c) => c.field), ['status.readyReplicas']);
  const n = stored(node());
  const worse = structuredClone(n) as Json;
  worse.status.capacity.cpu = '-1';
  assert.deepEqual(validateStatusUpdate('Node', worse as KObject, n).map((c) => c.field), ['status.capacity[cpu]']);
});

test('a 422 message lists the first 20 causes and says how many more; details keep them all', () => {
  const causes = Array.from({ length: 5_000 }, (_, i) => ({ reason: 'FieldValueRequired', field: `rules[${i}].verbs`, message: 'Required value' }));
  const err = errors.invalid('ClusterRole', 'x', causes, 'rbac.authorization.k8s.io');
  assert.ok(err.message.startsWith('ClusterRole "x" is invalid: rules[0].verbs: Required value, rules[1].verbs: Required value'), err.message);
  assert.ok(err.message.includes('rules[19].verbs') && !err.message.includes('rules[20].verbs'), err.message);
  assert.ok(err.message.endsWith(', and 4980 more (details.causes lists them all)'), err.message);
  assert.equal(err.toStatus().details?.causes?.length, 5_000);
  const huge = errors.invalid('Pod', 'web', [{ reason: 'FieldValueInvalid', field: 'metadata.labels', message: `value of "${'k'.repeat(2_000_000)}" must be a string` }]);
  assert.ok(huge.message.length < 2_000 && huge.message.endsWith(' more characters)'), huge.message.slice(-100));
  assert.equal(errors.invalid('Pod', 'web', causes.slice(0, 2)).message, 'Pod "web" is invalid: rules[0].verbs: Required value, rules[1].verbs: Required value');
});
