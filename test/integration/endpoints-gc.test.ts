/**
 * The endpoints controller and the garbage collector against a real nats-server
 * and API server, with two hollow nodes (kubelets on the fake runtime, whose
 * exec readiness probe the test answers). No scheduler and no ReplicaSet
 * controller run here: pods are bound by spec.nodeName, owners are plain objects
 * that nobody reconciles, and dependents carry ownerReferences set by the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { controllerContext, type RunningController } from '../../services/controller-manager/context.js';
import { LAST_CHANGE_TRIGGER_TIME, startEndpointsController } from '../../services/controller-manager/endpoints.controller.js';
import { startGarbageCollectorController } from '../../services/controller-manager/garbage-collector.controller.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import type { KObject, OwnerReference } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { isNotFound } from '../../services/lib/errors/index.js';
import { SharedInformers } from '../../services/lib/informer/index.js';
import { startTestNats, type TestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';

type Obj = Record<string, any>;
const BUCKET = 'endpoints-gc';
const NS = 'default';
const WAIT_MS = 8_000;

/** Pods whose readiness probe passes (by pod name). */
const readyPods = new Set<string>();

function pod(name: string, opts: { node?: string; labels?: Record<string, string>; ports?: Obj[]; probe?: boolean; owner?: OwnerReference } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: opts.labels ?? {}, ...(opts.owner ? { ownerReferences: [opts.owner] } : {}) },
    spec: {
      nodeName: opts.node ?? 'node-a',
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36',
          ...(opts.ports ? { ports: opts.ports } : {}),
          ...(opts.probe ? { readinessProbe: { exec: { command: ['ready?'] }, periodSeconds: 1 } } : {}),
        },
      ],
    },
  };
}

const ownerRef = (o: KObject, block = true): OwnerReference => ({
  apiVersion: o.apiVersion!,
  kind: o.kind!,
  name: o.metadata!.name!,
  uid: o.metadata!.uid!,
  controller: true,
  blockOwnerDeletion: block,
});

function replicaSet(name: string): KObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NS },
    spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
  };
}

/** Endpoints as `ready|notReady` lists of `pod:port,port` per subset, for compact assertions. */
function view(ep: Obj): string[] {
  return (ep.subsets ?? []).map((s: Obj) => {
    const ports = (s.ports ?? []).map((p: Obj) => `${p.name}=${p.port}`).join(',');
    const names = (list: Obj[] | undefined) => (list ?? []).map((a) => a.targetRef.name).sort().join(' ');
    return `[${names(s.addresses)}|${names(s.notReadyAddresses)}] ${ports}`;
  }).sort();
}

describe('endpoints and garbage collection on hollow nodes', () => {
  let nats: TestNats;
  let api: ApiServer | undefined;
  let client: KeelsonClient;
  let ctlClient: KeelsonClient | undefined;
  let informers: SharedInformers | undefined;
  const controllers: RunningController[] = [];
  const kubelets: Kubelet[] = [];

  const get = (kind: string, name: string) => client.get(kind, NS, name) as Promise<Obj>;
  const gone = (kind: string, name: string) => get(kind, name).then(() => false, (e) => (isNotFound(e) ? true : Promise.reject(e)));
  const running = (name: string) => until(`${name} Running`, async () => (await get('pods', name)).status?.phase === 'Running', WAIT_MS);
  const endpointsView = (name: string, want: string[]) =>
    until(`endpoints ${name} = ${want.join(' ; ')}`, async () => JSON.stringify(view(await get('endpoints', name).catch(() => ({})))) === JSON.stringify(want), WAIT_MS);

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    client = await KeelsonClient.connect(nats.urls, 'endpoints-gc-test', { bucket: BUCKET });
    const runtime = () => new FakeRuntime({ exec: (c) => ({ exitCode: readyPods.has(c.podName) ? 0 : 1 }) });
    for (const nodeName of ['node-a', 'node-b']) {
      kubelets.push(await startKubelet({ nats: nats.urls, nodeName, runtime: runtime(), heartbeatMs: 500, bucket: BUCKET }));
    }
    ctlClient = await KeelsonClient.connect(nats.urls, 'endpoints-gc-controllers', { bucket: BUCKET });
    const c = ctlClient;
    informers = new SharedInformers(c);
    const ctx = controllerContext({ client: c, informers, options: { nodeMonitorGracePeriodMs: 5_000, podEvictionTimeoutMs: 5_000, nodeMonitorPeriodMs: 1_000, workers: 4 } });
    controllers.push(await startEndpointsController(ctx), await startGarbageCollectorController(ctx));
  });

  after(async () => {
    for (const c of controllers) await c.stop().catch(() => undefined);
    await informers?.stop().catch(() => undefined);
    for (const k of kubelets) await k.stop().catch(() => undefined);
    await ctlClient?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await api?.stop().catch(() => undefined);
    await nats?.stop();
  });

  test('Endpoints follow pod readiness, resolve named ports and group pods by port set', async () => {
    const labels = { app: 'web' };
    await client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS, labels: { tier: 'front' } },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9090, targetPort: 9100 }] },
    });
    await client.create(pod('web-1', { labels, probe: true, ports: [{ name: 'http', containerPort: 8080 }] }));
    await client.create(pod('web-2', { node: 'node-b', labels, probe: true, ports: [{ name: 'http', containerPort: 8080 }] }));
    await client.create(pod('web-3', { labels, probe: true, ports: [{ name: 'http', containerPort: 8081 }] }));
    await client.create(pod('web-4', { labels, probe: true }));
    await client.create(pod('other', { labels: { app: 'other' }, ports: [{ name: 'http', containerPort: 8080 }] }));
    for (const p of ['web-1', 'web-2', 'web-3', 'web-4', 'other']) await running(p);

    await endpointsView('web', ['[|web-1 web-2] http=8080,metrics=9100', '[|web-3] http=8081,metrics=9100', '[|web-4] metrics=9100']);
    const ep = await get('endpoints', 'web');
    assert.deepEqual(ep.metadata.labels, { tier: 'front' }, 'the service labels');
    assert.ok(ep.metadata.annotations[LAST_CHANGE_TRIGGER_TIME]);
    const a = ep.subsets.flatMap((s: Obj) => s.notReadyAddresses ?? []).find((x: Obj) => x.targetRef.name === 'web-2');
    const web2 = await get('pods', 'web-2');
    assert.deepEqual(a, { ip: web2.status.podIP, nodeName: 'node-b', targetRef: { kind: 'Pod', namespace: NS, name: 'web-2', uid: web2.metadata.uid } });

    readyPods.add('web-1');
    readyPods.add('web-4');
    await endpointsView('web', ['[web-1|web-2] http=8080,metrics=9100', '[web-4|] metrics=9100', '[|web-3] http=8081,metrics=9100']);
    readyPods.delete('web-1');
    await endpointsView('web', ['[web-4|] metrics=9100', '[|web-1 web-2] http=8080,metrics=9100', '[|web-3] http=8081,metrics=9100']);

    const rv = (await get('endpoints', 'web')).metadata.resourceVersion;
    await client.patch('pods', NS, 'web-3', 'merge', { metadata: { annotations: { touched: 'yes' } } });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await get('endpoints', 'web')).metadata.resourceVersion, rv, 'a change that moves no endpoint writes nothing');

    await client.delete('pods', NS, 'web-3');
    await endpointsView('web', ['[web-4|] metrics=9100', '[|web-1 web-2] http=8080,metrics=9100']);
    await client.patch('pods', NS, 'web-4', 'merge', { metadata: { labels: { app: 'moved' } } });
    await endpointsView('web', ['[|web-1 web-2] http=8080,metrics=9100']);
  });

  test('a Service without a selector keeps its user-managed Endpoints; a deleted Service takes its managed ones along', async () => {
    const manual = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'manual', namespace: NS }, subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 5432, protocol: 'TCP' }] }] };
    await client.create(manual);
    await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual', namespace: NS }, spec: { ports: [{ port: 5432 }] } });
    await until('web endpoints exist', () => get('endpoints', 'web').catch(() => undefined), WAIT_MS);
    await client.delete('services', NS, 'web');
    await until('web endpoints deleted', () => gone('endpoints', 'web'), WAIT_MS);
    // By now the controller has seen the manual Service and its Endpoints too.
    const ep = await get('endpoints', 'manual');
    assert.deepEqual(ep.subsets, manual.subsets);
    assert.equal(ep.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME], undefined);
    await client.delete('services', NS, 'manual');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await gone('endpoints', 'manual'), false, 'Endpoints the controller did not write stay');
  });

  test('background: deleting an owner deletes its dependents; a dependent of an owner that never existed goes too', async () => {
    const rs = await client.create(replicaSet('bg'));
    await client.create(pod('bg-1', { labels: { app: 'bg' }, owner: ownerRef(rs) }));
    await client.create(pod('bg-2', { node: 'node-b', labels: { app: 'bg' }, owner: ownerRef(rs) }));
    await client.create(pod('ghost-child', { labels: { app: 'ghost' }, owner: { ...ownerRef(rs), name: 'ghost', uid: 'no-such-uid' } }));
    await running('bg-1');
    await running('bg-2');
    await until('ghost-child collected', () => gone('pods', 'ghost-child'), WAIT_MS);
    assert.equal(await gone('pods', 'bg-1'), false, 'a dependent of a live owner stays');
    await client.delete('replicasets', NS, 'bg');
    await until('bg pods collected', async () => (await gone('pods', 'bg-1')) && (await gone('pods', 'bg-2')), WAIT_MS);
  });

  test('foreground: the owner stays, with its finalizer, until its blocking dependents are gone', async () => {
    const rs = await client.create(replicaSet('fg'));
    await client.create(pod('fg-1', { labels: { app: 'fg' }, owner: ownerRef(rs) }));
    // Bound to a node no kubelet runs: its graceful deletion never finishes by itself.
    await client.create(pod('fg-stuck', { node: 'node-nowhere', labels: { app: 'fg' }, owner: ownerRef(rs) }));
    await client.create(pod('fg-free', { labels: { app: 'fg' }, owner: ownerRef(rs, false) }));
    await running('fg-1');
    await client.delete('replicasets', NS, 'fg', { propagationPolicy: 'Foreground' });
    const marked = await get('replicasets', 'fg');
    assert.ok(marked.metadata.deletionTimestamp);
    assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion']);
    await until('fg-1 collected', () => gone('pods', 'fg-1'), WAIT_MS);
    await until('fg-stuck terminating', async () => !!(await get('pods', 'fg-stuck')).metadata.deletionTimestamp, WAIT_MS);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await gone('replicasets', 'fg'), false, 'the owner waits for its terminating dependent');
    await client.delete('pods', NS, 'fg-stuck', { gracePeriodSeconds: 0 });
    await until('fg owner gone', () => gone('replicasets', 'fg'), WAIT_MS);
    await until('the non-blocking dependent collected too', () => gone('pods', 'fg-free'), WAIT_MS);
  });

  test('orphan: the owner goes, its dependents stay without the reference', async () => {
    const rc = await client.create({
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: 'orph', namespace: NS },
      spec: { replicas: 0, selector: { app: 'orph' }, template: { metadata: { labels: { app: 'orph' } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
    });
    await client.create(pod('orph-1', { labels: { app: 'orph' }, owner: ownerRef(rc) }));
    await client.create(pod('orph-2', { node: 'node-b', labels: { app: 'orph' }, owner: ownerRef(rc) }));
    await running('orph-1');
    await running('orph-2');
    await client.delete('replicationcontrollers', NS, 'orph', { propagationPolicy: 'Orphan' });
    await until('orph owner gone', () => gone('replicationcontrollers', 'orph'), WAIT_MS);
    for (const name of ['orph-1', 'orph-2']) {
      const p = await get('pods', name);
      assert.equal(p.metadata.deletionTimestamp, undefined, `${name} kept`);
      assert.deepEqual(p.metadata.ownerReferences ?? [], [], `${name} has no owner any more`);
      assert.equal(p.status.phase, 'Running');
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await gone('pods', 'orph-1'), false, 'an orphan is not collected later either');
  });
});
