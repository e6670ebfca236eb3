import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  isLeading,
  LEADER_TIMING,
  LEASE_LOST,
  leaderMachine,
  takeoverDelay,
  type AcquireOutput,
  type Holder,
  type LeaseRef,
  type RenewOutput,
} from './leader.machine.js';
import { settle } from './testing/settle.js';

const other = (revision: number, createdMs = 0, term = revision): Holder => ({ identity: 'b', term, revision, createdMs });
const leaseLost = () => Object.assign(new Error('the lease is held by someone else'), { reason: LEASE_LOST });

/**
 * A candidate over a scripted store: each actor call takes the next queued
 * answer (a function of the clock), or the default one. Leadership start/stop
 * are recorded with the simulated time.
 */
function harness() {
  const clock = new SimulatedClock();
  const now = () => clock.now();
  const calls = { acquire: [] as LeaseRef[], renew: [] as LeaseRef[], release: [] as LeaseRef[] };
  const acquireAnswers: (() => AcquireOutput | Error)[] = [];
  const renewAnswers: (() => RenewOutput | Error)[] = [];
  const gates: { renew?: Promise<void> } = {};
  const log: string[] = [];
  let revision = 10;
  const answer = <T>(a: T | Error): T => {
    if (a instanceof Error) throw a;
    return a;
  };
  const machine = leaderMachine.provide({
    actors: {
      acquire: fromPromise<AcquireOutput, LeaseRef>(async ({ input }) => {
        calls.acquire.push(input);
        const next = acquireAnswers.shift();
        if (next) return answer(next());
        revision++;
        return { acquired: true, term: revision, revision, sentMs: now(), ackMs: now() };
      }),
      renew: fromPromise<RenewOutput, LeaseRef>(async ({ input }) => {
        calls.renew.push(input);
        const sentMs = now();
        await gates.renew;
        const next = renewAnswers.shift();
        if (next) return answer(next());
        return { revision: ++revision, sentMs, ackMs: now() };
      }),
      release: fromPromise<void, LeaseRef>(async ({ input }) => {
        log.push(`release@${now()}`);
        calls.release.push(input);
      }),
    },
    actions: {
      startLeading: () => void log.push(`start@${now()}`),
      stopLeading: () => void log.push(`stop@${now()}`),
    },
  });
  const actor = createActor(machine, { clock, input: { identity: 'a' } });
  const advance = async (ms: number) => {
    clock.increment(ms);
    await settle();
  };
  const state = () => actor.getSnapshot();
  return { actor, clock, calls, acquireAnswers, renewAnswers, gates, log, advance, state };
}

const { leaseMs, renewMs, marginMs, retryMs, expirySlackMs } = LEADER_TIMING;

test('a candidate that creates the lease leads, renewing every renewMs', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  assert.ok(h.state().matches('Leader'));
  assert.equal(isLeading(h.state(), h.clock.now()), true);
  assert.deepEqual(h.log, ['start@0']);
  assert.equal(h.state().context.deadlineAtMs, leaseMs - marginMs);
  for (let n = 1; n <= 10; n++) {
    await h.advance(renewMs);
    assert.equal(h.calls.renew.length, n, `renewals after ${n * renewMs} ms`);
    assert.equal(h.state().context.deadlineAtMs, n * renewMs + leaseMs - marginMs, 'each renewal moves the deadline');
  }
  assert.equal(h.calls.renew.at(-1)!.term, 11, 'renewals keep the term of the acquisition');
  assert.equal(h.calls.renew.at(-1)!.revision, 20, 'each renewal is a CAS on the previous one');
  assert.deepEqual(h.log, ['start@0'], 'leadership never stopped');
  h.actor.stop();
});

test('failed renewals are retried every retryMs; at the deadline the leader stops at once', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  for (let i = 0; i < 50; i++) h.renewAnswers.push(() => new Error('503 jetstream is not enabled'));
  const deadline = h.state().context.deadlineAtMs;
  await h.advance(renewMs);
  assert.equal(h.calls.renew.length, 1);
  assert.ok(h.state().matches({ Leader: { Lease: 'RetryWait' } }));
  for (let t = renewMs + retryMs; t < deadline; t += retryMs) {
    await h.advance(retryMs);
    assert.ok(h.state().matches('Leader'), `still leading at ${t}`);
  }
  const retries = h.calls.renew.length;
  assert.equal(retries, 1 + Math.floor((deadline - 1 - renewMs) / retryMs), 'one attempt per retryMs');
  await h.advance(deadline - h.clock.now() - 1);
  assert.ok(h.state().matches('Leader'));
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(99, h.clock.now()), nowMs: h.clock.now() }));
  await h.advance(1);
  assert.deepEqual(h.log, ['start@0', `stop@${deadline}`], 'stopped exactly at the deadline');
  assert.equal(isLeading(h.state(), h.clock.now()), false);
  assert.equal(h.calls.acquire.length, 2, 'and competed again at once');
  assert.ok(h.state().matches('Follower'));
  h.actor.stop();
});

test('a renewal acknowledged after its own deadline does not count', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  let release!: () => void;
  h.gates.renew = new Promise<void>((r) => (release = r));
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(99, h.clock.now()), nowMs: h.clock.now() }));
  await h.advance(renewMs);
  // The deadline of the acquisition passes while the renewal hangs.
  await h.advance(leaseMs - marginMs - renewMs - 1);
  assert.ok(h.state().matches({ Leader: { Lease: 'Renewing' } }));
  await h.advance(1);
  assert.deepEqual(h.log, ['start@0', `stop@${leaseMs - marginMs}`]);
  assert.ok(h.state().matches('Follower'));
  delete h.gates.renew;
  release();
  await settle();
  assert.ok(h.state().matches('Follower'), 'the late answer changed nothing');
  assert.deepEqual(h.log, ['start@0', `stop@${leaseMs - marginMs}`]);
  h.actor.stop();
});

test('a renewal answered after the deadline it would set steps down', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  h.renewAnswers.push(() => ({ revision: 30, sentMs: 0, ackMs: leaseMs }));
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(99, h.clock.now()), nowMs: h.clock.now() }));
  await h.advance(renewMs);
  assert.deepEqual(h.log, ['start@0', `stop@${renewMs}`]);
  assert.ok(h.state().matches('Follower'));
  h.actor.stop();
});

test('a renewal that finds the lease taken steps down at once', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  h.renewAnswers.push(() => leaseLost());
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(50, h.clock.now()), nowMs: h.clock.now() }));
  await h.advance(renewMs);
  assert.deepEqual(h.log, ['start@0', `stop@${renewMs}`]);
  assert.ok(h.state().matches('Follower'));
  assert.equal(h.state().context.holder?.identity, 'b');
  h.actor.stop();
});

test('a follower tries to take over at created + lease, and each renewal it sees moves that', async () => {
  const h = harness();
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(3, 0), nowMs: 0 }));
  h.actor.start();
  await settle();
  assert.ok(h.state().matches('Follower'));
  assert.equal(h.state().context.expiresInMs, leaseMs + expirySlackMs);
  await h.advance(1_000);
  h.actor.send({ type: 'HOLDER', holder: other(4, 1_000, 3), nowMs: 1_000 });
  await h.advance(leaseMs + expirySlackMs - 1);
  assert.equal(h.calls.acquire.length, 1, 'the renewal moved the takeover');
  await h.advance(1);
  assert.equal(h.calls.acquire.length, 2, `tried at ${h.clock.now()}`);
  assert.equal(h.clock.now(), 1_000 + leaseMs + expirySlackMs);
  assert.ok(h.state().matches('Leader'));
  h.actor.stop();
});

test('a stale watch event is ignored; a release is taken over at once', async () => {
  const h = harness();
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(7, 0), nowMs: 0 }));
  h.actor.start();
  await settle();
  h.actor.send({ type: 'HOLDER', holder: other(6, 0), nowMs: 0 });
  h.actor.send({ type: 'RELEASED', revision: 5, nowMs: 0 });
  assert.ok(h.state().matches('Follower'));
  assert.equal(h.state().context.holder?.revision, 7);
  await h.advance(100);
  h.actor.send({ type: 'RELEASED', revision: 8, nowMs: 100 });
  await settle();
  assert.equal(h.calls.acquire.length, 2);
  assert.ok(h.state().matches('Leader'));
  assert.equal(h.log[0], 'start@100');
  h.actor.stop();
});

test("another's write or a deletion seen while creating makes the candidate ask again", async () => {
  const h = harness();
  h.acquireAnswers.push(() => ({ acquired: true, term: 7, revision: 7, sentMs: h.clock.now(), ackMs: h.clock.now() }));
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(8, h.clock.now()), nowMs: h.clock.now() }));
  h.actor.start();
  // Its own create (7) seen through the watch changes nothing; another's write (8) does.
  h.actor.send({ type: 'HOLDER', holder: { identity: 'a', term: 7, revision: 7, createdMs: 0 }, nowMs: 0 });
  assert.ok(h.state().matches({ Candidate: { Acquiring: 'Current' } }));
  h.actor.send({ type: 'HOLDER', holder: other(8, 0), nowMs: 0 });
  assert.ok(h.state().matches({ Candidate: { Acquiring: 'Superseded' } }));
  await settle();
  assert.equal(h.calls.acquire.length, 2, 'the acknowledged create was not trusted');
  assert.ok(h.state().matches('Follower'));
  assert.deepEqual(h.log, [], 'never led');
  // The holder releases (9): the follower creates; a deletion (10) seen meanwhile sends it round again.
  h.actor.send({ type: 'RELEASED', revision: 9, nowMs: 0 });
  assert.ok(h.state().matches({ Candidate: { Acquiring: 'Current' } }));
  h.actor.send({ type: 'RELEASED', revision: 10, nowMs: 0 });
  assert.ok(h.state().matches({ Candidate: { Acquiring: 'Superseded' } }));
  await settle();
  assert.equal(h.calls.acquire.length, 4);
  assert.ok(h.state().matches('Leader'));
  h.actor.stop();
});

test('a holder kept past its expiry is polled every retryMs, not in a loop', async () => {
  const h = harness();
  for (let i = 0; i < 5; i++) h.acquireAnswers.push(() => ({ acquired: false, holder: other(3, -10_000), nowMs: h.clock.now() }));
  h.actor.start();
  await settle();
  assert.equal(h.state().context.expiresInMs, retryMs);
  for (let i = 0; i < 3; i++) await h.advance(retryMs);
  assert.equal(h.calls.acquire.length, 4);
  assert.equal(takeoverDelay(LEADER_TIMING, undefined, 0), retryMs);
  h.actor.stop();
});

test('a failed create is retried after retryMs; a holder seen meanwhile is followed', async () => {
  const h = harness();
  h.acquireAnswers.push(() => new Error('timeout'), () => new Error('timeout'));
  h.actor.start();
  await settle();
  assert.ok(h.state().matches({ Candidate: 'BackOff' }));
  await h.advance(retryMs);
  assert.equal(h.calls.acquire.length, 2);
  h.actor.send({ type: 'HOLDER', holder: other(12, h.clock.now()), nowMs: h.clock.now() });
  assert.ok(h.state().matches('Follower'));
  h.actor.stop();
});

test('a leader deposed by a newer term stops at once; its own renewals do not depose it', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  const { term } = h.state().context;
  h.actor.send({ type: 'HOLDER', holder: { identity: 'a', term, revision: term + 1, createdMs: 0 }, nowMs: 0 });
  h.actor.send({ type: 'HOLDER', holder: other(term - 1), nowMs: 0 });
  assert.ok(h.state().matches('Leader'), 'own renewal and an older holder are not news');
  h.actor.send({ type: 'HOLDER', holder: other(term + 5, 0), nowMs: 0 });
  assert.deepEqual(h.log, ['start@0', 'stop@0']);
  assert.ok(h.state().matches('Follower'));
  h.actor.stop();
});

test('STOP as leader stops the work, then releases the lease at its last revision', async () => {
  const h = harness();
  h.actor.start();
  await settle();
  await h.advance(renewMs);
  const { term, revision } = h.state().context;
  h.actor.send({ type: 'STOP' });
  await settle();
  assert.deepEqual(h.log, ['start@0', `stop@${renewMs}`, `release@${renewMs}`]);
  assert.deepEqual(h.calls.release, [{ identity: 'a', term, revision }]);
  assert.equal(h.state().status, 'done');
});

test('STOP as follower releases nothing', async () => {
  const h = harness();
  h.acquireAnswers.push(() => ({ acquired: false, holder: other(3, 0), nowMs: 0 }));
  h.actor.start();
  await settle();
  h.actor.send({ type: 'STOP' });
  assert.equal(h.state().status, 'done');
  assert.deepEqual(h.calls.release, []);
  assert.deepEqual(h.log, []);
});
