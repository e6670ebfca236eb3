/**
 * The process runtime on this host: real child processes, CRI log files, and
 * adoption of running processes by a new runtime instance (a kubelet restart).
 * Every test removes its pods and its data dir; any process left over is killed.
 */
import { readAll, sh } from '../harness/runtime.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  isRuntimeError,
  ProcessRuntime,
  type Container,
  type Pod,
  type RuntimeEvent,
} from '../../services/kubelet/runtime/index.js';

function makePod(name: string, containers: Container[]): Pod {
  return { metadata: { name, namespace: 'rt-test', uid: randomUUID() }, spec: { containers } };
}

/** Alive and not a zombie (a killed child stays one until it is reaped). */
const isRunning = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** A data dir and runtime(s) that are cleaned up whatever happens. */
async function setup(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'keelson-process-rt-'));
  const runtimes: ProcessRuntime[] = [];
  const pids = new Set<number>();
  const events: RuntimeEvent[] = [];
  const waiters = new Set<() => void>();
  const open = async () => {
    const rt = await ProcessRuntime.open({ dataDir });
    rt.events((e) => {
      events.push(e);
      for (const w of waiters) w();
    });
    runtimes.push(rt);
    return rt;
  };
  t.after(async () => {
    const last = runtimes.at(-1);
    if (last) {
      for (const c of await last.listManaged()) await last.removeSandbox(c.podUid);
    }
    for (const rt of runtimes) await rt.close();
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const rt = await open();
  const start = async (runtime: ProcessRuntime, pod: Pod) => {
    const sandbox = await runtime.createSandbox(pod);
    const ids: string[] = [];
    for (const c of pod.spec.containers) {
      const id = await runtime.createContainer(pod, c, sandbox);
      await runtime.startContainer(id);
      ids.push(id);
    }
    for (const c of await runtime.listManaged()) if (c.state === 'running' && c.kind === 'container') pids.add(pidOf(dataDir, c.id));
    return { sandbox, ids };
  };
  const exitOf = (id: string, timeoutMs = 10_000) =>
    new Promise<RuntimeEvent>((ok, fail) => {
      const timer = setTimeout(() => (waiters.delete(check), fail(new Error(`no exit event for ${id}`))), timeoutMs);
      const check = () => {
        const e = events.find((x) => x.id === id && x.type === 'exited');
        if (!e) return;
        clearTimeout(timer);
        waiters.delete(check);
        ok(e);
      };
      waiters.add(check);
      check();
    });
  return { dataDir, rt, open, start, exitOf, events };
}

/** The PID the runtime recorded (from its state file). */
function pidOf(dataDir: string, id: string): number {
  const state = JSON.parse(readFileSync(join(dataDir, 'process', 'state.json'), 'utf8')) as { records: { id: string; pid: number }[] };
  return state.records.find((r) => r.id === id)!.pid;
}

test('runs command + args with env and workingDir; events carry the exit code', async (t) => {
  const { rt, start, exitOf } = await setup(t);
  const pod = makePod('env', [
    { name: 'main', image: 'busybox', command: ['sh', '-c'], args: ['echo "$GREETING from $(pwd)"; exit 4'], env: [{ name: 'GREETING', value: 'hi' }, { name: 'SKIPPED', valueFrom: { fieldRef: {} } }], workingDir: '/tmp' },
  ]);
  const { sandbox, ids } = await start(rt, pod);
  assert.equal(sandbox.ip, '127.0.0.1');
  const exited = await exitOf(ids[0]!);
  assert.equal(exited.exitCode, 4);
  assert.equal(await readAll(await rt.logs(ids[0]!)), 'hi from /tmp\n');
  const m = (await rt.listManaged()).find((c) => c.id === ids[0])!;
  assert.deepEqual([m.state, m.exitCode, m.reason, m.image, m.podName, m.namespace], ['exited', 4, 'Error', 'busybox:latest', 'env', 'rt-test']);
  assert.deepEqual(await rt.ensureImage('busybox'), { imageID: 'process://busybox:latest' });
  assert.deepEqual(await rt.listImages(), [{ names: ['busybox:latest'], sizeBytes: 0 }]);
});

test('logs: stream order, tail, timestamps, since, follow, and after exit', async (t) => {
  const { rt, start, exitOf } = await setup(t);
  const { ids } = await start(rt, makePod('logs', [sh('done', 'echo one; echo two >&2; printf "thr"; sleep 0.1; echo ee'), sh('live', 'echo a; sleep 0.5; echo b')]));
  const following = readAll(await rt.logs(ids[1]!, { follow: true }));
  await exitOf(ids[0]!);
  const all = await readAll(await rt.logs(ids[0]!));
  assert.deepEqual(all.split('\n').sort(), ['', 'one', 'three', 'two']);
  assert.equal(await readAll(await rt.logs(ids[0]!, { tailLines: 1 })), 'three\n');
  assert.equal(await readAll(await rt.logs(ids[0]!, { tailLines: 0 })), '');
  const stamped = (await readAll(await rt.logs(ids[0]!, { timestamps: true }))).trim().split('\n');
  for (const line of stamped) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three)$/);
  assert.equal(await readAll(await rt.logs(ids[0]!, { sinceSeconds: 60 })), all);
  assert.equal(await following, 'a\nb\n');
});

test('exec runs on the host in the container workingDir with its env', async (t) => {
  const { rt, start } = await setup(t);
  const { ids } = await start(rt, makePod('exec', [sh('main', 'exec sleep 300', { env: [{ name: 'X', value: '42' }], workingDir: '/tmp' })]));
  const s = await rt.exec(ids[0]!, ['sh', '-c', 'echo "hi $X $(pwd)"; echo oops >&2; exit 3']);
  assert.deepEqual(await Promise.all([readAll(s.stdout), readAll(s.stderr), s.exitCode]), ['hi 42 /tmp\n', 'oops\n', 3]);
  const cat = await rt.exec(ids[0]!, ['cat'], { stdin: true });
  const out = readAll(cat.stdout);
  cat.stdin!.end('piped\n');
  assert.equal(await out, 'piped\n');
  assert.equal(await cat.exitCode, 0);
  await assert.rejects(rt.exec(ids[0]!, ['no-such-command-keelson']), (e) => isRuntimeError(e, 'RunContainerError'));
});

test('stop: SIGTERM, then SIGKILL once the grace period is over', async (t) => {
  const { rt, start, exitOf } = await setup(t);
  const { ids } = await start(
    rt,
    makePod('stop', [
      sh('graceful', 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'),
      sh('stubborn', 'trap "echo ignoring-term" TERM; echo ready; while :; do sleep 0.1; done'),
    ]),
  );
  await new Promise((ok) => setTimeout(ok, 200));
  let t0 = Date.now();
  await rt.stopContainer(ids[0]!, 10);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal((await exitOf(ids[0]!)).exitCode, 0);
  assert.match(await readAll(await rt.logs(ids[0]!)), /got-term/);
  t0 = Date.now();
  await rt.stopContainer(ids[1]!, 1);
  assert.ok(Date.now() - t0 >= 950, 'SIGKILL waited for the grace period');
  assert.equal((await exitOf(ids[1]!)).exitCode, 137);
  assert.match(await readAll(await rt.logs(ids[1]!)), /ignoring-term/);
});

test('spec errors: no command, missing executable, missing workingDir', async (t) => {
  const { rt } = await setup(t);
  const pod = makePod('bad', [{ name: 'nocmd', image: 'busybox' }, sh('x', 'true')]);
  const sandbox = await rt.createSandbox(pod);
  await assert.rejects(rt.createContainer(pod, pod.spec.containers[0]!, sandbox), (e) => isRuntimeError(e, 'CreateContainerConfigError'));
  const missing = await rt.createContainer(pod, { name: 'm', image: 'x', command: ['/no/such/binary'] }, sandbox);
  await assert.rejects(rt.startContainer(missing), (e) => isRuntimeError(e, 'RunContainerError') && /\/no\/such\/binary/.test(e.message));
  const noDir = await rt.createContainer(pod, { name: 'd', image: 'x', command: ['true'], workingDir: '/no/such/dir' }, sandbox);
  await assert.rejects(rt.startContainer(noDir), (e) => isRuntimeError(e, 'RunContainerError') && /workingDir/.test(e.message));
  await assert.rejects(rt.startContainer('nope'), (e) => isRuntimeError(e, 'ContainerNotFound'));
});

test('a restarted runtime adopts running processes and keeps their logs flowing', async (t) => {
  const { rt, open, start, exitOf, dataDir } = await setup(t);
  const { ids } = await start(
    rt,
    makePod('adopt', [sh('main', 'trap "echo term-after-adoption; exit 0" TERM; echo before; while :; do sleep 0.1; done'), sh('victim', 'exec sleep 300')]),
  );
  const [main, victim] = ids as [string, string];
  const pid = pidOf(dataDir, main);
  const victimPid = pidOf(dataDir, victim);
  await new Promise((ok) => setTimeout(ok, 200));
  await rt.close();
  assert.ok(isRunning(pid), 'closing the runtime leaves its processes running');
  process.kill(victimPid, 'SIGKILL'); // dies while no kubelet watches
  while (isRunning(victimPid)) await new Promise((ok) => setTimeout(ok, 10));

  const rt2 = await open();
  const listed = await rt2.listManaged();
  const m = listed.find((c) => c.id === main)!;
  assert.equal(m.state, 'running');
  const v = listed.find((c) => c.id === victim)!;
  assert.deepEqual([v.state, v.reason, v.exitCode], ['exited', 'ContainerStatusUnknown', undefined]);

  await rt2.stopContainer(main, 5);
  const e = await exitOf(main);
  assert.equal(e.exitCode, undefined, 'an adopted process is not our child: its exit code is unknown');
  assert.ok(!isRunning(pid));
  assert.equal(await readAll(await rt2.logs(main)), 'before\nterm-after-adoption\n');

  await rt2.removeSandbox(listed[0]!.podUid);
  assert.equal((await rt2.listManaged()).length, 0);
  assert.ok(!existsSync(join(dataDir, 'process', 'containers', main)));
});
