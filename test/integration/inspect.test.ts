/**
 * Live inspection over a real nats-server: a tracked actor's transitions are
 * published as they happen, a late joiner gets every actor's state from the
 * components, and a burst beyond the rate bound is folded, not queued.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise } from 'xstate';
import { decodeTransition, gatherStates, NatsInspector, startInspector, stateString, TRANSITIONS_SUBJECT, type Transition } from '../../services/lib/inspect/index.js';
import { apiServerMachine } from '../../statecharts/apiserver.machine.js';
import { startTestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';

/** The API server's machine with actors that finish at once: Connecting → SyncingCaches → StartingServers → Serving. */
const quickMachine = apiServerMachine.provide({
  actors: {
    connect: fromPromise<void>(async () => undefined),
    syncCaches: fromPromise<void>(async () => undefined),
    startServers: fromPromise<void>(async () => undefined),
    drain: fromPromise<void>(async () => undefined),
  },
});

test('state strings: nested states as dotted paths, parallel regions side by side', () => {
  assert.equal(stateString('Pending'), 'Pending');
  assert.equal(stateString({ ContainerCreating: 'CreatingSandbox' }), 'ContainerCreating.CreatingSandbox');
  assert.equal(stateString({ Running: { Up: { Startup: 'Started', Uptime: 'Stable' } } }), 'Running.Up.Startup.Started, Running.Up.Uptime.Stable');
});

test("a tracked actor's transitions are published live, and a late joiner gets its state", async (t) => {
  const nats = await startTestNats(t);
  const nc = await nats.connect('inspect-test');
  const watcher = await nats.connect('inspect-watcher');
  const seen: Transition[] = [];
  const sub = watcher.subscribe(`${TRANSITIONS_SUBJECT}.>`, { callback: (_e, m) => void seen.push(decodeTransition(m.data)) });
  t.after(() => sub.unsubscribe());
  await watcher.flush();

  const inspector = startInspector(nc, 'apiserver/test-1');
  t.after(() => inspector.stop());
  await nc.flush();
  const tracked = inspector.track('apiserver/test-1', 'apiserver');
  const actor = createActor(quickMachine, { inspect: tracked.inspect });
  actor.start();
  await until('the actor to be Serving', async () => seen.some((s) => s.to === 'Serving'), 5_000);
  assert.deepEqual(
    seen.map((s) => [s.from, s.to]),
    [
      ['', 'Connecting'],
      ['Connecting', 'SyncingCaches'],
      ['SyncingCaches', 'StartingServers'],
      ['StartingServers', 'Serving'],
    ],
  );
  assert.equal(seen[1]!.event, 'xstate.done.actor.0.apiserver.Connecting');
  assert.ok(seen.every((s) => s.component === 'apiserver/test-1' && s.machine === 'apiserver' && !Number.isNaN(Date.parse(s.time))));

  const states = await gatherStates(watcher, { quietMs: 200 });
  assert.deepEqual(
    states.map((s) => [s.component, s.actor, s.machine, s.state, s.history.length]),
    [['apiserver/test-1', 'apiserver/test-1', 'apiserver', 'Serving', 4]],
  );

  actor.stop();
  tracked.done();
  await until('the actor to be reported gone', async () => seen.at(-1)?.to === '', 5_000);
  assert.deepEqual(await gatherStates(watcher, { quietMs: 200 }), [], 'a stopped actor is forgotten');
});

test('beyond the rate bound an actor\'s transitions are folded into one, and nothing waits', async () => {
  const sent: Transition[] = [];
  const inspector = new NatsInspector('kubelet/n1', { ratePerSecond: 10, publish: (_s, data) => sent.push(decodeTransition(data)) });
  try {
    // 10 actors use the whole budget; then one actor moves 5 times at once.
    for (let i = 0; i < 10; i++) createActor(quickMachine.provide({ actors: { connect: fromPromise<void>(() => new Promise<void>(() => undefined)) } }), { inspect: inspector.track(`a${i}`, 'apiserver').inspect }).start();
    assert.equal(sent.length, 10);
    const busy = createActor(quickMachine, { inspect: inspector.track('busy', 'apiserver').inspect });
    busy.start();
    await until('the busy actor to serve', async () => busy.getSnapshot().value === 'Serving', 2_000);
    assert.equal(sent.length, 10, 'nothing more sent before the budget refills');
    await until('the folded transition to be sent', async () => sent.length === 11, 2_000);
    const folded = sent[10]!;
    assert.deepEqual([folded.actor, folded.from, folded.to, folded.skipped], ['busy', '', 'Serving', 3]);
    assert.equal(inspector.states().find((s) => s.actor === 'busy')?.history.length, 4, 'the history keeps every transition');
  } finally {
    await inspector.stop();
  }
});
