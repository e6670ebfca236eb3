/**
 * The scheduling queue with a hand-driven clock: order by priority then age,
 * the per-pod back-off (1 s doubling to 10 s), parking unschedulable pods and
 * moving them back on the cluster events that may help them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makePod } from '../testing/builders.js';
import { SchedulingQueue, type QueuedPod } from './index.js';

function setup(opts: { maxUnschedulableMs?: number } = {}) {
  let now = 1_000_000;
  const q = new SchedulingQueue({ now: () => now, timers: false, ...opts });
  const clock = {
    advance: (ms: number) => {
      now += ms;
    },
  };
  /** Pops what is active now, without waiting. */
  const drain = async (): Promise<string[]> => {
    const out: string[] = [];
    while (q.lengths().active > 0) out.push((await q.pop())!.info.name);
    return out;
  };
  return { q, clock, drain };
}

describe('SchedulingQueue', () => {
  test('highest priority first, then first come', async () => {
    const { q, clock, drain } = setup();
    for (const [name, prio] of [['low-1', 0], ['high', 100], ['low-2', 0], ['mid', 10]] as const) {
      q.upsert(makePod(name).priority(prio).obj());
      clock.advance(1);
    }
    assert.deepEqual(await drain(), ['high', 'mid', 'low-1', 'low-2']);
  });

  test('a pod waits in the queue once however often it is added', async () => {
    const { q, drain } = setup();
    q.upsert(makePod('a').obj());
    q.upsert(makePod('a').label('x', 'y').obj());
    assert.deepEqual(await drain(), ['a']);
  });

  test('pop waits for a pod, and gets undefined when closed', async () => {
    const { q } = setup();
    const waiting = q.pop();
    q.upsert(makePod('late').obj());
    assert.equal((await waiting)!.info.name, 'late');
    const never = q.pop();
    q.close();
    assert.equal(await never, undefined);
  });

  test('back-off doubles per attempt from 1 s up to 10 s', () => {
    const { q } = setup();
    assert.deepEqual([1, 2, 3, 4, 5, 6, 20].map((n) => q.backoffMs(n)), [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  });

  test('a failed binding waits out its back-off', async () => {
    const { q, clock, drain } = setup();
    q.upsert(makePod('a').obj());
    const a = (await q.pop())!;
    q.errorAttempt(a.info.key);
    assert.deepEqual(q.lengths(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(999);
    q.flushBackoff();
    assert.deepEqual(await drain(), []);
    clock.advance(1);
    q.flushBackoff();
    const again = (await q.pop())!;
    assert.equal(again.attempts, 2);
    q.errorAttempt(again.info.key);
    clock.advance(1_999);
    q.flushBackoff();
    assert.equal(q.lengths().backoff, 1, 'second back-off is 2 s');
    clock.advance(1);
    q.flushBackoff();
    assert.deepEqual(await drain(), ['a']);
  });

  test('an unschedulable pod is parked until an event that may help it', async () => {
    const { q, clock, drain } = setup();
    q.upsert(makePod('cpu').obj());
    q.upsert(makePod('selector').obj());
    const cpu = (await q.pop())!;
    const sel = (await q.pop())!;
    q.unschedulableAttempt(cpu.info.key, new Set(['NodeResourcesFit']));
    q.unschedulableAttempt(sel.info.key, new Set(['NodeAffinity']));
    assert.equal(q.lengths().unschedulable, 2);
    clock.advance(5_000); // both back-offs (1 s) are over

    // A bound pod leaving frees resources: only the pod short of cpu moves.
    q.moveAll('AssignedPodDelete');
    assert.deepEqual(await drain(), ['cpu']);
    assert.equal(q.lengths().unschedulable, 1);

    // A node added may help anyone.
    q.moveAll('NodeAdd');
    assert.deepEqual(await drain(), ['selector']);
  });

  test('an event during its back-off moves a pod to back-off, not to active', async () => {
    const { q, clock, drain } = setup();
    q.upsert(makePod('a').obj());
    const a = (await q.pop())!;
    q.unschedulableAttempt(a.info.key, new Set(['NodeResourcesFit']));
    clock.advance(200);
    q.moveAll('NodeAdd');
    assert.deepEqual(q.lengths(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
    clock.advance(800);
    q.flushBackoff();
    assert.deepEqual(await drain(), ['a']);
  });

  test('an event while the pod was being tried sends it to back-off instead of parking it', async () => {
    const { q } = setup();
    q.upsert(makePod('a').obj());
    const a = (await q.pop())!;
    q.moveAll('NodeAdd'); // the node it needed appeared mid-attempt
    q.unschedulableAttempt(a.info.key, new Set(['NodeResourcesFit']));
    assert.deepEqual(q.lengths(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
  });

  test('parked pods go back after maxUnschedulableMs without an event', async () => {
    const { q, clock, drain } = setup({ maxUnschedulableMs: 60_000 });
    q.upsert(makePod('a').obj());
    q.unschedulableAttempt((await q.pop())!.info.key, new Set(['NodeAffinity']));
    clock.advance(59_999);
    q.flushUnschedulable();
    assert.equal(q.lengths().unschedulable, 1);
    clock.advance(1);
    q.flushUnschedulable();
    assert.deepEqual(await drain(), ['a']);
  });

  test('a change to a parked pod sends it back; a status-only change does not', async () => {
    const { q, clock, drain } = setup();
    q.upsert(makePod('a').obj());
    const a: QueuedPod = (await q.pop())!;
    q.unschedulableAttempt(a.info.key, new Set(['NodeAffinity']));
    clock.advance(2_000);
    q.upsert(makePod('a').phase('Pending').obj()); // same spec and metadata
    const withCondition = makePod('a').obj();
    (withCondition.status as { conditions?: unknown[] }).conditions = [{ type: 'PodScheduled', status: 'False' }];
    withCondition.metadata!.resourceVersion = '42';
    q.upsert(withCondition);
    assert.equal(q.lengths().unschedulable, 1, 'our own status write does not requeue');
    q.upsert(makePod('a').nodeSelector({ zone: 'b' }).obj());
    assert.deepEqual(await drain(), ['a']);
  });

  test('deleted pods leave every queue, even mid-attempt', async () => {
    const { q } = setup();
    q.upsert(makePod('a').obj());
    q.upsert(makePod('b').obj());
    const a = (await q.pop())!;
    q.delete(a.info.key);
    q.unschedulableAttempt(a.info.key, new Set(['NodeResourcesFit']));
    q.delete('default/b');
    assert.deepEqual(q.lengths(), { active: 0, backoff: 0, unschedulable: 0, inFlight: 0 });
  });

  test('real timers: a back-off ends on its own', async () => {
    const q = new SchedulingQueue({ backOff: { initialMs: 30, maxMs: 60 } });
    try {
      q.upsert(makePod('a').obj());
      q.errorAttempt((await q.pop())!.info.key);
      const started = Date.now();
      const again = await Promise.race([q.pop(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000))]);
      assert.equal(again?.info.name, 'a');
      assert.ok(Date.now() - started >= 25, 'waited for the back-off');
    } finally {
      q.close();
    }
  });
});
