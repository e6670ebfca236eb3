import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calculateStatus, getCondition, pausedCondition, rolloutStatus } from './deployment-status.js';
import { REVISION, REVISION_HISTORY, setNewReplicaSetAnnotations } from './revisions.js';
import { canonicalJson, computeTemplateHash, equalIgnoreHash, POD_TEMPLATE_HASH } from './template-hash.js';
import { atMs, makeDeployment, makeRS } from './testing.js';
import type { PodTemplate } from './types.js';

const template = (image: string, extra: Record<string, unknown> = {}): PodTemplate => ({
  metadata: { labels: { app: 'web', tier: 'front' } },
  spec: { containers: [{ name: 'main', image, ...extra }], restartPolicy: 'Always' },
});

test('the template hash is stable, ignores key order and empty values, and uses the no-vowel alphabet', () => {
  const a = template('busybox:1.36');
  const reordered: PodTemplate = { spec: { restartPolicy: 'Always', containers: [{ image: 'busybox:1.36', name: 'main' }] }, metadata: { labels: { tier: 'front', app: 'web' } } };
  const withEmpties: PodTemplate = { ...template('busybox:1.36', { env: [], resources: {} }), metadata: { labels: { app: 'web', tier: 'front' }, annotations: {} } };
  const h = computeTemplateHash(a);
  assert.equal(computeTemplateHash(reordered), h);
  assert.equal(computeTemplateHash(withEmpties), h);
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
  // A regression pin: RS names must not change between versions of the controller.
  assert.equal(h, computeTemplateHash(JSON.parse(canonicalJson(a))));
  assert.equal(computeTemplateHash({}), '5859f96865', 'FNV-1a 32 of "{}" (1415952421), each digit safe-encoded');
  assert.notEqual(computeTemplateHash(template('busybox:1.37')), h, 'another image, another hash');
  assert.notEqual(computeTemplateHash(a, 1), h, 'a collision count changes it');
  assert.notEqual(computeTemplateHash(a, 1), computeTemplateHash(a, 2));
});

test('templates are equal apart from the pod-template-hash label', () => {
  const d = template('busybox:1.36');
  const rs = template('busybox:1.36');
  rs.metadata!.labels![POD_TEMPLATE_HASH] = 'abc';
  assert.equal(equalIgnoreHash(d, rs), true);
  assert.equal(d.metadata!.labels![POD_TEMPLATE_HASH], undefined, 'the inputs are left alone');
  assert.equal(equalIgnoreHash(d, template('busybox:1.37')), false);
});

test('a reused ReplicaSet (a rollback) moves up to the new revision and keeps the old one in its history', () => {
  const d = makeDeployment(3);
  d.metadata!.annotations = { team: 'a', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
  const rs = makeRS('web-1', 0);
  rs.metadata!.annotations = { [REVISION]: '1' };
  assert.equal(setNewReplicaSetAnnotations(d, rs, 3, true, { desired: 3, max: 4 }), true);
  assert.deepEqual(rs.metadata!.annotations, { [REVISION]: '3', [REVISION_HISTORY]: '1', team: 'a' });
  assert.equal(setNewReplicaSetAnnotations(d, rs, 3, true, { desired: 3, max: 4 }), false, 'idempotent');
  assert.equal(setNewReplicaSetAnnotations(d, rs, 2, true, { desired: 3, max: 4 }), false, 'never lowered');
  const fresh = makeRS('web-2', 0);
  setNewReplicaSetAnnotations(d, fresh, 4, false, { desired: 3, max: 4 });
  assert.deepEqual(
    [fresh.metadata!.annotations![REVISION], fresh.metadata!.annotations!['deployment.kubernetes.io/desired-replicas'], fresh.metadata!.annotations!['deployment.kubernetes.io/max-replicas']],
    ['4', '3', '4'],
  );
});

test('status: counts from the ReplicaSets, Available by replicas − maxUnavailable', () => {
  const d = makeDeployment(4, { maxSurge: 1, maxUnavailable: 1, generation: 7 });
  const oldRS = makeRS('old', 1, { available: 1 });
  const newRS = makeRS('new', 3, { current: 3, available: 2 });
  newRS.status!.readyReplicas = 3;
  const s = calculateStatus([oldRS, newRS], newRS, d, new Date(atMs(0)));
  assert.deepEqual(
    [s.observedGeneration, s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas],
    [7, 4, 3, 4, 3, 1],
  );
  assert.deepEqual([getCondition(s, 'Available')?.status, getCondition(s, 'Available')?.reason], ['True', 'MinimumReplicasAvailable']);
  const short = calculateStatus([makeRS('new', 4, { available: 2 })], undefined, d, new Date(atMs(0)));
  assert.deepEqual([getCondition(short, 'Available')?.status, getCondition(short, 'Available')?.reason], ['False', 'MinimumReplicasUnavailable']);
});

test('Progressing: ReplicaSetUpdated on progress, NewReplicaSetAvailable once complete, ProgressDeadlineExceeded when stuck', () => {
  const d = makeDeployment(2, { progressDeadlineSeconds: 60 });
  d.status = {
    replicas: 2,
    updatedReplicas: 0,
    availableReplicas: 2,
    conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', lastUpdateTime: new Date(atMs(0)).toISOString(), lastTransitionTime: new Date(atMs(0)).toISOString() }],
  };
  const progressed = rolloutStatus([makeRS('old', 1), makeRS('new', 1)], makeRS('new', 1), d, new Date(atMs(5)));
  const p1 = getCondition(progressed.status, 'Progressing')!;
  assert.deepEqual([p1.status, p1.reason, p1.message], ['True', 'ReplicaSetUpdated', 'ReplicaSet "new" is progressing.']);
  assert.equal(p1.lastTransitionTime, d.status.conditions![0]!.lastTransitionTime, 'still True: the transition time stays');
  assert.ok(progressed.recheckAfterMs! > 60_000 - 1000, 'looked at again when the deadline would pass');

  const done = rolloutStatus([makeRS('old', 0), makeRS('new', 2)], makeRS('new', 2), { ...d, status: progressed.status }, new Date(atMs(6)));
  const p2 = getCondition(done.status, 'Progressing')!;
  assert.deepEqual([p2.status, p2.reason, p2.message], ['True', 'NewReplicaSetAvailable', 'ReplicaSet "new" has successfully progressed.']);
  assert.equal(done.recheckAfterMs, undefined);

  const stuck = { ...d, status: { ...d.status, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } };
  const late = rolloutStatus([makeRS('old', 1), makeRS('new', 1, { available: 0 })], makeRS('new', 1, { available: 0 }), stuck, new Date(atMs(61)));
  const p3 = getCondition(late.status, 'Progressing')!;
  assert.deepEqual([p3.status, p3.reason], ['False', 'ProgressDeadlineExceeded']);
});

test('pausing and resuming set the Progressing condition once', () => {
  const d = makeDeployment(2);
  d.spec!.paused = true;
  assert.deepEqual([pausedCondition(d, new Date(atMs(0)))?.status, pausedCondition(d, new Date(atMs(0)))?.reason], ['Unknown', 'DeploymentPaused']);
  d.status = { conditions: [pausedCondition(d, new Date(atMs(0)))!] };
  assert.equal(pausedCondition(d, new Date(atMs(1))), undefined);
  d.spec!.paused = false;
  assert.equal(pausedCondition(d, new Date(atMs(2)))?.reason, 'DeploymentResumed');
});
