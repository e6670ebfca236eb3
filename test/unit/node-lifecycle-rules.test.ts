/**
 * The node lifecycle controller's pure rules: the health probe and what it
 * observes, the conditions and taints it writes, tolerations, disruption and
 * the eviction rate limiter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlPlaneClock, expiresInMs, nextProbe, notReadyConditions, observe, unknownConditions, withLifecycleTaint, type Taint } from '../../services/controller-manager/node-health.js';
import { defaultToleranceMs, disruption, evictionRate, NodeEvictionLimiter, podToleranceMs, tolerates, type Toleration } from '../../services/controller-manager/taint-eviction.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { TAINT_NOT_READY, TAINT_UNREACHABLE } from '../../statecharts/node.machine.js';

type Obj = Record<string, any>;

/** A Node with the kubelet's four conditions (Ready as given). */
function makeNode(ready: string | undefined, heartbeat = '2025-01-01T00:00:00Z', taints: Taint[] = []): KObject {
  const cond = (type: string, status: string) => ({ type, status, reason: 'Kubelet', message: 'm', lastHeartbeatTime: heartbeat, lastTransitionTime: '2024-12-31T00:00:00Z' });
  const conditions = [cond('MemoryPressure', 'False'), cond('DiskPressure', 'False'), cond('PIDPressure', 'False')];
  if (ready) conditions.push(cond('Ready', ready));
  return { kind: 'Node', metadata: { name: 'n1', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { taints }, status: { conditions } };
}
const lease = (renewTime: string): KObject => ({ kind: 'Lease', spec: { renewTime } });

test('the probe moves when the lease or the Ready heartbeat changes, on the controller’s clock', () => {
  const n = makeNode('True');
  const p1 = nextProbe(undefined, n, lease('2025-01-01T00:00:01.000000Z'), 1_000);
  assert.equal(p1.atMs, 1_000, 'a node first seen gets a full grace period');
  assert.equal(nextProbe(p1, n, lease('2025-01-01T00:00:01.000000Z'), 9_000), p1, 'nothing new heard');
  assert.equal(nextProbe(p1, n, lease('2025-01-01T00:00:03.000000Z'), 9_000).atMs, 9_000, 'lease renewed');
  assert.equal(nextProbe(p1, makeNode('True', '2025-01-01T00:00:09Z'), lease('2025-01-01T00:00:01.000000Z'), 9_500).atMs, 9_500, 'status posted');
  // The controller's own write (Ready → Unknown, heartbeat kept) is not news from the kubelet.
  assert.equal(nextProbe(p1, makeNode('Unknown'), lease('2025-01-01T00:00:01.000000Z'), 9_000), p1);
});

test('what the controller observes: expired after the grace period, else what the kubelet posts', () => {
  const probe = { signature: 's', atMs: 0 };
  const table: [string | undefined, number, string | undefined][] = [
    ['True', 5_000, 'KUBELET_READY'],
    ['False', 5_000, 'KUBELET_NOT_READY'],
    ['Unknown', 5_000, undefined],
    [undefined, 5_000, undefined],
    ['True', 5_001, 'LEASE_EXPIRED'],
    ['False', 60_000, 'LEASE_EXPIRED'],
  ];
  for (const [ready, now, want] of table) assert.equal(observe(probe, makeNode(ready), now, 5_000), want, `Ready=${ready} at ${now}`);
  assert.equal(expiresInMs(probe, 3_000, 5_000), 2_000);
});

test('a node that stopped posting: every kubelet condition Unknown, heartbeat kept, once', () => {
  const next = unknownConditions(makeNode('True'), '2025-01-01T00:01:00Z')!;
  assert.deepEqual(
    next.map((c) => [c.type, c.status, c.reason, c.message, c.lastHeartbeatTime, c.lastTransitionTime]),
    ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((t) => [t, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z']),
  );
  const already = { ...makeNode('True'), status: { conditions: next } };
  assert.equal(unknownConditions(already, '2025-01-01T00:02:00Z'), undefined, 'nothing to write again');
  const never = unknownConditions(makeNode(undefined), 'T')!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([never.status, never.reason, never.lastHeartbeatTime], ['Unknown', 'NodeStatusNeverUpdated', '2024-01-01T00:00:00Z']);
});

test('lifecycle taints: NoSchedule + NoExecute of one key, others kept, no write when unchanged', () => {
  const user: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const withNotReady = withLifecycleTaint([user], TAINT_NOT_READY, 'T1')!;
  assert.deepEqual(withNotReady, [user, { key: TAINT_NOT_READY, effect: 'NoSchedule' }, { key: TAINT_NOT_READY, effect: 'NoExecute', timeAdded: 'T1' }]);
  assert.equal(withLifecycleTaint(withNotReady, TAINT_NOT_READY, 'T2'), undefined);
  const swapped = withLifecycleTaint(withNotReady, TAINT_UNREACHABLE, 'T2')!;
  assert.deepEqual(swapped.map((t) => `${t.key}:${t.effect}`), ['dedicated:NoSchedule', `${TAINT_UNREACHABLE}:NoSchedule`, `${TAINT_UNREACHABLE}:NoExecute`]);
  assert.deepEqual(withLifecycleTaint(swapped, null, 'T3'), [user]);
  assert.equal(withLifecycleTaint([user], null, 'T3'), undefined);
});

test('pods marked not ready: only a Ready=True condition flips', () => {
  const pod = (status: string): KObject => ({ status: { conditions: [{ type: 'ContainersReady', status: 'True' }, { type: 'Ready', status }] } });
  const next = notReadyConditions(pod('True'), 'T')!;
  assert.deepEqual(next, [{ type: 'ContainersReady', status: 'True' }, { type: 'Ready', status: 'False', lastTransitionTime: 'T' }]);
  assert.equal(notReadyConditions(pod('False'), 'T'), undefined);
  assert.equal(notReadyConditions({}, 'T'), undefined);
});

test('tolerations match taints as Kubernetes’ ToleratesTaint', () => {
  const taint: Taint = { key: TAINT_UNREACHABLE, effect: 'NoExecute' };
  const table: [Toleration, boolean][] = [
    [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }, true],
    [{ key: TAINT_UNREACHABLE, operator: 'Exists' }, true],
    [{ operator: 'Exists' }, true],
    [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }, false],
    [{ key: TAINT_NOT_READY, operator: 'Exists' }, false],
    [{ key: TAINT_UNREACHABLE, operator: 'Equal', value: '' }, true],
    [{ key: TAINT_UNREACHABLE }, true],
    [{ key: TAINT_UNREACHABLE, value: 'x' }, false],
    [{ key: TAINT_UNREACHABLE, operator: 'Bogus' }, false],
  ];
  for (const [t, want] of table) assert.equal(tolerates(t, taint), want, JSON.stringify(t));
});

test('a pod’s tolerance: default without a toleration, its seconds with one, forever without seconds, the shortest wins', () => {
  const taints: Taint[] = [
    { key: TAINT_UNREACHABLE, effect: 'NoExecute' },
    { key: TAINT_UNREACHABLE, effect: 'NoSchedule' },
  ];
  const pod = (tolerations?: Obj[]): KObject => ({ spec: { tolerations } });
  const reach = (extra: Obj = {}) => ({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', ...extra });
  assert.equal(podToleranceMs(pod(), taints, 5_000), 5_000);
  assert.equal(podToleranceMs(pod([reach({ tolerationSeconds: 30 })]), taints, 5_000), 30_000);
  assert.equal(podToleranceMs(pod([reach({ tolerationSeconds: 1 })]), taints, 5_000), 1_000);
  assert.equal(podToleranceMs(pod([reach({ tolerationSeconds: -4 })]), taints, 5_000), 0);
  assert.equal(podToleranceMs(pod([reach()]), taints, 5_000), Infinity);
  assert.equal(podToleranceMs(pod([{ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' }]), taints, 5_000), 5_000, 'another key does not help');
  const both = [...taints, { key: 'maintenance', effect: 'NoExecute' }];
  assert.equal(podToleranceMs(pod([reach()]), both, 5_000), 5_000, 'an untolerated second taint brings the default back');
  assert.equal(podToleranceMs(pod(), [{ key: 'x', effect: 'NoSchedule' }], 5_000), Infinity, 'NoSchedule evicts nothing');
});

test('the default toleration: unreachable may have its own, not-ready keeps the one default', () => {
  const one = { podEvictionTimeoutMs: 4_000 };
  const split = { podEvictionTimeoutMs: 4_000, unreachableEvictionTimeoutMs: 0 };
  assert.equal(defaultToleranceMs(TAINT_UNREACHABLE, one), 4_000);
  assert.equal(defaultToleranceMs(TAINT_NOT_READY, one), 4_000);
  assert.equal(defaultToleranceMs(TAINT_UNREACHABLE, split), 0, 'a node gone silent: at once');
  assert.equal(defaultToleranceMs(TAINT_NOT_READY, split), 4_000, 'a node that says it is not ready (stopping) is waited for');
  assert.equal(defaultToleranceMs(null, split), 4_000);
});

test('disruption: none ready is full (no evictions); >2 and ≥55 % unhealthy is partial (none in small clusters)', () => {
  assert.equal(disruption(2, 1), 'Normal');
  assert.equal(disruption(1, 2), 'Normal', 'two of three: not more than two');
  assert.equal(disruption(0, 1), 'FullDisruption');
  assert.equal(disruption(0, 3), 'FullDisruption');
  assert.equal(disruption(2, 3), 'PartialDisruption');
  assert.equal(disruption(3, 3), 'Normal', '50 %');
  assert.equal(evictionRate('Normal', 3), 0.1);
  assert.equal(evictionRate('PartialDisruption', 10), 0);
  assert.equal(evictionRate('PartialDisruption', 100), 0.01);
  assert.equal(evictionRate('FullDisruption', 100), 0);
});

test('the limiter lets one node go at once and the next one 1/rate later', () => {
  const l = new NodeEvictionLimiter();
  assert.equal(l.admit(0, 0.1), 0);
  assert.equal(l.admit(1_000, 0.1), 9_000);
  assert.equal(l.admit(9_999, 0.1), 1);
  assert.equal(l.admit(10_000, 0.1), 0);
  assert.equal(l.admit(100_000, 0), Infinity, 'rate 0: nothing');
  assert.equal(l.admit(200_000, 0.1), 0, 'a burst of one, not more');
  assert.ok(l.admit(200_001, 0.1) > 0);
});

test('control plane clock: never heard, no silence counts', () => {
  const c = new ControlPlaneClock(2_500);
  assert.equal(c.silentMs(0, 60_000), 0);
});

test('control plane clock: heard every 2 s, nothing counts; a 7 s stall counts past the expected gap', () => {
  const c = new ControlPlaneClock(2_500);
  for (let t = 0; t <= 10_000; t += 2_000) assert.equal(c.heard(t), 0);
  assert.equal(c.silentMs(0, 10_000), 0);
  // Silent from 10 s: the silence still going on counts from 12.5 s.
  assert.equal(c.silentMs(5_000, 12_000), 0);
  assert.equal(c.silentMs(5_000, 15_000), 2_500);
  assert.equal(c.heard(17_000), 4_500, 'the silence it ended');
  assert.equal(c.silentMs(5_000, 19_000), 4_500);
  assert.equal(c.silentMs(5_000, 20_000), 5_000, 'and 0.5 s of a new silence');
  assert.equal(c.silentMs(14_000, 19_000), 3_000, 'only the part after the probe');
  assert.equal(c.silentMs(18_000, 19_000), 0);
});

test('control plane clock: a silence counts for at most a minute', () => {
  const c = new ControlPlaneClock(2_500);
  c.heard(0);
  assert.equal(c.silentMs(0, 600_000), ControlPlaneClock.MAX_DISCOUNT_MS);
});

test('control plane clock: a node silent through a store stall keeps its grace; one dead before it does not', () => {
  const c = new ControlPlaneClock(2_500);
  const grace = 5_000;
  for (let t = 0; t <= 10_000; t += 2_000) c.heard(t);
  // The store stalls from 10.1 s to 17 s; a kubelet last heard at 9.9 s, a dead one at 1 s.
  const alive = { signature: 'a', atMs: 9_900 };
  const dead = { signature: 'd', atMs: 1_000 };
  const node = makeNode('True');
  for (const now of [15_000, 16_500, 17_000]) {
    assert.equal(observe(alive, node, now, grace + c.silentMs(alive.atMs, now)), 'KUBELET_READY', `at ${now} ms`);
  }
  assert.equal(observe(dead, node, 15_000, grace + c.silentMs(dead.atMs, 15_000)), 'LEASE_EXPIRED');
});
