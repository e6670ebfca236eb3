/**
 * The scheduler against a real nats-server, a real API server and three hollow
 * kubelets (fake runtime): it spreads a controller's pods, says why a pod cannot
 * be placed (FailedScheduling Event with the reasons counted, PodScheduled False)
 * and places it once a node with room is added, respects nodeSelector, taints
 * and tolerations, and gives a cordoned node no new pods.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import { startScheduler, type RunningScheduler } from '../../services/scheduler/index.js';
import { startTestNats } from '../harness/nats.js';
import { eventually } from '../harness/wait.js';

type Json = any;
const NODES = ['sched-1', 'sched-2', 'sched-3'];
const BUCKET = 'scheduler-it';

function pod(name: string, spec: Json = {}, meta: Json = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...meta },
    spec: { containers: [{ name: 'app', image: 'busybox', resources: { requests: { cpu: '10m', memory: '16Mi' } } }], ...spec },
  };
}

test('the scheduler places pods on hollow nodes', async (t) => {
  // Runs before startTestNats' own hook: everything stops while NATS is still up.
  const kubelets: Kubelet[] = [];
  let api: ApiServer | undefined;
  let scheduler: RunningScheduler | undefined;
  t.after(async () => {
    await scheduler?.stop();
    for (const k of kubelets) await k.stop();
    await api?.stop();
  });
  const nats = await startTestNats(t);
  api = await startApiServer({ nats: nats.urls, port: 0, host: '127.0.0.1', bucket: BUCKET });
  const client = new KeelsonClient(await nats.connect('scheduler-test'), { bucket: BUCKET });
  const runtime = new FakeRuntime({ images: ['busybox:latest'] });
  for (const [i, nodeName] of NODES.entries()) {
    kubelets.push(await startKubelet({ nats: nats.urls, nodeName, runtime, heartbeatMs: 200, statusMs: 1_000, bucket: BUCKET, labels: { disk: i === 0 ? 'ssd' : 'hdd' } }));
  }
  scheduler = await startScheduler({ client: new KeelsonClient(await nats.connect('scheduler'), { bucket: BUCKET }), backOff: { initialMs: 100, maxMs: 1_000 } });

  const get = (name: string) => client.get('pods', 'default', name) as Promise<Json>;
  const nodeOf = async (name: string) => (await eventually(`${name} bound`, () => get(name), (p) => !!p.spec.nodeName)).spec.nodeName as string;
  const events = async (name: string) => (await client.list('events', 'default', { fieldSelector: `involvedObject.name=${name}` })).items as Json[];

  await t.test('9 pods of one owner spread 3/3/3, each with a Scheduled Event', async () => {
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-web-uid', controller: true };
    const names = Array.from({ length: 9 }, (_, i) => `web-${i}`);
    await Promise.all(names.map((n) => client.create(pod(n, {}, { labels: { app: 'web' }, ownerReferences: [owner] }))));
    const placed = await Promise.all(names.map(nodeOf));
    assert.deepEqual(NODES.map((n) => placed.filter((p) => p === n).length), [3, 3, 3], `placed: ${placed}`);
    const ev = await eventually('a Scheduled event', () => events('web-0'), (es) => es.some((e) => e.reason === 'Scheduled'));
    const scheduled = ev.find((e) => e.reason === 'Scheduled');
    assert.equal(scheduled.message, `Successfully assigned default/web-0 to ${placed[0]}`);
    assert.equal(scheduled.type, 'Normal');
    assert.equal(scheduled.source.component, 'default-scheduler');
    assert.equal(scheduled.involvedObject.kind, 'Pod');
    const bound = await get('web-0');
    assert.equal(bound.status.conditions.find((c: Json) => c.type === 'PodScheduled')?.status, 'True');
  });

  await t.test('nodeSelector picks the labelled node', async () => {
    await Promise.all([0, 1, 2].map((i) => client.create(pod(`ssd-${i}`, { nodeSelector: { disk: 'ssd' } }))));
    for (const i of [0, 1, 2]) assert.equal(await nodeOf(`ssd-${i}`), 'sched-1');
  });

  await t.test('taints keep off the pods that do not tolerate them', async () => {
    await client.patch('nodes', undefined, 'sched-2', 'merge', { spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } });
    await new Promise((r) => setTimeout(r, 200)); // the node update reaches the scheduler's informer
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => client.create(pod(`plain-${i}`))));
    const placed = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => nodeOf(`plain-${i}`)));
    assert.ok(!placed.includes('sched-2'), `a pod without the toleration landed on the tainted node: ${placed}`);
    const tolerant = pod('db-0', {
      nodeSelector: { 'kubernetes.io/hostname': 'sched-2' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
    });
    await client.create(tolerant);
    assert.equal(await nodeOf('db-0'), 'sched-2');
    // A pod that wants the tainted node but does not tolerate it: the reasons, counted.
    await client.create(pod('db-intolerant', { nodeSelector: { 'kubernetes.io/hostname': 'sched-2' } }));
    const ev = await eventually('FailedScheduling', () => events('db-intolerant'), (es) => es.some((e) => e.reason === 'FailedScheduling'));
    assert.equal(
      ev.find((e) => e.reason === 'FailedScheduling').message,
      "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 node(s) didn't match Pod's node affinity/selector.",
    );
    await client.delete('pods', 'default', 'db-intolerant', { gracePeriodSeconds: 0 });
    await client.patch('nodes', undefined, 'sched-2', 'merge', { spec: { taints: null } });
  });

  await t.test('a cordoned node gets no new pods', async () => {
    await client.patch('nodes', undefined, 'sched-3', 'strategic', { spec: { unschedulable: true } });
    await new Promise((r) => setTimeout(r, 200));
    const names = Array.from({ length: 6 }, (_, i) => `after-cordon-${i}`);
    await Promise.all(names.map((n) => client.create(pod(n))));
    const placed = await Promise.all(names.map(nodeOf));
    assert.ok(!placed.includes('sched-3'), `a pod landed on the cordoned node: ${placed}`);
    await client.create(pod('wants-cordoned', { nodeSelector: { 'kubernetes.io/hostname': 'sched-3' } }));
    const ev = await eventually('FailedScheduling', () => events('wants-cordoned'), (es) => es.some((e) => e.reason === 'FailedScheduling'));
    assert.equal(
      ev.find((e) => e.reason === 'FailedScheduling').message,
      "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.",
    );
    // Uncordoned: the waiting pod goes there.
    await client.patch('nodes', undefined, 'sched-3', 'strategic', { spec: { unschedulable: false } });
    assert.equal(await nodeOf('wants-cordoned'), 'sched-3');
  });

  await t.test('a pod too big for every node: FailedScheduling, PodScheduled False, then placed on a new node with room', async () => {
    await client.create(pod('huge', { containers: [{ name: 'app', image: 'busybox', resources: { requests: { cpu: '1000' } } }] }));
    const message = '0/3 nodes are available: 3 Insufficient cpu.';
    const ev = await eventually('FailedScheduling', () => events('huge'), (es) => es.some((e) => e.reason === 'FailedScheduling'));
    const failed = ev.find((e) => e.reason === 'FailedScheduling');
    assert.equal(failed.message, message);
    assert.equal(failed.type, 'Warning');
    const pending = await eventually('PodScheduled False', () => get('huge'), (p) => p.status?.conditions?.some((c: Json) => c.type === 'PodScheduled'));
    const cond = pending.status.conditions.find((c: Json) => c.type === 'PodScheduled');
    assert.deepEqual([cond.status, cond.reason, cond.message], ['False', 'Unschedulable', message]);
    assert.equal(pending.spec.nodeName ?? '', '');

    // Node changes send the parked pod round again; the retries do not flood the Events.
    const before = scheduler!.stats().unschedulableAttempts;
    for (const v of ['1', '2', '3']) {
      await client.patch('nodes', undefined, 'sched-1', 'merge', { metadata: { labels: { bump: v } } });
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(scheduler!.stats().unschedulableAttempts >= before + 2, `attempts ${before} → ${scheduler!.stats().unschedulableAttempts}`);
    assert.equal((await events('huge')).filter((e) => e.reason === 'FailedScheduling').length, 1);

    // A big (hollow, kubelet-less) node joins: the parked pod is tried again and lands there.
    await client.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'sched-big', labels: { 'kubernetes.io/hostname': 'sched-big' } },
      status: {
        allocatable: { cpu: '2000', memory: '64Gi', pods: '110' },
        capacity: { cpu: '2000', memory: '64Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'hollow' }],
      },
    });
    assert.equal(await nodeOf('huge'), 'sched-big');
    const stats = scheduler!.stats();
    assert.equal(stats.scheduled, 27, "every pod of this test bound once"); // 9 + 3 + 6 + 1 + 6 + 1 + 1
    assert.equal(stats.cache.assumed, 0);
  });
});
