/**
 * The fake runtime: the container lifecycle a hollow node pretends to run, its
 * test hooks, and that a thousand of them fit in one process without timers.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { FakeRuntime, isImagePullError, isContainerNotFound, type Container, type Pod, type RuntimeEvent } from '../../services/kubelet/runtime/index.js';

let uids = 0;
function makePod(name: string, containers: Container[] = [{ name: 'main', image: 'busybox:1.36' }]): Pod {
  return { metadata: { name, namespace: 'ns', uid: `uid-${++uids}` }, spec: { containers } };
}

async function readAll(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

/** Lets queued microtasks (event delivery) run. */
const flush = () => new Promise((ok) => setImmediate(ok));

test('containers run at once and exit only when told', async () => {
  const rt = new FakeRuntime();
  const events: RuntimeEvent[] = [];
  rt.events((e) => events.push(e));
  const pod = makePod('web');
  const sandbox = await rt.createSandbox(pod);
  assert.match(sandbox.ip, /^10\.\d+\.\d+\.\d+$/);
  assert.equal((await rt.createSandbox(pod)).id, sandbox.id, 'a running sandbox is reused');
  const id = await rt.createContainer(pod, pod.spec.containers[0]!, sandbox);
  assert.equal((await rt.listManaged()).find((c) => c.id === id)?.state, 'created');
  await rt.startContainer(id);
  await flush();
  assert.deepEqual(
    events.map((e) => [e.container, e.type]),
    [
      ['POD', 'started'],
      ['main', 'started'],
    ],
  );

  const c = (await rt.listManaged()).find((x) => x.id === id)!;
  assert.deepEqual([c.state, c.podName, c.namespace, c.attempt, c.image, c.sandboxId], ['running', 'web', 'ns', 0, 'busybox:1.36', sandbox.id]);

  const follow = readAll(await rt.logs(id, { follow: true }));
  rt.exit(id, 3);
  await flush();
  assert.deepEqual(events.at(-1), { id, podUid: pod.metadata.uid, container: 'main', type: 'exited', exitCode: 3, at: events.at(-1)!.at });
  assert.equal(await follow, 'fake runtime: ns/web main started\n', 'follow ends when the container exits');
  const after = (await rt.listManaged()).find((x) => x.id === id)!;
  assert.deepEqual([after.state, after.exitCode, after.reason], ['exited', 3, 'Error']);
  assert.match(await readAll(await rt.logs(id, { timestamps: true })), /^\d{4}-.*Z fake runtime/);

  // A second instance of the same container gets the next attempt.
  const again = await rt.createContainer(pod, pod.spec.containers[0]!, sandbox);
  assert.equal((await rt.listManaged()).find((x) => x.id === again)?.attempt, 1);
});

test('stop, oom, exec, remove', async () => {
  const rt = new FakeRuntime({ exec: (_c, cmd) => ({ stdout: `ran ${cmd[0]}\n`, exitCode: cmd[0] === 'false' ? 1 : 0 }) });
  const events: RuntimeEvent[] = [];
  rt.events((e) => events.push(e));
  const pod = makePod('p', [
    { name: 'a', image: 'x' },
    { name: 'b', image: 'x' },
  ]);
  const sandbox = await rt.createSandbox(pod);
  const [a, b] = await Promise.all(pod.spec.containers.map((c) => rt.createContainer(pod, c, sandbox)));
  await rt.startContainer(a!);
  await rt.startContainer(b!);

  const s = await rt.exec(a!, ['false']);
  assert.equal(await readAll(s.stdout), 'ran false\n');
  assert.equal(await s.exitCode, 1);

  await rt.stopContainer(a!, 30);
  rt.oom(b!);
  await flush();
  const byId = new Map((await rt.listManaged()).map((c) => [c.id, c]));
  assert.deepEqual([byId.get(a!)?.exitCode, byId.get(b!)?.exitCode, byId.get(b!)?.reason], [143, 137, 'OOMKilled']);
  assert.deepEqual(
    events.filter((e) => e.id === b).map((e) => e.type),
    ['started', 'oom', 'exited'],
  );
  await assert.rejects(rt.exec(a!, ['true']), /not running/);

  await rt.removeSandbox(pod.metadata.uid);
  assert.equal(rt.size, 0);
  await assert.rejects(rt.logs(a!), isContainerNotFound);
});

test('ensureImage: present, pulled, failing and Never', async () => {
  const rt = new FakeRuntime({ images: ['pause'], failPull: (image) => (image.startsWith('private/') ? 'unauthorized' : undefined) });
  assert.deepEqual(await rt.ensureImage('busybox:1.36'), { imageID: 'fake://busybox:1.36' });
  await assert.rejects(rt.ensureImage('private/app:1'), (e) => isImagePullError(e) && e.reason === 'ErrImagePull' && /unauthorized/.test(e.message));
  await assert.rejects(rt.ensureImage('nginx:1', 'Never'), (e) => isImagePullError(e) && e.reason === 'ErrImageNeverPull');
  assert.deepEqual((await rt.listImages()).map((i) => i.names[0]).sort(), ['busybox:1.36', 'pause:latest']);
});

test('a thousand hollow nodes with ten pods each: no timers, little memory', async () => {
  const handlesBefore = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const nodes = Array.from({ length: 1000 }, () => new FakeRuntime());
  let started = 0;
  for (const rt of nodes) {
    rt.events((e) => void (e.type === 'started' && started++));
    for (let i = 0; i < 10; i++) {
      const pod = makePod(`p${i}`);
      const sandbox = await rt.createSandbox(pod);
      await rt.startContainer(await rt.createContainer(pod, pod.spec.containers[0]!, sandbox));
    }
  }
  await flush();
  const ms = performance.now() - t0;
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  assert.equal(started, 1000 * 10 * 2); // a sandbox and a container per pod
  assert.equal((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length, handlesBefore, 'no timers or handles per container');
  assert.ok(heapMb < 100, `20,000 fake containers took ${heapMb.toFixed(1)} MB of heap`);
  assert.ok(ms < 10_000, `20,000 fake containers took ${ms.toFixed(0)} ms`);
  const ips = new Set((await Promise.all(nodes.map((rt) => rt.listManaged()))).flat().filter((c) => c.ip).map((c) => c.ip));
  assert.equal(ips.size, 10_000, 'pod IPs are unique across nodes');
  await Promise.all(nodes.map((rt) => rt.close()));
});
