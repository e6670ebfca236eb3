import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, SimulatedClock, type Actor } from 'xstate';
import {
  containerMachine,
  containerStatus,
  type ContainerStatus,
  type RestartPolicy,
  type StartContainerInput,
  type StopContainerInput,
} from './container.machine.js';
import { podMachine, podPhase, podStatus, type PodCleanupInput, type PodInput, type SandboxInput, type SandboxRef } from './pod.machine.js';
import { backingOff, exited, report, running, status } from './testing/models.js';
import { settle } from './testing/settle.js';


/** The pod machine with recording fakes for the service's actors and actions. */
function harness(input: Partial<PodInput> = {}) {
  const calls = {
    createSandbox: 0,
    startContainers: [] as { sandboxID: string; podIP?: string }[],
    stopContainers: [] as number[],
    killContainers: [] as PodCleanupInput[],
    removeSandbox: [] as PodCleanupInput[],
  };
  const sandboxErrors: Error[] = [];
  let releaseSandbox: (() => void) | undefined;
  const clock = new SimulatedClock();
  const machine = podMachine.provide({
    actors: {
      createSandbox: fromPromise<SandboxRef, SandboxInput>(async () => {
        calls.createSandbox++;
        const err = sandboxErrors.shift();
        if (err) throw err;
        if (input.name === 'slow') await new Promise<void>((r) => (releaseSandbox = r));
        return { sandboxID: 'sb1', podIP: '10.42.0.7' };
      }),
      killContainers: fromPromise<void, PodCleanupInput>(async ({ input }) => void calls.killContainers.push(input)),
      removeSandbox: fromPromise<void, PodCleanupInput>(async ({ input }) => void calls.removeSandbox.push(input)),
    },
    actions: {
      startContainers: (_, params) => void calls.startContainers.push(params),
      stopContainers: (_, params) => void calls.stopContainers.push(params.graceSeconds),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { uid: 'u1', name: 'web', containers: [{ name: 'app', image: 'busybox' }], ...input },
  }).start();
  return { actor, calls, clock, sandboxErrors, release: () => releaseSandbox?.() };
}

test('a pod is admitted, gets a sandbox, starts its containers and runs', async () => {
  const h = harness();
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Pending');
  h.actor.send({ type: 'ADMIT', startTime: '2025-01-01T00:00:00Z' });
  await settle();
  assert.ok(h.actor.getSnapshot().matches({ ContainerCreating: 'StartingContainers' }));
  assert.deepEqual(h.calls.startContainers, [{ sandboxID: 'sb1', podIP: '10.42.0.7' }]);
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Pending');
  h.actor.send(report(running('app', false)));
  assert.equal(h.actor.getSnapshot().value, 'Running');
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Running');
  h.actor.stop();
});

test('a failed sandbox is retried after 10 s', async () => {
  const h = harness();
  h.sandboxErrors.push(new Error('network plugin not ready'));
  h.actor.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  assert.ok(h.actor.getSnapshot().matches({ ContainerCreating: 'SandboxBackOff' }));
  assert.equal(h.actor.getSnapshot().context.lastError, 'network plugin not ready');
  h.clock.increment(9_999);
  await settle();
  assert.equal(h.calls.createSandbox, 1);
  h.clock.increment(1);
  await settle();
  assert.equal(h.calls.createSandbox, 2);
  assert.ok(h.actor.getSnapshot().matches({ ContainerCreating: 'StartingContainers' }));
  h.actor.stop();
});

test('the restart policy and the containers’ outcomes decide the pod phase', async () => {
  type Row = { policy: RestartPolicy; a: ContainerStatus; b: ContainerStatus; phase: string };
  const table: Row[] = [
    { policy: 'Never', a: exited('a', 0), b: exited('b', 0), phase: 'Succeeded' },
    { policy: 'Never', a: exited('a', 0), b: exited('b', 1), phase: 'Failed' },
    { policy: 'Never', a: exited('a', 1), b: running('b'), phase: 'Running' },
    { policy: 'OnFailure', a: exited('a', 0), b: exited('b', 0), phase: 'Succeeded' },
    { policy: 'OnFailure', a: exited('a', 0), b: backingOff('b', 1), phase: 'Running' },
    { policy: 'Always', a: backingOff('a', 0), b: backingOff('b', 0), phase: 'Running' },
    { policy: 'Always', a: backingOff('a', 1), b: running('b'), phase: 'Running' },
  ];
  for (const row of table) {
    const h = harness({ restartPolicy: row.policy, containers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'busybox' }] });
    h.actor.send({ type: 'ADMIT', startTime: 'T0' });
    await settle();
    h.actor.send(report(running('a')));
    assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Pending', 'b has not started yet');
    h.actor.send(report(running('b')));
    assert.equal(h.actor.getSnapshot().value, 'Running');
    h.actor.send(report(row.a));
    h.actor.send(report(row.b));
    assert.equal(podStatus(h.actor.getSnapshot()).phase, row.phase, JSON.stringify({ policy: row.policy, a: row.a.state, b: row.b.state }));
    assert.equal(h.actor.getSnapshot().value, row.phase);
    assert.equal(podPhase([row.a, row.b], row.policy), row.phase, 'podPhase agrees');
    h.actor.stop();
  }
});

test('a container that ends before the pod saw it run still settles the phase', async () => {
  const h = harness({ restartPolicy: 'Never' });
  h.actor.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  h.actor.send(report(exited('app', 0)));
  assert.equal(h.actor.getSnapshot().value, 'Succeeded');
  h.actor.stop();
});

test('DELETE stops the containers, kills them after the grace period, removes the sandbox', async () => {
  const h = harness({ terminationGracePeriodSeconds: 30 });
  h.actor.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  h.actor.send(report(running('app')));
  h.actor.send({ type: 'DELETE' });
  assert.deepEqual(h.calls.stopContainers, [30], 'the pod’s own grace period by default');
  h.clock.increment(29_999);
  await settle();
  assert.ok(h.actor.getSnapshot().matches({ Terminating: 'Stopping' }));
  assert.deepEqual(h.calls.killContainers, []);
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Running', 'still running while it stops');
  h.clock.increment(1);
  await settle();
  assert.deepEqual(h.calls.killContainers, [{ uid: 'u1', sandboxID: 'sb1' }]);
  assert.deepEqual(h.calls.removeSandbox, [{ uid: 'u1', sandboxID: 'sb1' }]);
  assert.equal(h.actor.getSnapshot().value, 'Terminated');
  assert.equal(h.actor.getSnapshot().status, 'done');
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Failed', 'killed: not every container ended with 0');
});

test('containers that stop within the grace period are not killed', async () => {
  const h = harness();
  h.actor.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  h.actor.send(report(running('app')));
  h.actor.send({ type: 'DELETE', graceSeconds: 10 });
  h.clock.increment(3_000);
  h.actor.send(report(exited('app', 0)));
  await settle();
  assert.equal(h.actor.getSnapshot().value, 'Terminated');
  assert.deepEqual(h.calls.killContainers, []);
  assert.equal(podStatus(h.actor.getSnapshot()).phase, 'Succeeded', 'every container ended with 0');
});

test('a shorter grace cuts the one under way; a longer one does not extend it', async () => {
  const h = harness();
  h.actor.send({ type: 'ADOPT', sandboxID: 'sb9', startTime: 'T0' });
  h.actor.send(report(running('app')));
  h.actor.send({ type: 'DELETE', graceSeconds: 30 });
  h.clock.increment(5_000);
  h.actor.send({ type: 'DELETE', graceSeconds: 60 });
  h.actor.send({ type: 'DELETE', graceSeconds: 2 });
  assert.deepEqual(h.calls.stopContainers, [30, 2]);
  h.clock.increment(2_000);
  await settle();
  assert.deepEqual(h.calls.killContainers, [{ uid: 'u1', sandboxID: 'sb9' }]);
  assert.equal(h.actor.getSnapshot().status, 'done');
});

test('a DELETE during sandbox creation waits for the sandbox, then removes it', async () => {
  const h = harness({ name: 'slow' });
  h.actor.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  h.actor.send({ type: 'DELETE', graceSeconds: 5 });
  assert.ok(h.actor.getSnapshot().matches({ ContainerCreating: { CreatingSandbox: 'DeleteRequested' } }));
  h.release();
  await settle();
  assert.deepEqual(h.calls.startContainers, [], 'no containers started for a deleted pod');
  assert.deepEqual(h.calls.removeSandbox, [{ uid: 'u1', sandboxID: 'sb1' }]);
  assert.equal(h.actor.getSnapshot().status, 'done');
});

test('a rejected pod is Failed with the admission reason', () => {
  const h = harness();
  h.actor.send({ type: 'REJECT', reason: 'OutOfcpu', message: 'Pod was rejected: Node didn\'t have enough resource: cpu' });
  const s = podStatus(h.actor.getSnapshot());
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, 'OutOfcpu');
  assert.match(s.message ?? '', /enough resource: cpu/);
  assert.deepEqual(s.conditions[1], { type: 'Initialized', status: 'False' });
  h.actor.stop();
});

test('podStatus has the Kubernetes PodStatus shape', async () => {
  const h = harness({ containers: [{ name: 'app', image: 'busybox' }, { name: 'side', image: 'envoy' }] });
  h.actor.send({ type: 'ADMIT', startTime: '2025-01-01T00:00:00Z' });
  await settle();
  h.actor.send(report(running('app', true)));
  assert.deepEqual(podStatus(h.actor.getSnapshot()), {
    phase: 'Pending',
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Initialized', status: 'True' },
      { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [side]' },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [side]' },
    ],
    podIP: '10.42.0.7',
    podIPs: [{ ip: '10.42.0.7' }],
    startTime: '2025-01-01T00:00:00Z',
    containerStatuses: [
      running('app', true),
      {
        name: 'side',
        state: { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
        ready: false,
        restartCount: 0,
        image: 'envoy',
        imageID: '',
        started: false,
      },
    ],
  });
  h.actor.send(report(running('side', true)));
  const conditions = podStatus(h.actor.getSnapshot()).conditions;
  assert.deepEqual(conditions.slice(2), [
    { type: 'ContainersReady', status: 'True' },
    { type: 'Ready', status: 'True' },
  ]);
  h.actor.stop();
});

test('wired as the service will wire it: container actors feed the pod their statuses', async () => {
  // The recipe from the pod machine's header, with a fake runtime.
  const clock = new SimulatedClock();
  const containers = new Map<string, Actor<typeof containerMachine>>();
  const runtime = containerMachine.provide({
    actors: {
      ensureImage: fromPromise(async () => ({ imageID: 'sha256:img' })),
      startContainer: fromPromise<{ containerID: string; startedAt: string }, StartContainerInput>(async ({ input }) => ({
        containerID: `fake://${input.name}`,
        startedAt: 'T1',
      })),
      stopContainer: fromPromise<void, StopContainerInput>(async ({ input }) => {
        const name = input.containerID.slice('fake://'.length);
        queueMicrotask(() => containers.get(name)?.send({ type: 'EXITED', exitCode: 0, finishedAt: 'T9' }));
      }),
    },
  });
  const spec = [{ name: 'app', image: 'busybox' }, { name: 'log', image: 'fluentbit' }];
  const pod = createActor(
    podMachine.provide({
      actors: {
        createSandbox: fromPromise<SandboxRef, SandboxInput>(async () => ({ sandboxID: 'sb1' })),
        killContainers: fromPromise<void, PodCleanupInput>(async () => undefined),
        removeSandbox: fromPromise<void, PodCleanupInput>(async () => undefined),
      },
      actions: {
        startContainers: (_, { sandboxID }) => {
          for (const c of spec) containers.get(c.name)!.send({ type: 'START', sandboxID });
        },
        stopContainers: (_, { graceSeconds }) => {
          for (const c of containers.values()) c.send({ type: 'STOP', graceSeconds });
        },
      },
    }),
    { clock, input: { uid: 'u1', name: 'web', containers: spec, restartPolicy: 'Always' } },
  );
  for (const c of spec) {
    const actor = createActor(runtime, { clock, input: { ...c, restartPolicy: 'Always' } });
    actor.subscribe((s) => pod.send({ type: 'CONTAINER_STATUS', status: containerStatus(s) }));
    containers.set(c.name, actor);
  }
  pod.start();
  for (const c of containers.values()) c.start();
  pod.send({ type: 'ADMIT', startTime: 'T0' });
  await settle();
  assert.equal(pod.getSnapshot().value, 'Running');
  containers.get('app')!.send({ type: 'EXITED', exitCode: 1, finishedAt: 'T2' });
  assert.equal(podStatus(pod.getSnapshot()).containerStatuses[0]!.restartCount, 1);
  assert.equal(pod.getSnapshot().value, 'Running', 'Always: a crash keeps the pod Running');
  pod.send({ type: 'DELETE', graceSeconds: 30 });
  await settle();
  assert.equal(pod.getSnapshot().value, 'Terminated');
  assert.deepEqual(
    podStatus(pod.getSnapshot()).containerStatuses.map((s) => Object.keys(s.state)[0]),
    ['terminated', 'terminated'],
  );
});
