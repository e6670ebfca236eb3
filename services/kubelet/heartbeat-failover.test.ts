import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors } from '../lib/errors/index.js';
import { KeelsonClient } from '../lib/client/index.js';
import type { NatsConnection } from '@nats-io/nats-core';
import { HeartbeatFailover } from './heartbeat-failover.js';

/** A request error as KeelsonClient makes it when no API server answers. */
async function unansweredError(): Promise<unknown> {
  const nc = { request: () => Promise.reject(new Error('TIMEOUT')) } as unknown as NatsConnection;
  return new KeelsonClient(nc).get('Node', undefined, 'n').catch((e: unknown) => e);
}

function setup(o: { connected?: boolean } = {}) {
  let t = 0;
  const forced: number[] = [];
  const failover = new HeartbeatFailover({
    reconnect: async () => void forced.push(t),
    connected: () => o.connected ?? true,
    now: () => t,
  });
  return { failover, forced, advance: (ms: number) => (t += ms) };
}

test('two unanswered renewals in a row force one reconnect', async () => {
  const { failover, forced } = setup();
  const e = await unansweredError();
  assert.equal(failover.failed(e), false);
  assert.equal(failover.failed(e), true);
  assert.deepEqual(forced, [0]);
});

test("an API server's refusal (a Status) is an answer: the count starts over", async () => {
  const { failover, forced } = setup();
  const e = await unansweredError();
  failover.failed(e);
  failover.failed(errors.unavailable('the object store is unavailable'));
  assert.equal(failover.failed(e), false);
  failover.succeeded();
  assert.equal(failover.failed(e), false);
  assert.deepEqual(forced, []);
});

test('no forced reconnect while disconnected (nats.js is reconnecting already)', async () => {
  const { failover, forced } = setup({ connected: false });
  const e = await unansweredError();
  for (let i = 0; i < 5; i++) failover.failed(e);
  assert.deepEqual(forced, []);
});

test('at most one forced reconnect per cool-down', async () => {
  const { failover, forced, advance } = setup();
  const e = await unansweredError();
  for (let i = 0; i < 8; i++) {
    failover.failed(e);
    advance(1_000);
  }
  assert.deepEqual(forced, [1_000], 'once in the first 10 s');
  advance(3_000);
  assert.equal(failover.failed(e), true, 'still unanswered after the cool-down');
  assert.deepEqual(forced, [1_000, 11_000]);
});
