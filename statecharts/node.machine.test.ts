import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, SimulatedClock, type AnyEventObject } from 'xstate';
import {
  conditionsUnknown,
  evicting,
  lifecycleTaint,
  nodeLifecycleMachine,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  unhealthy,
  type NodeLifecycleEvent,
} from './node.machine.js';

/** The machine with recording actions, on a simulated clock. */
function harness(podEvictionTimeoutMs = 5_000) {
  const calls: string[] = [];
  const record = (name: string) => (_: unknown, params: unknown) => {
    calls.push(params ? `${name}(${Object.values(params as object).join(',')})` : name);
  };
  const clock = new SimulatedClock();
  const machine = nodeLifecycleMachine.provide({
    actions: {
      removeTaints: record('removeTaints'),
      taint: record('taint'),
      setConditionsUnknown: record('setConditionsUnknown'),
      markPodsNotReady: record('markPodsNotReady'),
      startTolerating: record('startTolerating'),
      evictPods: record('evictPods'),
      recordStatusChange: record('event'),
      forget: record('forget'),
    },
  });
  const actor = createActor(machine, { clock, input: { nodeName: 'n1', podEvictionTimeoutMs } }).start();
  const send = (type: NodeLifecycleEvent['type']) => actor.send({ type } as AnyEventObject as NodeLifecycleEvent);
  const taken = () => calls.splice(0);
  return { actor, clock, send, taken };
}

test('a new node is only judged once observed; Ready takes stale taints off', () => {
  const h = harness();
  assert.equal(h.actor.getSnapshot().value, 'Observing');
  assert.equal(lifecycleTaint(h.actor.getSnapshot()), undefined, 'no opinion before the first observation');
  h.send('KUBELET_READY');
  assert.equal(h.actor.getSnapshot().value, 'Ready');
  assert.deepEqual(h.taken(), ['removeTaints']);
  assert.equal(lifecycleTaint(h.actor.getSnapshot()), null);
  h.send('KUBELET_READY');
  assert.deepEqual(h.taken(), [], 'a repeated observation does nothing');
  h.actor.stop();
});

test('Ready=False taints not-ready; pods are evicted after the toleration, not before', () => {
  const h = harness(5_000);
  h.send('KUBELET_READY');
  h.taken();
  h.send('KUBELET_NOT_READY');
  assert.deepEqual(h.actor.getSnapshot().value, { Unhealthy: { Condition: 'NotReady', Eviction: 'Tolerating' } });
  assert.deepEqual(h.taken(), ['event(NodeNotReady)', `taint(${TAINT_NOT_READY})`, 'markPodsNotReady', 'startTolerating']);
  assert.equal(lifecycleTaint(h.actor.getSnapshot()), TAINT_NOT_READY);
  assert.equal(conditionsUnknown(h.actor.getSnapshot()), false, 'the kubelet posts its own conditions');
  h.clock.increment(4_999);
  assert.deepEqual(h.taken(), []);
  assert.equal(evicting(h.actor.getSnapshot()), false);
  h.clock.increment(1);
  assert.deepEqual(h.taken(), ['evictPods']);
  assert.equal(evicting(h.actor.getSnapshot()), true);
  h.clock.increment(60_000);
  assert.deepEqual(h.taken(), [], 'evicts once per episode');
  h.actor.stop();
});

test('a lapsed lease makes the node Unknown and unreachable; the eviction clock keeps running from NotReady', () => {
  const h = harness(5_000);
  h.send('KUBELET_READY');
  h.send('KUBELET_NOT_READY');
  h.taken();
  h.clock.increment(3_000);
  h.send('LEASE_EXPIRED');
  assert.deepEqual(h.actor.getSnapshot().value, { Unhealthy: { Condition: 'Unknown', Eviction: 'Tolerating' } });
  assert.deepEqual(h.taken(), ['setConditionsUnknown', `taint(${TAINT_UNREACHABLE})`, 'markPodsNotReady']);
  assert.equal(lifecycleTaint(h.actor.getSnapshot()), TAINT_UNREACHABLE);
  assert.equal(conditionsUnknown(h.actor.getSnapshot()), true);
  h.clock.increment(2_000);
  assert.deepEqual(h.taken(), ['evictPods'], '5 s after it first became unhealthy, not after it became Unknown');
  // The lease is fresh again but the kubelet says not ready: back to the not-ready taint.
  h.send('KUBELET_NOT_READY');
  assert.deepEqual(h.actor.getSnapshot().value, { Unhealthy: { Condition: 'NotReady', Eviction: 'Evicting' } });
  assert.deepEqual(h.taken(), [`taint(${TAINT_NOT_READY})`, 'markPodsNotReady']);
  h.actor.stop();
});

test('a node that dies while Ready goes straight to Unknown', () => {
  const h = harness(5_000);
  h.send('KUBELET_READY');
  h.taken();
  h.send('LEASE_EXPIRED');
  assert.deepEqual(h.taken(), ['event(NodeNotReady)', 'setConditionsUnknown', `taint(${TAINT_UNREACHABLE})`, 'markPodsNotReady', 'startTolerating']);
  assert.equal(unhealthy(h.actor.getSnapshot()), true);
  h.clock.increment(5_000);
  assert.deepEqual(h.taken(), ['evictPods']);
  h.actor.stop();
});

test('a node back before the toleration ends keeps its pods; the clock starts over next time', () => {
  const h = harness(5_000);
  h.send('LEASE_EXPIRED');
  assert.deepEqual(h.taken(), ['setConditionsUnknown', `taint(${TAINT_UNREACHABLE})`, 'markPodsNotReady', 'startTolerating'], 'no status-change event for a node first seen dead');
  h.clock.increment(4_000);
  h.send('KUBELET_READY');
  assert.deepEqual(h.taken(), ['event(NodeReady)', 'removeTaints']);
  assert.equal(unhealthy(h.actor.getSnapshot()), false);
  h.clock.increment(10_000);
  assert.deepEqual(h.taken(), [], 'the timer was cancelled');
  h.send('KUBELET_NOT_READY');
  h.clock.increment(4_999);
  assert.ok(!h.taken().includes('evictPods'));
  h.clock.increment(1);
  assert.deepEqual(h.taken(), ['evictPods']);
  h.actor.stop();
});

test('after a full disruption the toleration starts over, whether it was running or over', () => {
  const h = harness(5_000);
  h.send('KUBELET_READY');
  h.send('DISRUPTION_ENDED');
  assert.equal(h.actor.getSnapshot().value, 'Ready', 'nothing to start over on a Ready node');
  h.send('LEASE_EXPIRED');
  h.clock.increment(5_000);
  h.taken();
  assert.equal(evicting(h.actor.getSnapshot()), true);
  h.send('DISRUPTION_ENDED');
  assert.deepEqual(h.actor.getSnapshot().value, { Unhealthy: { Condition: 'Unknown', Eviction: 'Tolerating' } });
  assert.deepEqual(h.taken(), ['startTolerating'], 'the taints stay; only the clock starts over');
  h.clock.increment(3_000);
  h.send('DISRUPTION_ENDED');
  h.clock.increment(4_999);
  assert.deepEqual(h.taken(), ['startTolerating'], 'a running toleration starts over too');
  h.clock.increment(1);
  assert.deepEqual(h.taken(), ['evictPods']);
  h.actor.stop();
});

test('a deleted Node ends its actor from any state, with its timer', () => {
  for (const path of [[], ['KUBELET_READY'], ['KUBELET_NOT_READY'], ['LEASE_EXPIRED']] as NodeLifecycleEvent['type'][][]) {
    const h = harness(5_000);
    for (const e of path) h.send(e);
    h.taken();
    h.send('NODE_DELETED');
    assert.equal(h.actor.getSnapshot().status, 'done', `after ${path.join(',') || 'nothing'}`);
    assert.deepEqual(h.taken(), ['forget']);
    assert.equal(lifecycleTaint(h.actor.getSnapshot()), undefined);
    h.clock.increment(10_000);
    assert.deepEqual(h.taken(), []);
  }
});
