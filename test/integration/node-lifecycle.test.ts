/**
 * The node lifecycle controller against a real nats-server and API server, with
 * three hollow nodes (kubelets on the fake runtime) and short times: grace 2 s,
 * default toleration 2 s, a look every 500 ms. Stopping a kubelet is how a node
 * "dies" (its heartbeats end). There is no scheduler and no ReplicaSet
 * controller here: pods are bound by spec.nodeName, and "evicted" means gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { controllerContext, type ControllerManagerOptions, type RunningController } from '../../services/controller-manager/context.js';
import { startNodeLifecycleController } from '../../services/controller-manager/node-lifecycle.controller.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { isNotFound } from '../../services/lib/errors/index.js';
import { SharedInformers } from '../../services/lib/informer/index.js';
import { TAINT_NOT_READY, TAINT_UNREACHABLE } from '../../statecharts/node.machine.js';
import { startTestNats, type TestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';

type Obj = Record<string, any>;
const BUCKET = 'node-lifecycle';
const NS = 'default';
const NODES = ['node-a', 'node-b', 'node-c'];
const OPTIONS: ControllerManagerOptions = { nodeMonitorGracePeriodMs: 2_000, podEvictionTimeoutMs: 2_000, nodeMonitorPeriodMs: 500, workers: 4 };
/** Scheduling noise on a busy 2-core machine: what a timing bound allows on top of the design's own. */
const SLACK_MS = 1_500;

function pod(name: string, nodeName: string, tolerations?: Obj[]): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { test: 'node-lifecycle' } },
    spec: { nodeName, containers: [{ name: 'main', image: 'busybox:1.36' }], ...(tolerations ? { tolerations } : {}) },
  };
}

/** Tolerates both lifecycle taints, for `seconds` (forever when undefined). */
const tolerateBoth = (seconds?: number): Obj[] =>
  [TAINT_NOT_READY, TAINT_UNREACHABLE].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}) }));

const condition = (o: Obj, type: string) => (o.status?.conditions ?? []).find((c: Obj) => c.type === type);
const taintKeys = (n: Obj) => (n.spec?.taints ?? []).map((t: Obj) => `${t.key}:${t.effect}`).sort();

describe('node lifecycle on hollow nodes', () => {
  let nats: TestNats;
  let api: ApiServer | undefined;
  let client: KeelsonClient;
  let ctlClient: KeelsonClient | undefined;
  let informers: SharedInformers | undefined;
  let controller: RunningController | undefined;
  const logs: string[] = [];
  const kubelets = new Map<string, Kubelet>();
  const runtimes = new Map(NODES.map((n) => [n, new FakeRuntime()]));

  const startNode = async (name: string) => {
    kubelets.set(name, await startKubelet({ nats: nats.urls, nodeName: name, runtime: runtimes.get(name)!, heartbeatMs: 200, statusMs: 1_000, bucket: BUCKET }));
  };
  const stopNode = async (name: string) => {
    const k = kubelets.get(name);
    kubelets.delete(name);
    await k?.stop();
  };
  const getPod = (name: string) => client.get('pods', NS, name) as Promise<Obj>;
  const exists = (name: string) => getPod(name).then(() => true, (e) => (isNotFound(e) ? false : Promise.reject(e)));
  const node = (name: string) => client.get('nodes', undefined, name) as Promise<Obj>;
  const running = (name: string) => until(`${name} Running`, async () => (await getPod(name)).status?.phase === 'Running', 10_000);
  const events = async (name: string, reason: string) =>
    (await client.list('events', '', { fieldSelector: `involvedObject.name=${name},reason=${reason}` })).items as Obj[];

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    client = await KeelsonClient.connect(nats.urls, 'node-lifecycle-test', { bucket: BUCKET });
    for (const n of NODES) await startNode(n);
    ctlClient = await KeelsonClient.connect(nats.urls, 'node-lifecycle-controller', { bucket: BUCKET });
    const c = ctlClient;
    informers = new SharedInformers(c);
    const ctx = controllerContext({ client: c, informers, options: OPTIONS, log: (m) => logs.push(m) });
    controller = await startNodeLifecycleController(ctx);
  });

  after(async () => {
    await controller?.stop().catch(() => undefined);
    await informers?.stop().catch(() => undefined);
    for (const name of [...kubelets.keys()]) await stopNode(name).catch(() => undefined);
    await ctlClient?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await api?.stop().catch(() => undefined);
    await nats?.stop();
  });

  test('healthy nodes carry no lifecycle taints', async () => {
    for (const n of NODES) {
      await until(`${n} Ready`, async () => condition(await node(n), 'Ready')?.status === 'True');
      assert.deepEqual(taintKeys(await node(n)), []);
    }
  });

  test('a dead node: not-ready at once, Unknown + unreachable within grace + a period, its pods evicted after their toleration', async () => {
    await client.create(pod('victim-1', 'node-c'));
    await client.create(pod('victim-2', 'node-c'));
    await client.create(pod('patient', 'node-c', tolerateBoth(4)));
    await client.create(pod('forever', 'node-c', tolerateBoth()));
    await client.create(pod('bystander', 'node-a'));
    for (const p of ['victim-1', 'victim-2', 'patient', 'forever', 'bystander']) await running(p);

    const t0 = Date.now();
    await stopNode('node-c');
    const since = () => Date.now() - t0;

    // The kubelet said "shutting down" (Ready=False): not-ready at once.
    await until('not-ready taint', async () => taintKeys(await node('node-c')).includes(`${TAINT_NOT_READY}:NoExecute`), 2_000);
    const notReadyMs = since();
    assert.equal(await exists('victim-1'), true, 'not evicted before the toleration');

    // Then its lease runs out: Unknown, unreachable, conditions Unknown.
    const unknown = await until(
      'Ready=Unknown and the unreachable taints',
      async () => {
        const n = await node('node-c');
        return condition(n, 'Ready')?.status === 'Unknown' && taintKeys(n).includes(`${TAINT_UNREACHABLE}:NoExecute`) && n;
      },
      OPTIONS.nodeMonitorGracePeriodMs + OPTIONS.nodeMonitorPeriodMs + 3 * SLACK_MS,
    );
    const unknownMs = since();
    assert.deepEqual(taintKeys(unknown), [`${TAINT_UNREACHABLE}:NoExecute`, `${TAINT_UNREACHABLE}:NoSchedule`], 'not-ready replaced by unreachable');
    const ready = condition(unknown, 'Ready');
    assert.deepEqual([ready.reason, ready.message], ['NodeStatusUnknown', 'Kubelet stopped posting node status.']);
    for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.equal(condition(unknown, type)?.status, 'Unknown', type);
    assert.ok(unknownMs <= OPTIONS.nodeMonitorGracePeriodMs + OPTIONS.nodeMonitorPeriodMs + SLACK_MS, `Unknown after ${unknownMs} ms`);
    assert.ok(unknownMs >= OPTIONS.nodeMonitorGracePeriodMs - 300, `not before the grace period: ${unknownMs} ms`);

    // The victims go once the default toleration (2 s from not-ready) is over.
    await until('victims evicted', async () => !(await exists('victim-1')) && !(await exists('victim-2')), OPTIONS.podEvictionTimeoutMs + 3 * SLACK_MS);
    const evictedMs = since();
    assert.ok(evictedMs >= OPTIONS.podEvictionTimeoutMs - 300, `evicted after ${evictedMs} ms: before the toleration`);
    assert.ok(evictedMs <= notReadyMs + OPTIONS.podEvictionTimeoutMs + SLACK_MS, `evicted after ${evictedMs} ms`);

    // Pods on an unreachable node are not ready any more.
    const patient = await getPod('patient');
    assert.equal(condition(patient, 'Ready')?.status, 'False', 'marked not ready');
    assert.equal(patient.metadata.deletionTimestamp, undefined, 'its own 4 s toleration is not over');

    await until('patient evicted', async () => !(await exists('patient')), 4_000 + 3 * SLACK_MS);
    const patientMs = since();
    assert.ok(patientMs >= 4_000 - 300, `patient evicted after ${patientMs} ms: before its tolerationSeconds`);

    const forever = await getPod('forever');
    assert.equal(forever.metadata.deletionTimestamp, undefined, 'a toleration without seconds is forever');
    assert.equal((await getPod('bystander')).metadata.deletionTimestamp, undefined, 'other nodes are left alone');

    assert.ok((await events('node-c', 'NodeNotReady')).length >= 1, 'NodeNotReady event on the node');
    const eviction = await events('victim-1', 'TaintManagerEviction');
    assert.equal(eviction[0]?.message, `Marking for deletion Pod ${NS}/victim-1`);
    assert.ok((await events('patient', 'NodeNotReady')).some((e) => e.type === 'Warning'), 'NodeNotReady event on the pod');
    console.log(`# node death → not-ready taint ${notReadyMs} ms, → Unknown + unreachable ${unknownMs} ms, → evicted ${evictedMs} ms, → tolerating pod evicted ${patientMs} ms`);
  });

  test('the node back under the same name: Ready, taints gone, its stale containers removed', async () => {
    await startNode('node-c');
    const back = await until(
      'node-c Ready without taints',
      async () => {
        const n = await node('node-c');
        return condition(n, 'Ready')?.status === 'True' && taintKeys(n).length === 0 && n;
      },
      5_000,
    );
    assert.equal(condition(back, 'Ready').reason, 'KubeletReady');
    await until('NodeReady event', async () => (await events('node-c', 'NodeReady')).length > 0, 3_000);
    const gone = ['victim-1', 'victim-2', 'patient'];
    await until(
      'the evicted pods’ containers removed',
      async () => (await runtimes.get('node-c')!.listManaged()).every((c) => !gone.includes(c.podName)),
      5_000,
    );
    await running('forever');
    assert.ok((await runtimes.get('node-c')!.listManaged()).some((c) => c.podName === 'forever' && c.state === 'running'));
  });

  test('every node dead at once is a disruption of the control plane’s view: nothing is evicted', async () => {
    await client.create(pod('survivor', 'node-b'));
    await running('survivor');
    await Promise.all(NODES.map((n) => stopNode(n)));
    await until(
      'every node Unknown',
      async () => (await Promise.all(NODES.map(node))).every((n) => condition(n, 'Ready')?.status === 'Unknown'),
      OPTIONS.nodeMonitorGracePeriodMs + 3 * SLACK_MS,
    );
    await new Promise((r) => setTimeout(r, OPTIONS.podEvictionTimeoutMs + 1_000));
    for (const p of ['survivor', 'bystander', 'forever']) assert.equal((await getPod(p)).metadata.deletionTimestamp, undefined, `${p} kept`);
    assert.ok(logs.some((l) => /FullDisruption/.test(l)), `said so in the log: ${logs.join('\n')}`);
    // Coming back one by one ends the disruption: the nodes still down start their toleration over.
    for (const n of NODES) {
      await startNode(n);
      // Longer than a monitor period, shorter than the toleration that starts over.
      await new Promise((r) => setTimeout(r, 1_200));
    }
    await until(
      'every node Ready again',
      async () => (await Promise.all(NODES.map(node))).every((n) => condition(n, 'Ready')?.status === 'True' && taintKeys(n).length === 0),
      5_000,
    );
    for (const p of ['survivor', 'bystander', 'forever']) assert.equal((await getPod(p)).metadata.deletionTimestamp, undefined, `${p} not evicted on the way back`);
  });
});
