import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../services/lib/api/resources.js';
import { applyDefaults, computeQOSClass, imagePullPolicyFor } from '../../services/apiserver/registry/defaults.js';

type Json = Record<string, any>;

/** Defaults a copy of `o` as `kind` and returns it. */
function defaulted(kind: string, o: Json): Json {
  const copy = structuredClone(o);
  applyDefaults(kind, copy as KObject);
  return copy;
}

const container = (name: string, image = 'busybox', extra: Json = {}) => ({ name, image, ...extra });
const pod = (...containers: Json[]) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers } });
const tpl = (labels: Json = { app: 'web' }) => ({ metadata: { labels }, spec: { containers: [container('app', 'nginx:1.25')] } });

test('pod spec defaults', () => {
  const p = defaulted('Pod', pod(container('app')));
  assert.equal(p.spec.restartPolicy, 'Always');
  assert.equal(p.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(p.spec.terminationGracePeriodSeconds, 30);
  assert.equal(p.spec.schedulerName, 'default-scheduler');
  assert.equal(p.spec.enableServiceLinks, true);
  assert.deepEqual(p.spec.securityContext, {});
  assert.deepEqual(p.status, { phase: 'Pending', qosClass: 'BestEffort' });
  assert.equal(p.metadata.uid, undefined);
  assert.equal(p.metadata.creationTimestamp, undefined);
  assert.equal(p.metadata.resourceVersion, undefined);
  assert.equal(p.metadata.generation, undefined);
});

test('pod defaults keep what the client set', () => {
  const p = defaulted('Pod', {
    ...pod(container('app', 'nginx:1.25', { imagePullPolicy: 'Never', terminationMessagePath: '/tmp/t' })),
    spec: {
      containers: [container('app', 'nginx:1.25', { imagePullPolicy: 'Never', terminationMessagePath: '/tmp/t' })],
      restartPolicy: 'Never',
      dnsPolicy: 'Default',
      terminationGracePeriodSeconds: 0,
      enableServiceLinks: false,
      schedulerName: 'mine',
    },
    status: { phase: 'Running' },
  });
  assert.equal(p.spec.restartPolicy, 'Never');
  assert.equal(p.spec.dnsPolicy, 'Default');
  assert.equal(p.spec.terminationGracePeriodSeconds, 0);
  assert.equal(p.spec.enableServiceLinks, false);
  assert.equal(p.spec.schedulerName, 'mine');
  assert.equal(p.spec.containers[0].imagePullPolicy, 'Never');
  assert.equal(p.spec.containers[0].terminationMessagePath, '/tmp/t');
  assert.equal(p.status.phase, 'Running');
});

test('container defaults', () => {
  const p = defaulted('Pod', pod(container('app', 'nginx:1.25', { ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] })));
  const c = p.spec.containers[0];
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'File');
  assert.deepEqual(c.resources, {});
  assert.deepEqual(c.ports, [
    { containerPort: 80, protocol: 'TCP' },
    { containerPort: 53, protocol: 'UDP' },
  ]);
});

test('imagePullPolicy follows the tag', () => {
  const cases: [string, string][] = [
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['busybox:1.36', 'IfNotPresent'],
    ['registry.local:5000/team/app', 'Always'],
    ['registry.local:5000/team/app:v2', 'IfNotPresent'],
    ['app@sha256:0123abcd', 'IfNotPresent'],
    ['app:latest@sha256:0123abcd', 'Always'],
  ];
  for (const [image, want] of cases) {
    assert.equal(imagePullPolicyFor(image), want, image);
    assert.equal(defaulted('Pod', pod(container('a', image))).spec.containers[0].imagePullPolicy, want, image);
  }
  const init = defaulted('Pod', { ...pod(container('a')), spec: { containers: [container('a')], initContainers: [container('i', 'x:1')] } });
  assert.equal(init.spec.initContainers[0].imagePullPolicy, 'IfNotPresent');
});

test('probe defaults', () => {
  const p = defaulted(
    'Pod',
    pod(
      container('app', 'x', {
        livenessProbe: { httpGet: { port: 8080 } },
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 3, failureThreshold: 0 },
      }),
    ),
  );
  const c = p.spec.containers[0];
  assert.deepEqual(c.livenessProbe, {
    httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(c.readinessProbe.periodSeconds, 3);
  assert.equal(c.readinessProbe.failureThreshold, 3, 'zero means unset for plain ints');
});

test('requests default to limits', () => {
  const p = defaulted('Pod', pod(container('a', 'x', { resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } } })));
  assert.deepEqual(p.spec.containers[0].resources.requests, { cpu: '500m', memory: '1Gi' });
});

test('hostNetwork pods get hostPort = containerPort', () => {
  const p = defaulted('Pod', { ...pod(), spec: { hostNetwork: true, containers: [container('a', 'x', { ports: [{ containerPort: 9100 }] })] } });
  assert.equal(p.spec.containers[0].ports[0].hostPort, 9100);
});

test('volumes: no source means emptyDir; file modes', () => {
  const p = defaulted('Pod', {
    ...pod(),
    spec: { containers: [container('a')], volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'c' } }] },
  });
  assert.deepEqual(p.spec.volumes[0], { name: 'scratch', emptyDir: {} });
  assert.equal(p.spec.volumes[1].configMap.defaultMode, 0o644);
});

test('QoS class from requests and limits', () => {
  const res = (r: Json) => container('c', 'x', { resources: r });
  const full = { limits: { cpu: '1', memory: '1Gi' } };
  const cases: [string, Json[], string][] = [
    ['nothing', [container('c')], 'BestEffort'],
    ['limits only (requests follow)', [res(full)], 'Guaranteed'],
    ['equal requests and limits', [res({ ...full, requests: { cpu: '1000m', memory: '1024Mi' } })], 'Guaranteed'],
    ['lower requests', [res({ ...full, requests: { cpu: '500m' } })], 'Burstable'],
    ['requests only', [res({ requests: { cpu: '100m' } })], 'Burstable'],
    ['cpu limit only', [res({ limits: { cpu: '1' } })], 'Burstable'],
    ['one container without limits', [res(full), container('d')], 'Burstable'],
    ['zero quantities count as none', [res({ requests: { cpu: '0' } })], 'BestEffort'],
    ['other resources do not count', [res({ limits: { 'example.com/gpu': '1' } })], 'BestEffort'],
  ];
  for (const [name, containers, want] of cases) {
    assert.equal(defaulted('Pod', pod(...containers)).status.qosClass, want, name);
  }
  assert.equal(computeQOSClass({ containers: [res({ requests: { cpu: '1' } })] }), 'Burstable');
});

test('service defaults', () => {
  const s = defaulted('Service', { metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }] } });
  assert.equal(s.spec.type, 'ClusterIP');
  assert.equal(s.spec.sessionAffinity, 'None');
  assert.deepEqual(s.spec.ports, [
    { port: 80, protocol: 'TCP', targetPort: 80 },
    { port: 53, protocol: 'UDP', targetPort: 'dns' },
  ]);
  assert.deepEqual(s.spec.ipFamilies, ['IPv4']);
  assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
  assert.equal(s.spec.internalTrafficPolicy, 'Cluster');
  assert.equal(s.spec.externalTrafficPolicy, undefined);
  assert.equal(s.spec.clusterIP, undefined, 'the allocator, not defaulting, picks cluster IPs');

  const np = defaulted('Service', { spec: { type: 'NodePort', ports: [{ port: 80 }] } });
  assert.equal(np.spec.externalTrafficPolicy, 'Cluster');
  const ext = defaulted('Service', { spec: { type: 'ExternalName', externalName: 'db.example.com' } });
  assert.equal(ext.spec.ipFamilies, undefined);
  const sticky = defaulted('Service', { spec: { sessionAffinity: 'ClientIP', ports: [{ port: 80 }] } });
  assert.equal(sticky.spec.sessionAffinityConfig.clientIP.timeoutSeconds, 10800);
});

test('replicationcontroller defaults', () => {
  const rc = defaulted('ReplicationController', { metadata: { name: 'web', namespace: 'default' }, spec: { template: tpl() } });
  assert.equal(rc.spec.replicas, 1);
  assert.deepEqual(rc.spec.selector, { app: 'web' });
  assert.deepEqual(rc.metadata.labels, { app: 'web' });
  assert.equal(rc.spec.template.spec.restartPolicy, 'Always');
  assert.equal(rc.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  // The copies are not shared with the template.
  rc.spec.selector.app = 'x';
  assert.equal(rc.spec.template.metadata.labels.app, 'web');

  const kept = defaulted('ReplicationController', {
    metadata: { name: 'web', labels: { team: 'a' } },
    spec: { replicas: 0, selector: { app: 'web', tier: 'fe' }, template: tpl({ app: 'web', tier: 'fe' }) },
  });
  assert.equal(kept.spec.replicas, 0);
  assert.deepEqual(kept.spec.selector, { app: 'web', tier: 'fe' });
  assert.deepEqual(kept.metadata.labels, { team: 'a' });
});

test('deployment defaults', () => {
  const d = defaulted('Deployment', { metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: tpl() } });
  assert.equal(d.spec.replicas, 1);
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.progressDeadlineSeconds, 600);
  assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(d.spec.template.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(d.metadata.labels, undefined, 'apps/v1 does not copy template labels');

  const partial = defaulted('Deployment', { spec: { strategy: { rollingUpdate: { maxSurge: 0 } }, template: tpl() } });
  assert.deepEqual(partial.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '25%' } });
  const recreate = defaulted('Deployment', { spec: { strategy: { type: 'Recreate' }, template: tpl() } });
  assert.deepEqual(recreate.spec.strategy, { type: 'Recreate' });
});

test('replicaset defaults', () => {
  const r = defaulted('ReplicaSet', { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl() } });
  assert.equal(r.spec.replicas, 1);
  assert.equal(r.spec.template.spec.terminationGracePeriodSeconds, 30);
  assert.equal(r.spec.strategy, undefined);
  assert.equal(r.spec.revisionHistoryLimit, undefined);
});

test('namespace defaults', () => {
  const n = defaulted('Namespace', { metadata: { name: 'team-a' } });
  assert.deepEqual(n.spec, { finalizers: ['kubernetes'] });
  assert.deepEqual(n.status, { phase: 'Active' });
  const terminating = defaulted('Namespace', { metadata: { name: 'x' }, spec: { finalizers: [] }, status: { phase: 'Terminating' } });
  assert.deepEqual(terminating.spec.finalizers, []);
  assert.equal(terminating.status.phase, 'Terminating');
});

test('node and endpoints defaults', () => {
  const n = defaulted('Node', { metadata: { name: 'n' }, status: { capacity: { cpu: '4', memory: '8Gi' } } });
  assert.deepEqual(n.status.allocatable, { cpu: '4', memory: '8Gi' });
  const e = defaulted('Endpoints', { subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] });
  assert.equal(e.subsets[0].ports[0].protocol, 'TCP');
});

test('defaulting is idempotent and ignores unknown kinds and odd shapes', () => {
  const inputs: [string, Json][] = [
    ['Pod', pod(container('a', 'x', { livenessProbe: { exec: { command: ['true'] } }, resources: { limits: { cpu: '1' } } }))],
    ['Service', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }],
    ['Deployment', { spec: { template: tpl() } }],
    ['ReplicationController', { spec: { template: tpl() } }],
    ['Namespace', { metadata: { name: 'a' } }],
  ];
  for (const [kind, o] of inputs) {
    const once = defaulted(kind, o);
    assert.deepEqual(defaulted(kind, once), once, kind);
  }
  assert.deepEqual(defaulted('Widget', { spec: { a: 1 } }), { spec: { a: 1 } });
  assert.deepEqual(defaulted('Lease', { spec: {} }), { spec: {} });
  assert.doesNotThrow(() => defaulted('Pod', { spec: { containers: 'x', volumes: [null, 3] } }));
  assert.doesNotThrow(() => defaulted('Deployment', { spec: { template: 7, strategy: 'x' } }));
});
