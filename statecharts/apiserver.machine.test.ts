import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { apiServerMachine, retryDelay } from './apiserver.machine.js';

/** Actors that settle when the test says so. */
function controlled() {
  const calls: Record<string, number> = { connect: 0, syncCaches: 0, startServers: 0, drain: 0 };
  const results: Record<string, (() => Promise<void>)[]> = { connect: [], syncCaches: [], startServers: [], drain: [] };
  const actor = (name: string) =>
    fromPromise(async () => {
      calls[name]!++;
      const next = results[name]!.shift();
      if (next) await next();
    });
  const machine = apiServerMachine.provide({
    actors: { connect: actor('connect'), syncCaches: actor('syncCaches'), startServers: actor('startServers'), drain: actor('drain') },
  });
  return { machine, calls, results };
}

const tick = () => new Promise((r) => setImmediate(r));

test('connects, syncs, starts serving; degrades and recovers with NATS', async () => {
  const { machine, calls } = controlled();
  const actor = createActor(machine).start();
  await tick();
  await tick();
  assert.equal(actor.getSnapshot().value, 'Serving');
  assert.deepEqual(calls, { connect: 1, syncCaches: 1, startServers: 1, drain: 0 });
  actor.send({ type: 'NATS_DISCONNECTED' });
  assert.equal(actor.getSnapshot().value, 'Degraded');
  actor.send({ type: 'NATS_RECONNECTED' });
  assert.equal(actor.getSnapshot().value, 'Serving');
  actor.send({ type: 'SHUTDOWN' });
  assert.equal(actor.getSnapshot().value, 'Draining');
  await tick();
  assert.equal(actor.getSnapshot().value, 'Stopped');
  assert.equal(actor.getSnapshot().status, 'done');
  assert.equal(calls.drain, 1);
});

test('a failed connect is retried with a doubling back-off', async () => {
  const { machine, calls, results } = controlled();
  const fail = async () => {
    throw new Error('no servers');
  };
  results.connect!.push(fail, fail);
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock }).start();
  await tick();
  assert.equal(actor.getSnapshot().value, 'RetryWait');
  assert.equal(actor.getSnapshot().context.attempts, 1);
  clock.increment(retryDelay(1) - 1);
  assert.equal(actor.getSnapshot().value, 'RetryWait');
  clock.increment(1);
  await tick();
  assert.equal(actor.getSnapshot().context.attempts, 2);
  clock.increment(retryDelay(2));
  await tick();
  await tick();
  await tick();
  assert.equal(actor.getSnapshot().value, 'Serving');
  assert.equal(calls.connect, 3);
  assert.equal(actor.getSnapshot().context.attempts, 0, 'a successful sync resets the attempts');
  assert.deepEqual([1, 2, 3, 10].map(retryDelay), [250, 500, 1000, 5000]);
  actor.stop();
});

test('a server that cannot bind fails, then drains on shutdown', async () => {
  const { machine, results, calls } = controlled();
  results.startServers!.push(async () => {
    throw new Error('EADDRINUSE');
  });
  const actor = createActor(machine).start();
  await tick();
  await tick();
  assert.equal(actor.getSnapshot().value, 'Failed');
  assert.match(actor.getSnapshot().context.lastError ?? '', /EADDRINUSE/);
  actor.send({ type: 'SHUTDOWN' });
  await tick();
  assert.equal(actor.getSnapshot().value, 'Stopped');
  assert.equal(calls.drain, 1);
});
