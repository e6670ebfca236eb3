import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPodActive, isPodAvailable, msUntilAvailable, POD_DELETION_COST, podsToDelete } from './pods.js';
import { calculateReplicaStatus } from './replica-status.js';
import { slowStartBatch } from './slow-start.js';
import { atMs, makePod, makeRS } from './testing.js';

const names = (pods: { metadata?: { name?: string } }[]) => pods.map((p) => p.metadata!.name);

test('deletion ranking: each rule decides when the ones before it tie', () => {
  const cases: { rule: string; first: ReturnType<typeof makePod>; second: ReturnType<typeof makePod> }[] = [
    { rule: 'unscheduled before scheduled', first: makePod('a'), second: makePod('b').node('n1') },
    { rule: 'pending before running', first: makePod('a').node('n1'), second: makePod('b').node('n1').phase('Running') },
    { rule: 'not ready before ready', first: makePod('a').node('n1').phase('Running'), second: makePod('b').node('n1').ready() },
    { rule: 'lower deletion cost first', first: makePod('a').node('n1').ready().annotate(POD_DELETION_COST, '-5'), second: makePod('b').node('n1').ready() },
    { rule: 'ready a shorter time first', first: makePod('a').node('n1').ready(50), second: makePod('b').node('n1').ready(10) },
    { rule: 'more restarts first', first: makePod('a').node('n1').ready().restarts(3), second: makePod('b').node('n1').ready().restarts(1) },
    { rule: 'newer first', first: makePod('a').node('n1').ready().created(20), second: makePod('b').node('n1').ready().created(5) },
  ];
  for (const c of cases) {
    const first = c.first.build();
    const second = c.second.build();
    assert.deepEqual(names(podsToDelete([second, first], [], 1)), ['a'], c.rule);
    assert.deepEqual(names(podsToDelete([first, second], [], 1)), ['a'], `${c.rule} (either order)`);
  }
});

test('deletion ranking: a pod on a node crowded with its family goes before one alone', () => {
  const crowded = makePod('crowded').node('n1').ready().build();
  const alone = makePod('alone').node('n2').ready().created(10).build();
  const sibling = makePod('sibling').node('n1').ready().build(); // another ReplicaSet's pod of the same Deployment
  assert.deepEqual(names(podsToDelete([alone, crowded], [alone, crowded, sibling], 1)), ['crowded'], 'crowding beats being newer');
  const goneSibling = makePod('sibling').node('n1').ready().deleting().build();
  assert.deepEqual(names(podsToDelete([crowded, alone], [alone, crowded, goneSibling], 1)), ['alone'], 'terminating pods do not crowd a node: then the newer one goes');
});

test('podsToDelete takes exactly the count asked, or all', () => {
  const pods = ['a', 'b', 'c'].map((n) => makePod(n).node('n').ready().build());
  assert.equal(podsToDelete(pods, pods, 2).length, 2);
  assert.equal(podsToDelete(pods, pods, 5).length, 3);
  assert.equal(podsToDelete(pods, pods, 0).length, 0);
});

test('active: not finished and not being deleted', () => {
  assert.equal(isPodActive(makePod('p').ready().build()), true);
  assert.equal(isPodActive(makePod('p').build()), true, 'pending counts');
  assert.equal(isPodActive(makePod('p').ready().deleting().build()), false);
  assert.equal(isPodActive(makePod('p').phase('Succeeded').build()), false);
  assert.equal(isPodActive(makePod('p').phase('Failed').build()), false);
});

test('available: ready for minReadySeconds, and when that will be', () => {
  const p = makePod('p').ready(10).build();
  assert.equal(isPodAvailable(p, 0, atMs(10)), true);
  assert.equal(isPodAvailable(p, 5, atMs(14)), false);
  assert.equal(isPodAvailable(p, 5, atMs(15)), true);
  assert.equal(msUntilAvailable(p, 5, atMs(12)), 3_000);
  assert.equal(msUntilAvailable(p, 5, atMs(16)), undefined);
  assert.equal(isPodAvailable(makePod('q').phase('Running').build(), 0, atMs(0)), false);
});

test('replica status: counts of the owned active pods, and a failure condition while managing fails', () => {
  const rs = makeRS('web-1', 3);
  rs.spec!.minReadySeconds = 5;
  rs.metadata!.generation = 4;
  const pods = [
    makePod('a').labels({ app: 'web' }).ready(0).build(),
    makePod('b').labels({ app: 'web' }).ready(9).build(),
    makePod('c').labels({ other: 'x' }).build(),
  ];
  const s = calculateReplicaStatus(rs, pods, undefined, new Date(atMs(10)));
  assert.deepEqual(
    [s.replicas, s.fullyLabeledReplicas, s.readyReplicas, s.availableReplicas, s.observedGeneration],
    [3, 2, 2, 1, 4],
  );
  assert.equal(s.conditions, undefined);
  const failed = calculateReplicaStatus(rs, pods.slice(0, 1), new Error('quota exceeded'), new Date(atMs(10)));
  assert.deepEqual([failed.conditions?.[0]?.type, failed.conditions?.[0]?.reason, failed.conditions?.[0]?.message], ['ReplicaFailure', 'FailedCreate', 'quota exceeded']);
  const healed = calculateReplicaStatus({ ...rs, status: failed }, pods, undefined, new Date(atMs(11)));
  assert.equal(healed.conditions, undefined, 'removed once managing works again');
});

test('slow start: batches of 1, 2, 4, … in parallel; a failing batch stops the rest', async () => {
  // Each call notes how many calls are in flight when it starts: a batch reads 1, 2, …, size.
  const inFlightAtStart: number[] = [];
  let inFlight = 0;
  const call = async () => {
    inFlightAtStart.push(++inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
  };
  assert.deepEqual(await slowStartBatch(10, call), { successes: 10 });
  const batches = inFlightAtStart.reduce<number[]>((b, n) => (n === 1 ? [...b, 1] : [...b.slice(0, -1), n]), []);
  assert.deepEqual(batches, [1, 2, 4, 3]);

  let n = 0;
  const failThird = async () => {
    if (++n === 3) throw new Error('quota exceeded');
  };
  const r = await slowStartBatch(10, failThird);
  assert.equal(n, 3, 'batches of 1 and 2 ran, the second one failed: no third batch');
  assert.equal(r.successes, 2);
  assert.match(String(r.error), /quota exceeded/);
});
