/**
 * End to end with the real Docker engine: a `keelson up` control plane (no nodes
 * of its own), one kubelet on the docker runtime with a short crash back-off, and
 * the real kubectl on PATH. A crashing busybox container is restarted after
 * growing waits, and kubectl shows it the way Kubernetes does; `kubectl exec`
 * (1.32, WebSocket v5.channel.k8s.io) runs commands with their output, exit
 * code and stdin.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { DockerRuntime, Labels } from '../../services/kubelet/runtime/index.js';
import { parseTable, startCluster, type TestCluster } from './kubectl.js';

const NS = 'e2e-docker';
const NODE = 'e2e-docker-node';
/** A network of its own: another test file removing `keelson-test` cannot pull it away. */
const NETWORK = 'keelson-e2e';
/** The keelson command from source (a stale dist/ must not be what is tested). */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../services/cli/main.ts')];
/** 1 s doubling to 8 s: four starts within ~8 s (Kubernetes would take 70 s). */
const CRASH_BACK_OFF = { initialMs: 1_000, maxMs: 8_000 };

type Instance = { attempt: number; startedAt: number; finishedAt: number };

describe('kubectl with a docker node', () => {
  let c: TestCluster;
  let runtime: DockerRuntime | undefined;
  let kubelet: Kubelet | undefined;
  const docker = new Docker();

  const kubectlJson = <T>(args: string[]) => c.json<T>([...args, '-n', NS]);

  before(async () => {
    c = await startCluster();
    const dataDir = join(c.dir, 'node');
    mkdirSync(dataDir);
    runtime = await DockerRuntime.connect({ dataDir, network: NETWORK, nodeName: NODE });
    kubelet = await startKubelet({ nats: await c.node(NODE), nodeName: NODE, runtime, heartbeatMs: 500, crashBackOff: CRASH_BACK_OFF });
    await c.ok(['create', 'namespace', NS]);
  });
  after(async () => {
    await kubelet?.stop().catch(() => undefined);
    // Whatever the test left behind, pass or fail: every container of its namespace.
    for (const x of await docker.listContainers({ all: true, filters: { label: [`${Labels.namespace}=${NS}`] } })) {
      await docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined);
    }
    await runtime?.close().catch(() => undefined);
    await docker.getNetwork(NETWORK).remove().catch(() => undefined);
    await c?.stop();
  });

  /** Every instance of one container, oldest first, with the engine's own times. */
  const instances = async (uid: string, container: string): Promise<Instance[]> => {
    const list = await docker.listContainers({ all: true, filters: { label: [`${Labels.podUid}=${uid}`, `${Labels.container}=${container}`] } });
    const out = await Promise.all(
      list.map(async (x) => {
        const info = await docker.getContainer(x.Id).inspect();
        return { attempt: Number(x.Labels[Labels.attempt]), startedAt: Date.parse(info.State.StartedAt), finishedAt: Date.parse(info.State.FinishedAt) };
      }),
    );
    return out.sort((a, b) => a.attempt - b.attempt);
  };

  test('a crashing container restarts after growing waits; get pods shows CrashLoopBackOff; logs --previous', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crasher', namespace: NS },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo boom; exit 1'] }],
      },
    };
    await c.ok(['create', '-f', '-'], { stdin: JSON.stringify(pod) });

    // Four starts: the first, then after 1 s, 2 s and 4 s. The fourth exit leaves an 8 s wait to look in.
    type PodJson = { metadata: { uid: string }; status?: { containerStatuses?: { restartCount: number }[] } };
    const deadline = Date.now() + 30_000;
    let seen: PodJson;
    for (;;) {
      seen = await kubectlJson<PodJson>(['get', 'pod', 'crasher']);
      if ((seen.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 4) break;
      assert.ok(Date.now() < deadline, `restartCount did not reach 4: ${JSON.stringify(seen.status)}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const table = parseTable(await c.ok(['get', 'pods', '-n', NS]));
    assert.deepEqual(table.columns, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    const row = table.rows.find((r) => r.NAME === 'crasher');
    assert.ok(row, JSON.stringify(table.rows));
    assert.equal(row.READY, '0/1');
    assert.equal(row.STATUS, 'CrashLoopBackOff');
    const restarts = /^(\d+)( \(\S+ ago\))?$/.exec(row.RESTARTS);
    assert.ok(restarts, `RESTARTS column: ${row.RESTARTS}`);
    assert.ok(Number(restarts[1]) >= 2, `RESTARTS ${row.RESTARTS}`);

    const previous = await c.ok(['logs', 'crasher', '-n', NS, '--previous']);
    assert.equal(previous, 'boom\n');

    // The waits between one instance's exit and the next one's start grow: at least
    // 1 s, 2 s, 4 s, plus what noticing the exit and creating the next container take
    // (no upper bound: on a loaded machine that alone can take seconds).
    const runs = await instances(seen.metadata.uid, 'main');
    assert.ok(runs.length >= 4, `instances: ${JSON.stringify(runs)}`);
    const waits = runs.slice(1, 4).map((r, i) => r.startedAt - runs[i]!.finishedAt);
    [1_000, 2_000, 4_000].forEach((backOff, i) => {
      // Docker's timestamps and ours differ by a few ms.
      assert.ok(waits[i]! >= backOff - 50, `wait ${i + 1} should be at least ${backOff} ms: ${waits.join(', ')} ms`);
    });
    assert.ok(waits[0]! < waits[1]! && waits[1]! < waits[2]!, `waits do not grow: ${waits.join(', ')} ms`);

    await c.ok(['delete', 'pod', 'crasher', '-n', NS, '--grace-period=0', '--force']);
  });

  test('kill -9 of a `keelson kubelet` process: started again, it adopts the running container instead of restarting it', async (t) => {
    const node = `${NODE}-cli`;
    const dataDir = join(c.dir, 'cli-node');
    const children: ChildProcess[] = [];
    t.after(() => children.forEach((k) => k.exitCode === null && k.kill('SIGKILL')));
    const startCli = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [...CLI, 'kubelet', '--join', c.cluster.joinFilePath, '--name', node, '--runtime', 'docker', '--data-dir', dataDir, '--heartbeat-ms', '500'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`keelson kubelet did not register within 30 s:\n${out}`)), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('registered')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`keelson kubelet exited (${code}):\n${out}`)));
      });
      return child;
    };

    const first = await startCli();
    const overrides = JSON.stringify({ spec: { nodeName: node, terminationGracePeriodSeconds: 1 } });
    await c.ok(['-n', NS, 'run', 'survivor', '--image=busybox', '--image-pull-policy=Never', `--overrides=${overrides}`, '--', 'sleep', '3600']);
    await c.ok(['-n', NS, 'wait', '--for=condition=Ready', 'pod/survivor', '--timeout=30s']);
    const uid = (await kubectlJson<{ metadata: { uid: string } }>(['get', 'pod', 'survivor'])).metadata.uid;
    const [main] = await docker.listContainers({ filters: { label: [`${Labels.podUid}=${uid}`, `${Labels.container}=survivor`] } });
    assert.ok(main, 'the container runs');
    const startedAt = (await docker.getContainer(main.Id).inspect()).State.StartedAt;

    first.kill('SIGKILL');
    await new Promise((r) => (first.exitCode !== null ? r(undefined) : first.once('exit', r)));
    assert.equal((await docker.getContainer(main.Id).inspect()).State.Running, true, 'the container outlives its kubelet');

    await startCli();
    // Give the new kubelet time to sync the pod (it reports status at once on adoption).
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await docker.getContainer(main.Id).inspect();
    assert.equal(after.State.Running, true);
    assert.equal(after.State.StartedAt, startedAt, 'not restarted');
    const pod = await kubectlJson<{ status: { phase: string; containerStatuses: { restartCount: number; ready: boolean }[] } }>(['get', 'pod', 'survivor']);
    assert.equal(pod.status.phase, 'Running');
    assert.equal(pod.status.containerStatuses[0]!.restartCount, 0);
    assert.equal(pod.status.containerStatuses[0]!.ready, true);

    // The new kubelet owns it: a delete stops and removes the containers.
    await c.ok(['-n', NS, 'delete', 'pod', 'survivor', '--timeout=20s']);
    assert.equal((await docker.listContainers({ all: true, filters: { label: [`${Labels.podUid}=${uid}`] } })).length, 0, 'containers removed');
  });

  describe('kubectl exec', () => {
    before(async () => {
      const overrides = JSON.stringify({ spec: { nodeName: NODE } });
      await c.ok(['-n', NS, 'run', 'box', '--image=busybox', '--image-pull-policy=Never', `--overrides=${overrides}`, '--', 'sleep', '3600']);
      await c.ok(['-n', NS, 'wait', '--for=condition=Ready', 'pod/box', '--timeout=30s']);
    });

    test('runs a command in the container and prints its output', async () => {
      const out = await c.ok(['-n', NS, 'exec', 'box', '--', 'sh', '-c', 'echo "hello from $(hostname)"; tr "\\0" " " < /proc/1/cmdline']);
      assert.match(out, /^hello from box\n/);
      assert.match(out, /sleep 3600/);
    });

    test("the command's exit code becomes kubectl's", async () => {
      const r = await c.run(['-n', NS, 'exec', 'box', '--', 'sh', '-c', 'echo to-stderr >&2; exit 7']);
      assert.equal(r.code, 7);
      assert.match(r.stderr, /to-stderr/);
      assert.match(r.stderr, /command terminated with exit code 7/);
    });

    test('stdin reaches the command with -i', async () => {
      const out = await c.ok(['-n', NS, 'exec', '-i', 'box', '--', 'wc', '-l'], { stdin: 'a\nb\nc\n' });
      assert.equal(out.trim(), '3');
    });

    test('an unknown container or pod is an error, not a hang', async () => {
      const badContainer = await c.run(['-n', NS, 'exec', 'box', '-c', 'sidecar', '--', 'true']);
      assert.notEqual(badContainer.code, 0);
      assert.match(badContainer.stderr, /container sidecar is not valid for pod box/);
      const badPod = await c.run(['-n', NS, 'exec', 'nope', '--', 'true']);
      assert.notEqual(badPod.code, 0);
      assert.match(badPod.stderr, /pods "nope" not found/);
    });
  });
});
