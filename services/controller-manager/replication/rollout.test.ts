import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isScalingEvent, maxSurge, maxUnavailable, newRSNewReplicas, planOldScaleDown, planScale, resolveFenceposts, scaledValue } from './rollout.js';
import { makeDeployment, makeRS } from './testing.js';
import type { ReplicaSetView } from './types.js';

const sizes = (steps: { rs: ReplicaSetView; replicas: number }[]) => Object.fromEntries(steps.map((s) => [s.rs.metadata!.name, s.replicas]));

test('percentages: the surge rounds up, unavailability down', () => {
  assert.equal(scaledValue('25%', 10, true), 3);
  assert.equal(scaledValue('25%', 10, false), 2);
  assert.equal(scaledValue('33%', 3, true), 1);
  assert.equal(scaledValue('33%', 3, false), 0);
  assert.equal(scaledValue(2, 10, true), 2);
  assert.equal(scaledValue('100%', 7, false), 7);
  assert.throws(() => scaledValue('abc', 10, true), /must be an integer or a percentage/);
});

test('fenceposts: both zero means one unavailable; unavailability never above replicas; Recreate has neither', () => {
  assert.deepEqual(resolveFenceposts('25%', '25%', 10), { surge: 3, unavailable: 2 });
  assert.deepEqual(resolveFenceposts('25%', '25%', 1), { surge: 1, unavailable: 0 });
  assert.deepEqual(resolveFenceposts(0, '10%', 5), { surge: 0, unavailable: 1 });
  assert.equal(maxUnavailable(makeDeployment(2, { maxUnavailable: 5 })), 2);
  assert.equal(maxUnavailable(makeDeployment(0, { maxUnavailable: 1 })), 0);
  assert.equal(maxUnavailable(makeDeployment(4, { strategy: 'Recreate' })), 0);
  assert.equal(maxSurge(makeDeployment(4, { strategy: 'Recreate' })), 0);
  assert.equal(maxSurge(makeDeployment(4, { maxSurge: '50%' })), 2);
});

test('the new ReplicaSet grows up to replicas + maxSurge pods in all, never past replicas', () => {
  // Kubernetes' TestNewRSNewReplicas.
  const other = makeRS('other', 5);
  const grow = (replicas: number, newReplicas: number, surge: number, strategy: 'RollingUpdate' | 'Recreate' = 'RollingUpdate') =>
    newRSNewReplicas(makeDeployment(replicas, { maxSurge: surge, maxUnavailable: 1, strategy }), [other], makeRS('new', newReplicas));
  assert.equal(grow(1, 5, 1), 5, 'already at the most pods: stays');
  assert.equal(grow(6, 2, 10), 6, 'grows to replicas, not to the surge');
  assert.equal(grow(3, 1, 1, 'Recreate'), 3);
  const d = makeDeployment(4, { maxSurge: 1, maxUnavailable: 1 });
  const newRS = makeRS('new', 0);
  assert.equal(newRSNewReplicas(d, [makeRS('old', 4), newRS], newRS), 1);
  const grown = makeRS('new', 1);
  assert.equal(newRSNewReplicas(d, [makeRS('old', 3), grown], grown), 2);
  assert.equal(newRSNewReplicas(d, [makeRS('old', 4), grown], grown), 1, 'at replicas + maxSurge: stays');
});

test('an old ReplicaSet whose shrink is not done yet still counts its pods toward the surge', () => {
  const d = makeDeployment(3, { maxSurge: 1, maxUnavailable: 1 });
  const newRS = makeRS('new', 1);
  const shrinking = makeRS('old', 2, { current: 3 });
  assert.equal(newRSNewReplicas(d, [shrinking, newRS], newRS), 1, 'waits: 3 old + 1 new already make 4');
  assert.equal(newRSNewReplicas(d, [makeRS('old', 2), newRS], newRS), 2, 'grows once the old ReplicaSet reports 2');
});

test('old ReplicaSets shrink within maxUnavailable, unhealthy pods first, oldest ReplicaSet first', () => {
  const d = makeDeployment(10, { maxSurge: 0, maxUnavailable: 2 });
  assert.deepEqual(sizes(planOldScaleDown(d, [makeRS('old', 10)], makeRS('new', 0))), { old: 8 }, 'two may go');
  assert.deepEqual(sizes(planOldScaleDown(d, [makeRS('old', 10, { available: 8 })], makeRS('new', 0))), { old: 8 }, 'the two unhealthy ones, and no more');
  assert.deepEqual(sizes(planOldScaleDown(d, [makeRS('old', 8)], makeRS('new', 2, { available: 0 }))), {}, 'the new pods are not up yet: nothing more may go');
  assert.deepEqual(
    sizes(planOldScaleDown(d, [makeRS('b', 8, { created: 5 }), makeRS('a', 2, { created: 1 })], makeRS('new', 2))),
    { a: 0, b: 6 },
    'four above the minimum: the oldest ReplicaSet goes first, the next one gives the rest',
  );
  const noUnavailable = makeDeployment(10, { maxSurge: 2, maxUnavailable: 0 });
  assert.deepEqual(sizes(planOldScaleDown(noUnavailable, [makeRS('old', 10)], makeRS('new', 2, { available: 0 }))), {});
  assert.deepEqual(sizes(planOldScaleDown(noUnavailable, [makeRS('old', 10)], makeRS('new', 2))), { old: 8 });
});

test('an old ReplicaSet shrunk but not yet reporting it counts no more available pods than its new size', () => {
  const d = makeDeployment(3, { maxSurge: 1, maxUnavailable: 1 });
  // Scaled 3 → 2 a moment ago; its status still says 3 available. Taking 2 more would leave 1.
  const steps = planOldScaleDown(d, [makeRS('old', 2, { current: 3, available: 3 })], makeRS('new', 2, { available: 1 }));
  assert.deepEqual(sizes(steps), { old: 1 });
});

test('scaling a Deployment outside a rollout: the only active ReplicaSet takes it all', () => {
  const d = makeDeployment(12, { maxSurge: 0, maxUnavailable: 0 });
  assert.deepEqual(sizes(planScale(d, makeRS('new', 10), [makeRS('old', 0)])), { new: 12 });
  assert.deepEqual(sizes(planScale(d, undefined, [makeRS('older', 0, { created: 1 }), makeRS('old', 0, { created: 2 })])), { old: 12 }, 'none active: the newest');
});

test('scaling mid-rollout spreads the change in proportion (Kubernetes TestScale cases)', () => {
  // The ReplicaSets were sized for the old Deployment size; maxSurge 0.
  const scale = (from: number, to: number, newRS: [number, number], olds: [string, number, number][]) => {
    const sizedFor = { desired: from, max: from };
    const d = makeDeployment(to, { maxSurge: 0, maxUnavailable: 0 });
    return sizes(planScale(d, makeRS('new', newRS[0], { created: newRS[1], sizedFor }), olds.map(([n, r, c]) => makeRS(n, r, { created: c, sizedFor }))));
  };
  assert.deepEqual(scale(5, 10, [2, 3], [['v1', 3, 1]]), { new: 4, v1: 6 });
  assert.deepEqual(scale(5, 3, [2, 3], [['v1', 3, 1]]), { new: 1, v1: 2 });
  assert.deepEqual(scale(9, 4, [8, 3], [['v1', 1, 1]]), { new: 4, v1: 0 });
  assert.deepEqual(scale(7, 10, [2, 3], [['v2', 3, 2], ['v1', 2, 1]]), { new: 3, v2: 4, v1: 3 });
  assert.deepEqual(scale(13, 8, [2, 3], [['v2', 8, 2], ['v1', 3, 1]]), { new: 1, v2: 5, v1: 2 });
  assert.deepEqual(scale(3, 4, [1, 3], [['v2', 1, 2], ['v1', 1, 1]]), { new: 2, v2: 1, v1: 1 }, 'leftover to the newest of the biggest when growing');
  assert.deepEqual(scale(10, 9, [3, 3], [['v2', 4, 2], ['v1', 3, 1]]), { new: 3, v2: 3, v1: 3 }, 'leftover from the biggest when shrinking');
});

test('a scaling event: an active ReplicaSet was sized for another Deployment size', () => {
  const d = makeDeployment(5);
  assert.equal(isScalingEvent(d, [makeRS('a', 3, { sizedFor: { desired: 3, max: 4 } })]), true);
  assert.equal(isScalingEvent(d, [makeRS('a', 5, { sizedFor: { desired: 5, max: 7 } }), makeRS('b', 0, { sizedFor: { desired: 2, max: 3 } })]), false, 'inactive ones do not count');
  assert.equal(isScalingEvent(d, [makeRS('a', 3)]), false, 'no annotation: not a scale');
});
