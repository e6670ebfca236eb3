/**
 * The docker runtime against the real engine, with the offline busybox image
 * (scripts/build-images.sh builds it when missing). Each run uses a network, node
 * names and data dirs of its own and removes every container, network and folder it made.
 */
import { readAll, sh } from '../harness/runtime.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import {
  DockerRuntime,
  isContainerNotFound,
  isImagePullError,
  Labels,
  type Container,
  type Pod,
  type RuntimeEvent,
  type Volume,
} from '../../services/kubelet/runtime/index.js';

const run = randomUUID().slice(0, 8);
const NETWORK = `keelson-test-${run}`;
/** Two kubelets' nodes on the one engine, as `keelson up --nodes 2` runs them. */
const NODE = `rt-node-a-${run}`;
const OTHER_NODE = `rt-node-b-${run}`;

function makePod(name: string, containers: Container[], volumes: Volume[] = []): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${name}-${run}`, namespace: 'rt-test', uid: randomUUID() },
    spec: { containers, volumes },
  };
}

// The docker runtime is tested against a real engine or not at all: no engine
// is a failure (scripts/setup.sh installs and starts one), never a silent skip.
describe('docker runtime', () => {
  before(async () => {
    const engine = await DockerRuntime.connect({ dataDir: tmpdir() }).catch((e: Error) => e);
    if (engine instanceof Error) throw new Error(`no Docker engine answers (run scripts/setup.sh): ${engine.message}`);
    await engine.close();
  });

  let rt: DockerRuntime;
  // Unset until the before hooks ran (after() checks, so that it also cleans up after them).
  let docker: Docker;
  let dataDir: string;
  const foreign: string[] = [];
  const events: RuntimeEvent[] = [];
  let unsubscribe = () => {};

  /** Resolves with the first event of `runtime` (already in `seen` or yet to come) that matches. */
  function eventFor(match: (e: RuntimeEvent) => boolean, timeoutMs = 15_000, runtime = rt, seen = events): Promise<RuntimeEvent> {
    const found = seen.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => (off(), fail(new Error('timed out waiting for a runtime event'))), timeoutMs);
      const off = runtime.events((e) => {
        if (match(e)) {
          clearTimeout(timer);
          off();
          ok(e);
        }
      });
    });
  }

  /** Sandbox + containers, started in order; the pod is removed after the run. */
  async function runPod(pod: Pod, start = true, runtime = rt): Promise<{ sandbox: { id: string; ip: string }; ids: string[] }> {
    const sandbox = await runtime.createSandbox(pod);
    const ids: string[] = [];
    for (const c of pod.spec.containers) {
      await runtime.ensureImage(c.image!, 'IfNotPresent');
      const id = await runtime.createContainer(pod, c, sandbox);
      if (start) await runtime.startContainer(id);
      ids.push(id);
    }
    return { sandbox, ids };
  }

  const exitOf = (id: string) => eventFor((e) => e.id === id && e.type === 'exited');

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keelson-docker-rt-'));
    rt = await DockerRuntime.connect({ dataDir, network: NETWORK, nodeName: NODE });
    docker = rt.client;
    if (!(await docker.getImage('busybox:latest').inspect().catch(() => undefined))) {
      execFileSync('bash', ['scripts/build-images.sh', 'busybox'], { stdio: 'inherit' });
    }
    unsubscribe = rt.events((e) => events.push(e));
  });

  // Runs even when a test (or a before hook) failed: every container of this run's
  // nodes goes, found by label, whatever the tests left behind.
  after(async () => {
    unsubscribe();
    if (docker) {
      const d = docker;
      for (const node of [NODE, OTHER_NODE]) {
        const left = await d.listContainers({ all: true, filters: { label: [`${Labels.node}=${node}`] } }).catch(() => []);
        for (const c of left) await d.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {});
      }
      for (const id of foreign) await d.getContainer(id).remove({ force: true }).catch(() => {});
      await d.getNetwork(NETWORK).remove().catch(() => {});
    }
    await rt?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('containers of a pod share localhost; labels, names and pod IP', async () => {
    const pod = makePod('web', [
      sh('server', 'mkdir -p /www && echo hello-from-server > /www/index.html && exec httpd -f -p 8080 -h /www'),
      sh('client', 'for i in $(seq 1 50); do wget -qO- http://localhost:8080/index.html && exit 0; sleep 0.1; done; exit 1'),
    ]);
    const { sandbox, ids } = await runPod(pod);
    const [server, client] = ids as [string, string];
    const exited = await exitOf(client);
    assert.equal(exited.exitCode, 0);
    assert.equal(await readAll(await rt.logs(client)), 'hello-from-server\n');

    const info = await docker.getContainer(server).inspect();
    assert.equal(info.Config.Labels[Labels.podUid], pod.metadata.uid);
    assert.equal(info.Config.Labels[Labels.podName], pod.metadata.name);
    assert.equal(info.Config.Labels[Labels.namespace], 'rt-test');
    assert.equal(info.Config.Labels[Labels.container], 'server');
    assert.equal(info.Config.Labels[Labels.node], NODE);
    assert.equal(info.HostConfig.NetworkMode, `container:${sandbox.id}`);
    assert.equal(info.Name, `/k8s_server_${pod.metadata.name}_rt-test_${pod.metadata.uid.replace(/-/g, '').slice(0, 8)}_0`);
    const sb = await docker.getContainer(sandbox.id).inspect();
    assert.equal(sb.Config.Labels[Labels.container], 'POD');
    assert.equal(sb.Config.Labels[Labels.node], NODE);
    assert.match(sandbox.ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(sb.NetworkSettings.Networks[NETWORK]?.IPAddress, sandbox.ip);

    const started = await eventFor((e) => e.id === server && e.type === 'started');
    assert.equal(started.podUid, pod.metadata.uid);
    assert.equal(started.container, 'server');
  });

  test('an emptyDir is shared by the containers of a pod (subPath, readOnly)', async () => {
    const pod = makePod(
      'share',
      [
        sh('writer', 'mkdir -p /data/sub && echo written-by-writer > /data/sub/msg', { volumeMounts: [{ name: 'scratch', mountPath: '/data' }] }),
        sh('reader', 'for i in $(seq 1 50); do [ -f /in/msg ] && break; sleep 0.1; done; cat /in/msg; touch /in/x 2>/dev/null || echo read-only', {
          volumeMounts: [{ name: 'scratch', mountPath: '/in', subPath: 'sub', readOnly: true }],
        }),
      ],
      [{ name: 'scratch', emptyDir: {} }],
    );
    const { ids } = await runPod(pod);
    await exitOf(ids[1]!);
    assert.equal(await readAll(await rt.logs(ids[1]!)), 'written-by-writer\nread-only\n');
  });

  test('a container without the Keelson labels is never listed or touched', async () => {
    const plain = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'], name: `plain-${run}` });
    // One label is not enough: all four identity labels are required.
    const partial = await docker.createContainer({
      Image: 'busybox:latest',
      Cmd: ['sleep', '300'],
      name: `partial-${run}`,
      Labels: { [Labels.podUid]: `foreign-${run}` },
    });
    foreign.push(plain.id, partial.id);
    await plain.start();
    await partial.start();

    const listed = (await rt.listManaged()).map((c) => c.id);
    assert.ok(!listed.includes(plain.id) && !listed.includes(partial.id));
    for (const id of [plain.id, partial.id]) {
      await assert.rejects(rt.stopContainer(id, 0), isContainerNotFound);
      await assert.rejects(rt.removeContainer(id), isContainerNotFound);
      await assert.rejects(rt.logs(id), isContainerNotFound);
      await assert.rejects(rt.exec(id, ['true']), isContainerNotFound);
    }
    await rt.removeSandbox(`foreign-${run}`);
    for (const c of [plain, partial]) assert.equal((await c.inspect()).State.Running, true);
  });

  test('two nodes on one engine: each runtime lists, hears and touches only its own containers', async () => {
    const other = await DockerRuntime.connect({ dataDir: join(dataDir, 'other-node'), network: NETWORK, nodeName: OTHER_NODE });
    const otherEvents: RuntimeEvent[] = [];
    const offOther = other.events((e) => otherEvents.push(e));
    try {
      // Node A's pod: one container that exits at once, one that keeps running.
      const aPod = makePod('node-a', [sh('quick', 'exit 0'), sh('main', 'exec sleep 300')]);
      const a = await runPod(aPod);
      const [aQuick, aMain] = a.ids as [string, string];
      await exitOf(aQuick);
      // Node B's pod starts after A's container exited: once B hears its own start,
      // its (ordered) event stream is past A's events.
      const bPod = makePod('node-b', [sh('main', 'exec sleep 300')]);
      const b = await runPod(bPod, true, other);
      const bMain = b.ids[0]!;
      await eventFor((e) => e.id === bMain && e.type === 'started', 15_000, other, otherEvents);
      // And A hears its own container stop, which comes after B's start.
      await rt.stopContainer(aMain, 0);
      await exitOf(aMain);

      const aIds = [a.sandbox.id, ...a.ids];
      const bIds = [b.sandbox.id, ...b.ids];
      assert.equal((await docker.getContainer(bMain).inspect()).Config.Labels[Labels.node], OTHER_NODE);
      const listedA = (await rt.listManaged()).map((c) => c.id);
      const listedB = (await other.listManaged()).map((c) => c.id);
      assert.deepEqual(listedB.sort(), [...bIds].sort());
      for (const id of aIds) assert.ok(listedA.includes(id), `node A lists its ${id.slice(0, 12)}`);
      for (const id of bIds) assert.ok(!listedA.includes(id), `node A does not list node B's ${id.slice(0, 12)}`);

      assert.ok(otherEvents.length > 0 && otherEvents.every((e) => !aIds.includes(e.id)), "node B hears none of node A's events");
      assert.ok(events.some((e) => e.id === aMain) && events.every((e) => !bIds.includes(e.id)), "node A hears none of node B's events");

      for (const [runtime, id] of [[rt, bMain], [rt, b.sandbox.id], [other, aQuick]] as const) {
        await assert.rejects(runtime.stopContainer(id, 0), isContainerNotFound);
        await assert.rejects(runtime.startContainer(id), isContainerNotFound);
        await assert.rejects(runtime.removeContainer(id), isContainerNotFound);
        await assert.rejects(runtime.logs(id), isContainerNotFound);
        await assert.rejects(runtime.exec(id, ['true']), isContainerNotFound);
      }
      // Orphan cleanup by pod uid on one node leaves the other node's containers alone.
      await rt.removeSandbox(bPod.metadata.uid);
      for (const id of bIds) assert.equal((await docker.getContainer(id).inspect()).State.Running, true);
      await other.removeSandbox(aPod.metadata.uid);
      assert.equal((await docker.getContainer(a.sandbox.id).inspect()).State.Running, true);
      await other.removeSandbox(bPod.metadata.uid);
      assert.deepEqual(await other.listManaged(), []);
      await rt.removeSandbox(aPod.metadata.uid);
    } finally {
      offOther();
      await other.close();
    }
  });

  test('command and args follow Kubernetes semantics', async () => {
    const pod = makePod('cmd', [
      { name: 'args-only', image: 'busybox', args: ['echo', 'args replace CMD'] },
      { name: 'command-only', image: 'busybox', command: ['echo', 'command drops CMD'] },
      { name: 'both', image: 'busybox', command: ['sh', '-c'], args: ['echo "$0 $GREETING" from $(pwd)'], env: [{ name: 'GREETING', value: 'hi' }], workingDir: '/tmp' },
    ]);
    const { ids } = await runPod(pod);
    for (const id of ids) await exitOf(id);
    const logs = await Promise.all(ids.map(async (id) => readAll(await rt.logs(id))));
    assert.deepEqual(logs, ['args replace CMD\n', 'command drops CMD\n', 'sh hi from /tmp\n']);
  });

  test('logs: order, tail, timestamps, follow, and an exited container', async () => {
    const pod = makePod('logs', [
      sh('done', 'echo one; echo two >&2; echo three; exit 5'),
      sh('live', 'echo a; sleep 1; echo b'),
    ]);
    const { ids } = await runPod(pod);
    const [done, live] = ids as [string, string];
    const following = readAll(await rt.logs(live, { follow: true }));
    const exited = await exitOf(done);
    assert.equal(exited.exitCode, 5);

    // Both streams, each in order. (Across streams the engine itself can swap lines
    // written microseconds apart: it reads stdout and stderr separately.)
    const all = await readAll(await rt.logs(done));
    assert.deepEqual(all.split('\n').sort(), ['', 'one', 'three', 'two']);
    assert.match(all, /one\n(.*\n)?three\n/);
    const last = (await readAll(await rt.logs(done, { tailLines: 1 }))).split('\n');
    assert.equal(last.length, 2);
    assert.ok(all.endsWith(`${last[0]}\n`));
    const stamped = (await readAll(await rt.logs(done, { timestamps: true }))).trim().split('\n');
    assert.equal(stamped.length, 3);
    for (const line of stamped) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (one|two|three)$/);
    assert.equal(await readAll(await rt.logs(done, { sinceSeconds: 3600 })), all);
    // follow ends by itself when the container exits
    assert.equal(await following, 'a\nb\n');

    const managed = (await rt.listManaged()).find((c) => c.id === done)!;
    assert.equal(managed.state, 'exited');
    assert.equal(managed.exitCode, 5);
    assert.equal(managed.reason, 'Error');
    assert.ok(managed.startedAt && managed.finishedAt);
  });

  test('exec returns output and the exit code; stdin reaches the command', async () => {
    const { ids } = await runPod(makePod('exec', [sh('main', 'exec sleep 300')]));
    const session = await rt.exec(ids[0]!, ['sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    const [out, err, code] = await Promise.all([readAll(session.stdout), readAll(session.stderr), session.exitCode]);
    assert.deepEqual([out, err, code], ['hi\n', 'oops\n', 3]);

    const cat = await rt.exec(ids[0]!, ['cat'], { stdin: true });
    const catOut = readAll(cat.stdout);
    cat.stdin!.end('piped through\n');
    assert.equal(await catOut, 'piped through\n');
    assert.equal(await cat.exitCode, 0);
  });

  test('stopContainer: SIGTERM first, SIGKILL only after the grace period', async () => {
    const { ids } = await runPod(
      makePod('stop', [
        sh('graceful', 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'),
        sh('stubborn', 'trap "echo ignoring-term" TERM; echo ready; while :; do sleep 0.1; done'),
      ]),
    );
    const [graceful, stubborn] = ids as [string, string];
    await new Promise((ok) => setTimeout(ok, 300)); // let the shells install their traps

    let t0 = Date.now();
    await rt.stopContainer(graceful, 10);
    assert.ok(Date.now() - t0 < 5000, 'a container that exits on SIGTERM is not held for the whole grace period');
    assert.equal((await exitOf(graceful)).exitCode, 0);
    assert.match(await readAll(await rt.logs(graceful)), /got-term/);

    t0 = Date.now();
    await rt.stopContainer(stubborn, 2);
    const took = Date.now() - t0;
    assert.ok(took >= 1900, `SIGKILL came after ${took} ms, before the 2 s grace period`);
    assert.equal((await exitOf(stubborn)).exitCode, 137);
    assert.match(await readAll(await rt.logs(stubborn)), /ignoring-term/);
    await rt.stopContainer(stubborn, 2); // stopping an exited container is a no-op
  });

  test('a hostPort is published on the sandbox and reaches the container', async () => {
    const hostPort = 20_000 + Math.floor(Math.random() * 20_000);
    const pod = makePod('ports', [
      sh('server', 'mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www', {
        ports: [{ containerPort: 8080, hostPort, hostIP: '127.0.0.1' }],
      }),
    ]);
    const { sandbox, ids } = await runPod(pod);
    const sb = await docker.getContainer(sandbox.id).inspect();
    assert.deepEqual(sb.HostConfig.PortBindings['8080/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }]);
    const recorded = (await docker.getContainer(ids[0]!).inspect()).Config.Labels[Labels.ports];
    assert.deepEqual(JSON.parse(recorded!), pod.spec.containers[0]!.ports);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then((r) => r.text(), () => '');
      if (!body) await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(body, 'via-host-port\n');
  });

  test('resource limits become Memory and NanoCpus', async () => {
    const pod = makePod('limits', [
      sh('main', 'sleep 1', { resources: { limits: { memory: '32Mi', cpu: '250m' }, requests: { cpu: '100m' } } }),
    ]);
    const { ids } = await runPod(pod, false);
    const host = (await docker.getContainer(ids[0]!).inspect()).HostConfig;
    assert.equal(host.Memory, 32 * 1024 * 1024);
    assert.equal(host.NanoCpus, 250_000_000);
    assert.equal(host.CpuShares, 102);
  });

  test('ensureImage: a missing image fails fast with ErrImagePull; Never gives ErrImageNeverPull', async () => {
    const image = `keelson-test/missing-${run}:1.0`;
    const t0 = Date.now();
    await assert.rejects(rt.ensureImage(image, 'IfNotPresent'), (err) => {
      assert.ok(isImagePullError(err));
      assert.equal(err.reason, 'ErrImagePull');
      assert.match(err.message, new RegExp(`Failed to pull image "${image}"`));
      assert.match(err.message, /build-images\.sh/);
      return true;
    });
    assert.ok(Date.now() - t0 < 15_000, 'the pull gave up quickly');
    await assert.rejects(rt.ensureImage(image, 'Never'), (err) => isImagePullError(err) && err.reason === 'ErrImageNeverPull');
    // Offline, `Always` falls back to the image that is present.
    const { imageID } = await rt.ensureImage('busybox');
    assert.match(imageID, /^sha256:/);
    assert.ok((await rt.listImages()).some((i) => i.names.includes('busybox:latest') && i.sizeBytes > 0));
  });

  test('a new runtime instance (kubelet restart) finds the running containers; removeSandbox clears the pod', async () => {
    const pod = makePod('adopt', [sh('main', 'exec sleep 300')], [{ name: 'cache', emptyDir: {} }]);
    const { sandbox, ids } = await runPod(pod);
    const restarted = await DockerRuntime.connect({ dataDir, network: NETWORK, nodeName: NODE });
    try {
      const mine = (await restarted.listManaged()).filter((c) => c.podUid === pod.metadata.uid);
      const main = mine.find((c) => c.container === 'main')!;
      const sb = mine.find((c) => c.kind === 'sandbox')!;
      assert.equal(mine.length, 2);
      assert.deepEqual(
        { id: main.id, state: main.state, podName: main.podName, namespace: main.namespace, attempt: main.attempt, sandboxId: main.sandboxId },
        { id: ids[0], state: 'running', podName: pod.metadata.name, namespace: 'rt-test', attempt: 0, sandboxId: sandbox.id },
      );
      assert.equal(main.image, 'busybox:latest');
      assert.match(main.imageID, /^sha256:/);
      assert.ok(main.startedAt);
      assert.deepEqual({ id: sb.id, container: sb.container, ip: sb.ip }, { id: sandbox.id, container: 'POD', ip: sandbox.ip });
      // The same pod's sandbox is reused, not duplicated.
      assert.equal((await restarted.createSandbox(pod)).id, sandbox.id);

      const volume = join(dataDir, 'pods', pod.metadata.uid);
      assert.ok(existsSync(volume));
      await restarted.removeSandbox(pod.metadata.uid);
      assert.equal((await restarted.listManaged()).filter((c) => c.podUid === pod.metadata.uid).length, 0);
      assert.ok(!existsSync(volume));
    } finally {
      await restarted.close();
    }
  });
});
