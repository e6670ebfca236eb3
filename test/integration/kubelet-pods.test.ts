/**
 * The kubelet's pod side against a real API server on a real nats-server, with
 * the fake runtime (pods "run" at once): status through /status, restarts,
 * graceful deletion finished by the kubelet, adoption after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { isNotFound } from '../../services/lib/errors/index.js';
import { PodManager } from '../../services/kubelet/pods/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import { eventually } from '../harness/wait.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

const NODE = 'node-a';

type PodView = KObject & {
  status?: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; state: Record<string, { reason?: string; exitCode?: number }>; containerID?: string }[];
  };
};

function pod(name: string, extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: NODE, containers: [{ name: 'app', image: 'busybox' }], ...extra },
  };
}


describe('kubelet pods on the fake runtime', () => {
  let nats: TestNats;
  let api: ApiServer;
  let client: KeelsonClient;
  const runtime = new FakeRuntime();
  let pods: PodManager;
  /** What the pod manager logged (its startup line per pod). */
  const logged: string[] = [];
  const log = (line: string) => logged.push(line);

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0 });
    client = await KeelsonClient.connect(nats.urls, 'kubelet-test');
    pods = new PodManager({ client, runtime, nodeName: NODE, hostIP: '10.0.0.7', log });
    await pods.start();
  });
  after(async () => {
    await pods?.stop();
    await client?.close();
    await api?.stop();
    await nats?.stop();
  });

  const get = (name: string) => client.get('pods', 'default', name) as Promise<PodView>;

  test('a pod bound to this node runs and reports its status', async () => {
    await client.create(pod('web'));
    const p = await eventually('web Running', () => get('web'), (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true);
    const cs = p.status!.containerStatuses![0]!;
    assert.ok(cs.state.running, 'container running');
    assert.match(cs.containerID ?? '', /^fake:\/\//);
    assert.equal(p.status!.hostIP, '10.0.0.7');
    assert.ok(p.status!.podIP);
    const cond = Object.fromEntries(p.status!.conditions!.map((c) => [c.type, c.status]));
    assert.deepEqual(cond, { PodScheduled: 'True', Initialized: 'True', ContainersReady: 'True', Ready: 'True' });
    assert.ok(p.status!.conditions!.every((c) => c.lastTransitionTime), 'transition times stamped');
    // As Kubernetes' kubelet logs a pod's startup duration: once, with where the time went.
    const lines = logged.filter((l) => l.includes('pod default/web '));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^kubelet node-a: pod default\/web Running \d+ ms after it was seen \(sandbox up at \d+ ms, containers at \d+ ms\)$/);
  });

  test('pods of other nodes are left alone', async () => {
    await client.create({ ...pod('elsewhere'), spec: { nodeName: 'node-b', containers: [{ name: 'app', image: 'busybox' }] } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get('elsewhere')).status?.phase, 'Pending');
    assert.equal((await runtime.listManaged()).filter((m) => m.podName === 'elsewhere').length, 0);
  });

  test('a crash shows in the status and restartPolicy Never ends the pod Failed', async () => {
    await client.create(pod('once', { restartPolicy: 'Never' }));
    await eventually('once Running', () => get('once'), (p) => p.status?.phase === 'Running');
    const c = (await runtime.listManaged()).find((m) => m.podName === 'once' && m.kind === 'container')!;
    runtime.exit(c.id, 3);
    const p = await eventually('once Failed', () => get('once'), (p) => p.status?.phase === 'Failed');
    assert.equal(p.status!.containerStatuses![0]!.state.terminated?.exitCode, 3);
  });

  test('an exit under restartPolicy Always waits in CrashLoopBackOff', async () => {
    await client.create(pod('crashy'));
    await eventually('crashy Running', () => get('crashy'), (p) => p.status?.phase === 'Running');
    const c = (await runtime.listManaged()).find((m) => m.podName === 'crashy' && m.kind === 'container')!;
    runtime.exit(c.id, 1);
    const p = await eventually('CrashLoopBackOff', () => get('crashy'), (p) => p.status?.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff');
    assert.equal(p.status!.containerStatuses![0]!.restartCount, 1);
    assert.equal(p.status!.phase, 'Running');
  });

  test('kubectl delete: the kubelet stops the containers, then the pod is gone', async () => {
    await client.create(pod('bye'));
    await eventually('bye Running', () => get('bye'), (p) => p.status?.phase === 'Running');
    const deleted = await client.delete('pods', 'default', 'bye');
    assert.ok(deleted.metadata?.deletionTimestamp, 'graceful: marked first');
    await eventually('bye gone', () => get('bye').then(() => false).catch((e) => (isNotFound(e) ? true : Promise.reject(e))), (gone) => gone);
    assert.equal((await runtime.listManaged()).filter((m) => m.podName === 'bye').length, 0, 'containers removed');
  });

  test('a restarted kubelet adopts running containers without restarting them', async () => {
    await client.create(pod('keep'));
    await eventually('keep Running', () => get('keep'), (p) => p.status?.phase === 'Running');
    const before = (await runtime.listManaged()).filter((m) => m.podName === 'keep').map((m) => m.id).sort();
    await pods.stop();
    pods = new PodManager({ client, runtime, nodeName: NODE, hostIP: '10.0.0.7', log });
    const linesBefore = logged.length;
    await pods.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(logged.slice(linesBefore).filter((l) => l.includes('pod default/keep ')), [], 'an adopted pod did not start here: no startup line');
    const after = (await runtime.listManaged()).filter((m) => m.podName === 'keep').map((m) => m.id).sort();
    assert.deepEqual(after, before, 'same sandbox and container instances');
    const p = await get('keep');
    assert.equal(p.status!.phase, 'Running');
    assert.equal(p.status!.containerStatuses![0]!.restartCount, 0);
  });
});
