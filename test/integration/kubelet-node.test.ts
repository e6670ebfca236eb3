/**
 * The kubelet's node side against a real nats-server and API server, on the
 * fake runtime: it registers its Node, renews its Lease in kube-node-lease,
 * survives a restart under the same name, reports a deleted Node again, and says
 * "not ready" when it stops — leaving the Node in place.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { startKubelet, type Kubelet, type KubeletOptions } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import { connectNats } from '../../services/lib/nats/index.js';
import { freePort, startNatsServer } from '../../services/lib/nats-server/index.js';
import { startTestNats } from '../harness/nats.js';

type Json = any;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const condition = (node: KObject, type: string): Json => (node.status as Json).conditions.find((c: Json) => c.type === type);

test('a kubelet on the fake runtime registers its node and keeps its lease', async (t) => {
  // Hooks run in the order they were added: this one, first, stops the kubelets
  // and the API server while NATS is still there (startTestNats adds its own stop).
  const kubelets: Kubelet[] = [];
  let api: ApiServer | undefined;
  t.after(async () => {
    for (const k of kubelets) await k.stop();
    await api?.stop();
  });
  const nats = await startTestNats(t);
  api = await startApiServer({ nats: nats.urls, port: 0, host: '127.0.0.1', bucket: 'kubelet-node' });
  const client = new KeelsonClient(await nats.connect('test-client'));
  const runtime = new FakeRuntime({ images: ['busybox:1.36'] });
  const start = async (over: Partial<KubeletOptions> = {}) => {
    const k = await startKubelet({ nats: nats.urls, nodeName: 'hollow-1', runtime, heartbeatMs: 200, statusMs: 1000, labels: { zone: 'a' }, bucket: 'kubelet-node', ...over });
    kubelets.push(k);
    return k;
  };

  const first = await start();
  const node = await client.get('Node', undefined, 'hollow-1');
  const status = node.status as Json;

  await t.test('the Node describes the machine and the runtime', () => {
    for (const r of ['cpu', 'memory', 'pods']) {
      assert.ok(status.capacity[r], `capacity.${r}`);
      assert.ok(status.allocatable[r], `allocatable.${r}`);
    }
    assert.equal(status.capacity.pods, '110');
    assert.match(status.capacity.memory, /^\d+Ki$/);
    assert.equal(status.nodeInfo.containerRuntimeVersion, 'fake://0.1.0');
    assert.equal(status.nodeInfo.kubeletVersion, 'v1.32.0-keelson');
    assert.equal(status.nodeInfo.operatingSystem, 'linux');
    assert.ok(status.nodeInfo.kernelVersion);
    assert.ok(['amd64', 'arm64'].includes(status.nodeInfo.architecture), status.nodeInfo.architecture);
    assert.equal(status.daemonEndpoints.kubeletEndpoint.Port, 10250);
    assert.deepEqual(
      status.addresses.map((a: Json) => a.type),
      ['InternalIP', 'Hostname'],
    );
    assert.equal(status.images.length, 1);
    assert.match(status.images[0].names[0], /busybox:1\.36$/);
    const ready = condition(node, 'Ready');
    assert.deepEqual([ready.status, ready.reason, ready.message], ['True', 'KubeletReady', 'kubelet is posting ready status']);
    assert.equal(condition(node, 'PIDPressure').reason, 'KubeletHasSufficientPID');
    assert.deepEqual(node.metadata?.labels, {
      'kubernetes.io/hostname': 'hollow-1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': status.nodeInfo.architecture,
      zone: 'a',
    });
  });

  await t.test('the Lease in kube-node-lease is renewed every heartbeat', async () => {
    const lease = await until('the lease', () => client.get('Lease', 'kube-node-lease', 'hollow-1'));
    const spec = lease.spec as Json;
    assert.equal(spec.holderIdentity, 'hollow-1');
    assert.equal(spec.leaseDurationSeconds, 40);
    assert.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.deepEqual(lease.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [['Node', 'hollow-1', node.metadata?.uid]]);
    const renewed = await until(
      'a renewal',
      async () => {
        const l = await client.get('Lease', 'kube-node-lease', 'hollow-1');
        return (l.spec as Json).renewTime > spec.renewTime && l;
      },
      600,
    );
    assert.equal((renewed.spec as Json).holderIdentity, 'hollow-1');
  });

  await t.test('status is reported again within statusMs; transition times stay', async () => {
    const before = condition(node, 'Ready');
    const later = await until(
      'a status report',
      async () => {
        const n = await client.get('Node', undefined, 'hollow-1');
        return condition(n, 'Ready').lastHeartbeatTime > before.lastHeartbeatTime && n;
      },
      3000,
    );
    assert.equal(condition(later, 'Ready').lastTransitionTime, before.lastTransitionTime);
  });

  await t.test('a restarted kubelet with the same name updates the Node', async () => {
    await first.stop();
    const stopped = await client.get('Node', undefined, 'hollow-1');
    const notReady = condition(stopped, 'Ready');
    assert.deepEqual([notReady.status, notReady.reason, notReady.message], ['False', 'KubeletNotReady', 'node is shutting down']);
    await client.update({ ...stopped, metadata: { ...stopped.metadata, labels: { ...stopped.metadata?.labels, 'added-by': 'admin' } } });

    await start({ labels: { zone: 'b' } });
    const again = await client.get('Node', undefined, 'hollow-1');
    assert.equal(again.metadata?.uid, node.metadata?.uid, 'the same Node, not a new one');
    assert.equal(again.metadata?.labels?.zone, 'b');
    assert.equal(again.metadata?.labels?.['added-by'], 'admin', 'labels set by others stay');
    const ready = condition(again, 'Ready');
    assert.equal(ready.status, 'True');
    assert.ok(ready.lastTransitionTime >= notReady.lastTransitionTime);
  });

  await t.test('a deleted Node is registered again', async () => {
    await client.delete('Node', undefined, 'hollow-1');
    const back = await until('the Node to come back', async () => {
      const n = await client.get('Node', undefined, 'hollow-1');
      return n.metadata?.uid !== node.metadata?.uid && n;
    });
    assert.equal(condition(back, 'Ready').status, 'True');
  });
});

test('losing NATS puts the kubelet in NatsLost; it still stops at once', async (t) => {
  const kubelets: Kubelet[] = [];
  t.after(async () => {
    for (const k of kubelets) await k.stop();
  });
  const nats = await startTestNats(t);
  const api = await startApiServer({ nats: nats.urls, port: 0, host: '127.0.0.1', bucket: 'kubelet-node' });
  const kubelet = await startKubelet({ nats: nats.urls, nodeName: 'hollow-2', runtime: new FakeRuntime(), heartbeatMs: 200, bucket: 'kubelet-node' });
  kubelets.push(kubelet);
  await api.stop();
  await nats.stop();
  await until('NatsLost', async () => kubelet.actor.getSnapshot().matches('NatsLost'));
  const began = Date.now();
  await kubelet.stop();
  assert.ok(Date.now() - began < 1000, `stop took ${Date.now() - began} ms`);
  assert.equal(kubelet.actor.getSnapshot().value, 'Stopped');
});

test('a kubelet started before NATS keeps trying and registers once NATS and the API server are up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kubelet-early-'));
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  let api: ApiServer | undefined;
  let kubelet: Kubelet | undefined;
  // The kubelet first, while NATS is there; then the rest.
  t.after(async () => {
    await kubelet?.stop();
    await api?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const starting = startKubelet({ nats: [url], nodeName: 'early-1', runtime: new FakeRuntime(), heartbeatMs: 200, bucket: 'kubelet-node' });
  starting.then((k) => (kubelet = k)).catch(() => undefined);
  const early = await Promise.race([starting.then(() => 'started', (e: Error) => `failed: ${e.message}`), new Promise((r) => setTimeout(() => r('waiting'), 1_500))]);
  assert.equal(early, 'waiting', 'with no NATS server the kubelet neither fails nor pretends to be up');
  nats = await startNatsServer({ dataDir: dir, port });
  api = await startApiServer({ nats: [url], port: 0, host: '127.0.0.1', bucket: 'kubelet-node' });
  kubelet = await starting;
  const client = new KeelsonClient(await connectNats([url], 'test-client'));
  try {
    const node = await client.get('Node', undefined, 'early-1');
    assert.equal(condition(node, 'Ready').status, 'True');
  } finally {
    await client.close();
  }
});
