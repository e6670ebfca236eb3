import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  containerMachine,
  containerStatus,
  goDuration,
  nextBackOff,
  type ContainerInput,
  type EnsureImageInput,
  type StartContainerInput,
  type StopContainerInput,
} from './container.machine.js';
import { settle } from './testing/settle.js';

/** A fake runtime: records calls; pulls and starts fail while the test queues errors. */
function runtime() {
  const calls = { ensureImage: [] as EnsureImageInput[], startContainer: [] as StartContainerInput[], stopContainer: [] as StopContainerInput[] };
  const pullErrors: Error[] = [];
  const startErrors: Error[] = [];
  const clock = new SimulatedClock();
  const at = () => new Date(clock.now()).toISOString();
  let n = 0;
  const machine = containerMachine.provide({
    actors: {
      ensureImage: fromPromise(async ({ input }: { input: EnsureImageInput }) => {
        calls.ensureImage.push(input);
        const err = pullErrors.shift();
        if (err) throw err;
        return { imageID: 'docker-pullable://nginx@sha256:abc' };
      }),
      startContainer: fromPromise(async ({ input }: { input: StartContainerInput }) => {
        calls.startContainer.push(input);
        const err = startErrors.shift();
        if (err) throw err;
        return { containerID: `docker://c${++n}`, startedAt: at() };
      }),
      stopContainer: fromPromise(async ({ input }: { input: StopContainerInput }) => {
        calls.stopContainer.push(input);
      }),
    },
  });
  const create = (input: Partial<ContainerInput> = {}) => createActor(machine, { clock, input: { name: 'app', image: 'nginx', ...input } }).start();
  const start = async (input: Partial<ContainerInput> = {}) => {
    const actor = create(input);
    actor.send({ type: 'START', sandboxID: 'sb1' });
    await settle();
    return actor;
  };
  return { calls, pullErrors, startErrors, clock, at, create, start };
}

const waitingReason = (s: ReturnType<typeof containerStatus>) => ('waiting' in s.state ? s.state.waiting.reason : undefined);

test('a crashing container restarts after 10, 20, 40, … s, capped at 5 min', async () => {
  const rt = runtime();
  const actor = await rt.start();
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Uptime: 'Settling' } } }));
  const seen: number[] = [];
  for (const expected of [10, 20, 40, 80, 160, 300, 300, 300]) {
    const starts = rt.calls.startContainer.length;
    actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
    const status = containerStatus(actor.getSnapshot());
    assert.equal(waitingReason(status), 'CrashLoopBackOff');
    assert.deepEqual(status.state, { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(expected * 1000)} restarting failed container=app` } });
    rt.clock.increment(expected * 1000 - 1);
    await settle();
    assert.equal(rt.calls.startContainer.length, starts, `restarted before ${expected} s`);
    rt.clock.increment(1);
    await settle();
    assert.equal(rt.calls.startContainer.length, starts + 1, `not restarted at ${expected} s`);
    assert.ok(actor.getSnapshot().matches('Running'));
    seen.push(expected);
  }
  assert.equal(actor.getSnapshot().context.restartCount, seen.length);
  assert.deepEqual(rt.calls.startContainer.map((c) => c.restartCount), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([0, 10_000, 160_000, 300_000].map((ms) => nextBackOff(ms)), [10_000, 20_000, 300_000, 300_000]);
  assert.deepEqual([10_000, 80_000, 300_000].map(goDuration), ['10s', '1m20s', '5m0s']);
  actor.stop();
});

test('the crash back-off starts over once an instance ran 10 min, not before', async () => {
  const rt = runtime();
  const actor = await rt.start();
  const crashAndRestart = async () => {
    actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
    const backOff = actor.getSnapshot().context.crashBackOffMs;
    rt.clock.increment(backOff);
    await settle();
    return backOff;
  };
  assert.equal(await crashAndRestart(), 10_000);
  assert.equal(await crashAndRestart(), 20_000);
  rt.clock.increment(600_000 - 1);
  assert.equal(await crashAndRestart(), 40_000, 'ran just under 10 min: the back-off keeps growing');
  rt.clock.increment(600_000);
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Uptime: 'Stable' } } }));
  assert.equal(await crashAndRestart(), 10_000, 'ran 10 min: the back-off starts over');
  actor.stop();
});

test('a failing pull shows ErrImagePull, then ImagePullBackOff, on its own 10 s → 5 min back-off', async () => {
  const rt = runtime();
  rt.pullErrors.push(new Error('manifest unknown'), new Error('manifest unknown'), new Error('manifest unknown'));
  const actor = await rt.start({ imagePullPolicy: 'Always' });
  assert.deepEqual(rt.calls.ensureImage, [{ image: 'nginx', imagePullPolicy: 'Always' }]);
  assert.deepEqual(containerStatus(actor.getSnapshot()).state, { waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } });
  rt.clock.increment(10_000);
  await settle();
  assert.equal(rt.calls.ensureImage.length, 2, 'retried after 10 s');
  rt.clock.increment(9_999);
  assert.equal(waitingReason(containerStatus(actor.getSnapshot())), 'ErrImagePull', 'until the next pod sync');
  rt.clock.increment(1);
  assert.deepEqual(containerStatus(actor.getSnapshot()).state, { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nginx"' } });
  rt.clock.increment(9_999);
  await settle();
  assert.equal(rt.calls.ensureImage.length, 2, 'the second back-off is 20 s');
  rt.clock.increment(1);
  await settle();
  assert.equal(rt.calls.ensureImage.length, 3);
  assert.equal(actor.getSnapshot().context.pullBackOffMs, 40_000);
  rt.clock.increment(40_000);
  await settle();
  assert.equal(rt.calls.ensureImage.length, 4);
  assert.ok(actor.getSnapshot().matches('Running'), 'the fourth pull worked');
  assert.equal(actor.getSnapshot().context.pullBackOffMs, 0, 'a good pull resets the image back-off');
  assert.equal(actor.getSnapshot().context.crashBackOffMs, 0, 'image and crash back-offs are separate');
  assert.equal(containerStatus(actor.getSnapshot()).imageID, 'docker-pullable://nginx@sha256:abc');
  actor.stop();
});

test('pull policy Never with a missing image waits in ErrImageNeverPull', async () => {
  const rt = runtime();
  rt.pullErrors.push(new Error('no such image'));
  const actor = await rt.start({ imagePullPolicy: 'Never' });
  assert.deepEqual(rt.calls.ensureImage, [{ image: 'nginx', imagePullPolicy: 'Never' }]);
  assert.deepEqual(containerStatus(actor.getSnapshot()).state, {
    waiting: { reason: 'ErrImageNeverPull', message: 'Container image "nginx" is not present with pull policy of Never' },
  });
  rt.clock.increment(10_000);
  await settle();
  assert.ok(actor.getSnapshot().matches('Running'), 'the image was loaded meanwhile');
  actor.stop();
});

test('a create error is retried with the crash back-off', async () => {
  const rt = runtime();
  rt.startErrors.push(new Error('invalid mount'));
  const actor = await rt.start();
  assert.deepEqual(containerStatus(actor.getSnapshot()).state, { waiting: { reason: 'CreateContainerError', message: 'invalid mount' } });
  assert.equal(actor.getSnapshot().context.restartCount, 0, 'nothing ran, nothing restarted');
  rt.clock.increment(10_000);
  await settle();
  assert.ok(actor.getSnapshot().matches('Running'));
  actor.stop();
});

test('restart policy decides what an exit leads to', async () => {
  const table = [
    { policy: 'Always', exitCode: 0, restarts: true, reason: 'Completed' },
    { policy: 'Always', exitCode: 1, restarts: true, reason: 'Error' },
    { policy: 'OnFailure', exitCode: 0, restarts: false, reason: 'Completed' },
    { policy: 'OnFailure', exitCode: 2, restarts: true, reason: 'Error' },
    { policy: 'Never', exitCode: 0, restarts: false, reason: 'Completed' },
    { policy: 'Never', exitCode: 1, restarts: false, reason: 'Error' },
  ] as const;
  for (const row of table) {
    const rt = runtime();
    const actor = await rt.start({ restartPolicy: row.policy });
    const startedAt = rt.at();
    rt.clock.increment(5_000);
    actor.send({ type: 'EXITED', exitCode: row.exitCode, finishedAt: rt.at() });
    const s = actor.getSnapshot();
    const status = containerStatus(s);
    const exit = { exitCode: row.exitCode, reason: row.reason, startedAt, finishedAt: rt.at(), containerID: 'docker://c1' };
    if (row.restarts) {
      assert.equal(waitingReason(status), 'CrashLoopBackOff', JSON.stringify(row));
      assert.deepEqual(status.lastState, { terminated: exit });
      assert.equal(status.restartCount, 1);
    } else {
      assert.equal(s.status, 'done', JSON.stringify(row));
      assert.deepEqual(status.state, { terminated: exit });
      assert.deepEqual(status.lastState, {});
      assert.equal(status.restartCount, 0);
    }
    actor.stop();
  }
});

test('an adopted container goes straight to Running without being started', async () => {
  const rt = runtime();
  const actor = rt.create();
  actor.send({ type: 'ADOPT', containerID: 'docker://old', startedAt: '2025-01-01T00:00:00.000Z', imageID: 'sha256:img', restartCount: 3 });
  await settle();
  assert.equal(actor.getSnapshot().status, 'active');
  assert.deepEqual(containerStatus(actor.getSnapshot()), {
    name: 'app',
    state: { running: { startedAt: '2025-01-01T00:00:00.000Z' } },
    lastState: {},
    ready: false,
    restartCount: 3,
    image: 'nginx',
    imageID: 'sha256:img',
    containerID: 'docker://old',
    started: true,
  });
  assert.deepEqual(rt.calls.startContainer, []);
  assert.deepEqual(rt.calls.ensureImage, []);
  actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
  rt.clock.increment(10_000);
  await settle();
  assert.equal(rt.calls.startContainer.length, 1, 'once it dies, it is restarted as usual');
  assert.equal(actor.getSnapshot().context.restartCount, 4);
  actor.stop();
});

test('a liveness failure kills the container, which restarts per policy', async () => {
  for (const [restartPolicy, restarts] of [['Always', true], ['Never', false]] as const) {
    const rt = runtime();
    const actor = await rt.start({ restartPolicy, terminationGracePeriodSeconds: 15 });
    actor.send({ type: 'READY_CHANGED', ready: true });
    assert.equal(containerStatus(actor.getSnapshot()).ready, true);
    actor.send({ type: 'LIVENESS_FAILED' });
    await settle();
    assert.deepEqual(rt.calls.stopContainer, [{ containerID: 'docker://c1', graceSeconds: 15 }]);
    assert.equal(containerStatus(actor.getSnapshot()).ready, false);
    assert.ok('running' in containerStatus(actor.getSnapshot()).state, 'still running until it has exited');
    actor.send({ type: 'EXITED', exitCode: 137, finishedAt: rt.at() });
    assert.equal(actor.getSnapshot().matches({ Waiting: 'CrashLoopBackOff' }), restarts, restartPolicy);
    assert.equal(actor.getSnapshot().context.restartCount, restarts ? 1 : 0);
    actor.stop();
  }
});

test('a startup probe holds back started, readiness and liveness until it passes', async () => {
  const rt = runtime();
  const actor = await rt.start({ hasStartupProbe: true });
  const status = () => containerStatus(actor.getSnapshot());
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Startup: 'Starting' } } }));
  assert.ok('running' in status().state, 'running, just not started');
  assert.equal(status().started, false);
  actor.send({ type: 'READY_CHANGED', ready: true });
  actor.send({ type: 'LIVENESS_FAILED' });
  await settle();
  assert.equal(status().ready, false, 'no readiness before the startup probe passed');
  assert.deepEqual(rt.calls.stopContainer, [], 'no liveness kill before the startup probe passed');
  actor.send({ type: 'STARTED' });
  assert.equal(status().started, true);
  assert.equal(status().ready, false, 'started is not ready');
  actor.send({ type: 'READY_CHANGED', ready: true });
  assert.equal(status().ready, true);
  actor.send({ type: 'STARTUP_FAILED' });
  await settle();
  assert.deepEqual(rt.calls.stopContainer, [], 'a late startup failure of a started container changes nothing');
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Startup: 'Started' } } }));
  actor.stop();
});

test('without a startup probe a container is started as soon as it runs', async () => {
  const rt = runtime();
  const actor = await rt.start({ hasStartupProbe: false });
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Startup: 'Started', Uptime: 'Settling' } } }));
  assert.equal(containerStatus(actor.getSnapshot()).started, true);
  actor.stop();
});

test('a failing startup probe kills the container, restarted per policy and probed again', async () => {
  for (const [restartPolicy, restarts] of [['Always', true], ['OnFailure', true], ['Never', false]] as const) {
    const rt = runtime();
    const actor = await rt.start({ restartPolicy, hasStartupProbe: true, terminationGracePeriodSeconds: 5 });
    actor.send({ type: 'STARTUP_FAILED' });
    await settle();
    assert.deepEqual(rt.calls.stopContainer, [{ containerID: 'docker://c1', graceSeconds: 5 }], restartPolicy);
    assert.ok(actor.getSnapshot().matches({ Running: 'Killing' }));
    assert.equal(containerStatus(actor.getSnapshot()).started, false);
    actor.send({ type: 'EXITED', exitCode: 137, finishedAt: rt.at() });
    assert.equal(actor.getSnapshot().matches({ Waiting: 'CrashLoopBackOff' }), restarts, restartPolicy);
    if (restarts) {
      rt.clock.increment(10_000);
      await settle();
      const status = containerStatus(actor.getSnapshot());
      assert.equal(status.containerID, 'docker://c2');
      assert.equal(status.restartCount, 1);
      assert.equal(status.started, false, 'the new instance starts un-started');
      assert.ok(actor.getSnapshot().matches({ Running: { Up: { Startup: 'Starting' } } }));
    } else {
      assert.equal(actor.getSnapshot().status, 'done');
    }
    actor.stop();
  }
});

test('a started container that crashes starts its next instance un-started', async () => {
  const rt = runtime();
  const actor = await rt.start({ hasStartupProbe: true });
  actor.send({ type: 'STARTED' });
  actor.send({ type: 'READY_CHANGED', ready: true });
  actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
  assert.equal(containerStatus(actor.getSnapshot()).started, false);
  rt.clock.increment(10_000);
  await settle();
  assert.equal(containerStatus(actor.getSnapshot()).containerID, 'docker://c2');
  assert.deepEqual([containerStatus(actor.getSnapshot()).started, containerStatus(actor.getSnapshot()).ready], [false, false]);
  actor.stop();
});

test('an adopted container with a startup probe is un-started until probed again', async () => {
  const rt = runtime();
  const actor = rt.create({ hasStartupProbe: true });
  actor.send({ type: 'ADOPT', containerID: 'docker://old', startedAt: '2025-01-01T00:00:00.000Z', restartCount: 2 });
  const status = containerStatus(actor.getSnapshot());
  assert.deepEqual([status.state, status.started, status.ready], [{ running: { startedAt: '2025-01-01T00:00:00.000Z' } }, false, false]);
  actor.send({ type: 'STARTED' });
  assert.equal(containerStatus(actor.getSnapshot()).started, true);
  assert.deepEqual(rt.calls.startContainer, [], 'adopted, not started again');
  actor.stop();
});

test('a configured back-off sets the first wait, the cap and the reset period', async () => {
  const backOff = { initialMs: 1_000, maxMs: 8_000 };
  assert.deepEqual([0, 1_000, 4_000, 8_000].map((ms) => nextBackOff(ms, backOff)), [1_000, 2_000, 8_000, 8_000]);
  assert.equal(nextBackOff(0, { initialMs: 20_000, maxMs: 8_000 }), 8_000, 'never above the cap');
  const rt = runtime();
  const actor = await rt.start({ backOff });
  for (const expected of [1, 2, 4, 8, 8]) {
    const starts = rt.calls.startContainer.length;
    actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
    assert.deepEqual(containerStatus(actor.getSnapshot()).state, { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${expected}s restarting failed container=app` } });
    rt.clock.increment(expected * 1000 - 1);
    await settle();
    assert.equal(rt.calls.startContainer.length, starts, `restarted before ${expected} s`);
    rt.clock.increment(1);
    await settle();
    assert.equal(rt.calls.startContainer.length, starts + 1, `not restarted at ${expected} s`);
  }
  rt.clock.increment(16_000 - 1);
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Uptime: 'Settling' } } }), 'not yet 2 × the cap');
  rt.clock.increment(1);
  assert.ok(actor.getSnapshot().matches({ Running: { Up: { Uptime: 'Stable' } } }), 'ran 2 × the cap');
  actor.send({ type: 'EXITED', exitCode: 1, finishedAt: rt.at() });
  assert.equal(actor.getSnapshot().context.crashBackOffMs, 1_000, 'the back-off started over');
  actor.stop();

  // Image pulls back off on the same numbers.
  const pulls = runtime();
  pulls.pullErrors.push(new Error('timeout'), new Error('timeout'));
  const puller = await pulls.start({ backOff });
  assert.equal(puller.getSnapshot().context.pullBackOffMs, 1_000);
  pulls.clock.increment(1_000);
  await settle();
  assert.equal(pulls.calls.ensureImage.length, 2);
  assert.equal(puller.getSnapshot().context.pullBackOffMs, 2_000);
  puller.stop();
});

test('STOP ends a running container for good; a shorter grace cuts it', async () => {
  const rt = runtime();
  const actor = await rt.start({ restartPolicy: 'Always' });
  actor.send({ type: 'STOP', graceSeconds: 30 });
  actor.send({ type: 'STOP', graceSeconds: 60 });
  actor.send({ type: 'STOP', graceSeconds: 0 });
  await settle();
  assert.deepEqual(
    rt.calls.stopContainer.map((c) => c.graceSeconds),
    [30, 0],
  );
  actor.send({ type: 'EXITED', exitCode: 143, finishedAt: rt.at() });
  assert.equal(actor.getSnapshot().status, 'done', 'not restarted, though the policy is Always');
  assert.deepEqual(containerStatus(actor.getSnapshot()).state, {
    terminated: { exitCode: 143, reason: 'Error', startedAt: rt.at(), finishedAt: rt.at(), containerID: 'docker://c1' },
  });
});

test('STOP before anything ran reports the container lost (137)', async () => {
  const rt = runtime();
  rt.pullErrors.push(new Error('timeout'));
  const actor = await rt.start();
  actor.send({ type: 'STOP', graceSeconds: 30 });
  assert.equal(actor.getSnapshot().status, 'done');
  assert.deepEqual(containerStatus(actor.getSnapshot()), {
    name: 'app',
    state: {
      terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' },
    },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: 'nginx',
    imageID: '',
    started: false,
  });
});

test('containerStatus follows the Kubernetes containerStatuses[] shape through a restart', async () => {
  const rt = runtime();
  const actor = createActor(
    containerMachine.provide({ actors: { ensureImage: fromPromise(async () => ({ imageID: 'sha256:img' })), startContainer: fromPromise(async () => ({ containerID: 'docker://c1', startedAt: 'T1' })) } }),
    { clock: rt.clock, input: { name: 'web', image: 'nginx:1.27', restartPolicy: 'OnFailure' } },
  ).start();
  assert.deepEqual(containerStatus(actor.getSnapshot()), {
    name: 'web',
    state: { waiting: { reason: 'ContainerCreating' } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: 'nginx:1.27',
    imageID: '',
    started: false,
  });
  actor.send({ type: 'START', sandboxID: 'sb1' });
  await settle();
  actor.send({ type: 'READY_CHANGED', ready: true });
  assert.deepEqual(containerStatus(actor.getSnapshot()), {
    name: 'web',
    state: { running: { startedAt: 'T1' } },
    lastState: {},
    ready: true,
    restartCount: 0,
    image: 'nginx:1.27',
    imageID: 'sha256:img',
    containerID: 'docker://c1',
    started: true,
  });
  actor.send({ type: 'EXITED', exitCode: 1, reason: 'OOMKilled', finishedAt: 'T2' });
  const crashed = { terminated: { exitCode: 1, reason: 'OOMKilled', startedAt: 'T1', finishedAt: 'T2', containerID: 'docker://c1' } };
  assert.deepEqual(containerStatus(actor.getSnapshot()), {
    name: 'web',
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=web' } },
    lastState: crashed,
    ready: false,
    restartCount: 1,
    image: 'nginx:1.27',
    imageID: 'sha256:img',
    containerID: 'docker://c1',
    started: false,
  });
  rt.clock.increment(10_000);
  await settle();
  actor.send({ type: 'EXITED', exitCode: 0, finishedAt: 'T3' });
  const status = containerStatus(actor.getSnapshot());
  assert.deepEqual(status.state, { terminated: { exitCode: 0, reason: 'Completed', startedAt: 'T1', finishedAt: 'T3', containerID: 'docker://c1' } });
  assert.deepEqual(status.lastState, crashed);
  assert.equal(status.restartCount, 1);
});
