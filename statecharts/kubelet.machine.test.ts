import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { acceptsPods, kubeletMachine, leaseRetryDelay, registerRetryDelay, type KubeletInput, type NodeRef } from './kubelet.machine.js';
import { nodeNotFound } from './testing/models.js';
import { settle } from './testing/settle.js';


type Name = 'registerNode' | 'renewLease' | 'reportStatus' | 'drain';

/** Actors that count their calls and fail while the test queues errors. */
function harness(input: Partial<KubeletInput> = {}) {
  const calls: Record<Name, number> = { registerNode: 0, renewLease: 0, reportStatus: 0, drain: 0 };
  const errors: Record<Name, Error[]> = { registerNode: [], renewLease: [], reportStatus: [], drain: [] };
  const gates: Partial<Record<Name, Promise<void>>> = {};
  const actor = (name: Name) =>
    fromPromise<void, NodeRef>(async () => {
      calls[name]++;
      await gates[name];
      const err = errors[name].shift();
      if (err) throw err;
    });
  const clock = new SimulatedClock();
  const machine = kubeletMachine.provide({
    actors: { registerNode: actor('registerNode'), renewLease: actor('renewLease'), reportStatus: actor('reportStatus'), drain: actor('drain') },
  });
  const kubelet = createActor(machine, { clock, input: { nodeName: 'n1', heartbeatMs: 10_000, statusMs: 60_000, ...input } });
  return { kubelet, calls, errors, gates, clock };
}

test('registration is retried 100 ms, 200 ms, … up to 7 s, then the node is Ready', async () => {
  const h = harness();
  h.errors.registerNode.push(new Error('no responders'), new Error('no responders'), new Error('no responders'));
  h.kubelet.start();
  await settle();
  assert.ok(h.kubelet.getSnapshot().matches({ Online: { Registration: 'RegisterBackOff' } }));
  assert.equal(acceptsPods(h.kubelet.getSnapshot()), false);
  for (const [n, delay] of [[1, 100], [2, 200], [3, 400]] as const) {
    assert.equal(h.calls.registerNode, n);
    h.clock.increment(delay - 1);
    await settle();
    assert.equal(h.calls.registerNode, n, `retried before ${delay} ms`);
    h.clock.increment(1);
    await settle();
  }
  assert.equal(h.calls.registerNode, 4);
  assert.ok(h.kubelet.getSnapshot().matches({ Online: 'Ready' }));
  assert.equal(acceptsPods(h.kubelet.getSnapshot()), true);
  assert.equal(h.kubelet.getSnapshot().context.registerAttempts, 0);
  assert.deepEqual([1, 2, 3, 5, 6, 20].map(registerRetryDelay), [100, 200, 400, 1_600, 2_000, 2_000]);
  h.kubelet.stop();
});

test('the lease is renewed at once, then every heartbeatMs; status every statusMs', async () => {
  const h = harness({ heartbeatMs: 10_000, statusMs: 60_000 });
  h.kubelet.start();
  await settle();
  assert.deepEqual([h.calls.renewLease, h.calls.reportStatus], [1, 1], 'both at once on Ready');
  for (let second = 1; second <= 120; second++) {
    h.clock.increment(1_000);
    await settle();
    assert.equal(h.calls.renewLease, 1 + Math.floor(second / 10), `renewals after ${second} s`);
    assert.equal(h.calls.reportStatus, 1 + Math.floor(second / 60), `status reports after ${second} s`);
  }
  h.kubelet.stop();
});

test('a failed renewal is retried 200 ms later, doubling up to the heartbeat', async () => {
  const h = harness();
  for (let i = 0; i < 8; i++) h.errors.renewLease.push(new Error('timeout'));
  h.kubelet.start();
  await settle();
  assert.equal(h.kubelet.getSnapshot().context.leaseFailures, 1);
  assert.ok(h.kubelet.getSnapshot().matches({ Online: { Ready: { Lease: 'RenewBackOff' } } }));
  // Retries after 200, 400, 800, 1600, 3200, 6400, then 10 000 (the heartbeat) ms.
  for (const [wait, calls] of [[199, 1], [1, 2], [400, 3], [800, 4], [1_600, 5], [3_200, 6], [6_400, 7], [9_999, 7], [1, 8]] as const) {
    h.clock.increment(wait);
    await settle();
    assert.equal(h.calls.renewLease, calls, `renewals after another ${wait} ms`);
  }
  h.clock.increment(10_000);
  await settle();
  assert.equal(h.calls.renewLease, 9);
  assert.equal(h.kubelet.getSnapshot().context.leaseFailures, 0, 'a success ends the streak');
  assert.ok(h.kubelet.getSnapshot().matches({ Online: { Ready: { Lease: 'Waiting' } } }));
  h.kubelet.stop();
});

test('leaseRetryDelay: 200 ms doubling, capped at the heartbeat', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => leaseRetryDelay(n, 2_000)), [200, 400, 800, 1_600, 2_000]);
  assert.equal(leaseRetryDelay(1, 100), 100);
});

test('a status change is reported at once; a change during a report is reported after it', async () => {
  const h = harness();
  let release!: () => void;
  h.kubelet.start();
  await settle();
  assert.equal(h.calls.reportStatus, 1);
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  await settle();
  assert.equal(h.calls.reportStatus, 2, 'on change');
  h.gates.reportStatus = new Promise<void>((r) => (release = r));
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  await settle();
  assert.equal(h.calls.reportStatus, 3);
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  await settle();
  assert.equal(h.calls.reportStatus, 3, 'no second write while one is under way');
  delete h.gates.reportStatus;
  release();
  await settle();
  assert.equal(h.calls.reportStatus, 4, 'the changes made meanwhile are written once more');
  await settle();
  assert.ok(h.kubelet.getSnapshot().matches({ Online: { Ready: { Status: 'Idle' } } }));
  h.kubelet.stop();
});

test('a deleted Node is registered again', async () => {
  const h = harness();
  h.kubelet.start();
  await settle();
  h.errors.reportStatus.push(nodeNotFound());
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  await settle();
  assert.equal(h.calls.registerNode, 2);
  assert.ok(h.kubelet.getSnapshot().matches({ Online: 'Ready' }));
  h.errors.reportStatus.push(new Error('timeout'));
  h.kubelet.send({ type: 'NODE_STATUS_CHANGED' });
  await settle();
  assert.equal(h.calls.registerNode, 2, 'other errors wait for the next report');
  h.kubelet.stop();
});

test('losing NATS pauses heartbeats and admission; reconnecting resumes where it was', async () => {
  const h = harness();
  h.kubelet.start();
  await settle();
  h.kubelet.send({ type: 'NATS_DISCONNECTED' });
  assert.equal(h.kubelet.getSnapshot().value, 'NatsLost');
  assert.equal(acceptsPods(h.kubelet.getSnapshot()), false);
  h.clock.increment(120_000);
  await settle();
  assert.equal(h.calls.renewLease, 1, 'no renewals while NATS is gone');
  h.kubelet.send({ type: 'NATS_RECONNECTED' });
  await settle();
  assert.ok(h.kubelet.getSnapshot().matches({ Online: 'Ready' }));
  assert.equal(h.calls.registerNode, 1, 'a registered node is not registered again');
  assert.equal(h.calls.renewLease, 2, 'the lease is renewed at once');
  assert.equal(acceptsPods(h.kubelet.getSnapshot()), true);
  h.kubelet.stop();
});

test('losing NATS while registering registers again on reconnect', async () => {
  const h = harness();
  h.errors.registerNode.push(new Error('no responders'));
  h.kubelet.start();
  await settle();
  h.kubelet.send({ type: 'NATS_DISCONNECTED' });
  h.kubelet.send({ type: 'NATS_RECONNECTED' });
  await settle();
  assert.equal(h.calls.registerNode, 2, 'at once, without waiting out the back-off');
  assert.ok(h.kubelet.getSnapshot().matches({ Online: 'Ready' }));
  h.kubelet.stop();
});

test('SHUTDOWN stops admission, drains, and stops; no heartbeats after', async () => {
  const h = harness();
  h.kubelet.start();
  await settle();
  h.kubelet.send({ type: 'SHUTDOWN' });
  assert.equal(h.kubelet.getSnapshot().value, 'Draining');
  assert.equal(acceptsPods(h.kubelet.getSnapshot()), false);
  await settle();
  assert.equal(h.calls.drain, 1);
  assert.equal(h.kubelet.getSnapshot().status, 'done');
  h.clock.increment(60_000);
  await settle();
  assert.equal(h.calls.renewLease, 1);
});

test('a failed drain still stops the kubelet', async () => {
  const h = harness();
  h.errors.drain.push(new Error('pods would not stop'));
  h.kubelet.start();
  h.kubelet.send({ type: 'NATS_DISCONNECTED' });
  h.kubelet.send({ type: 'SHUTDOWN' });
  await settle();
  assert.equal(h.kubelet.getSnapshot().value, 'Stopped');
  assert.equal(h.kubelet.getSnapshot().context.lastError, 'pods would not stop');
});
