import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { errors } from '../lib/errors/index.js';
import { KeelsonClient } from '../lib/client/index.js';
import { HeartbeatFailover } from './heartbeat-failover.js';

/** A request error as KeelsonClient makes it when NATS rejects the request with `cause`. */
async function requestError(cause: Error): Promise<unknown> {
  const nc = { request: () => Promise.reject(cause) } as unknown as NatsConnection;
  return new KeelsonClient(nc).get('Node', undefined, 'n').catch((e: unknown) => e);
}
const timedOut = () => requestError(new TimeoutError());
const noResponders = () => requestError(new NoRespondersError('keelson.api.v1.request.system:node:n'));

function setup(o: { connected?: boolean; linkAlive?: boolean } = {}) {
  let t = 0;
  const forced: number[] = [];
  const state = { connected: o.connected ?? true, linkAlive: o.linkAlive ?? false };
  const failover = new HeartbeatFailover({
    reconnect: async () => void forced.push(t),
    connected: () => state.connected,
    linkAlive: async () => state.linkAlive,
    now: () => t,
  });
  return { failover, forced, state, advance: (ms: number) => (t += ms) };
}

test('two renewals in a row that time out on a link that answers no ping: one reconnect', async () => {
  const { failover, forced } = setup({ linkAlive: false });
  const e = await timedOut();
  assert.equal(await failover.failed(e), false);
  assert.equal(await failover.failed(e), true);
  assert.deepEqual(forced, [0]);
});

test('timeouts on a link that answers its pings are a slow control plane: no reconnect', async () => {
  const { failover, forced } = setup({ linkAlive: true });
  const e = await timedOut();
  for (let i = 0; i < 4; i++) assert.equal(await failover.failed(e), false);
  assert.deepEqual(forced, []);
});

test('no responders through this server: reconnect, even with the link alive', async () => {
  const { failover, forced } = setup({ linkAlive: true });
  const e = await noResponders();
  await failover.failed(e);
  assert.equal(await failover.failed(e), true);
  assert.deepEqual(forced, [0]);
});

test('an API server that says its store is unavailable (503): reconnect, without a ping', async () => {
  const { failover, forced } = setup({ linkAlive: true });
  const e = errors.unavailable('the object store is unavailable: jetstream is not enabled');
  await failover.failed(e);
  assert.equal(await failover.failed(e), true);
  assert.deepEqual(forced, [0]);
});

test("an API server's other refusals (a Status) and a closed connection are not unanswered", async () => {
  const { failover, forced } = setup();
  const e = await timedOut();
  await failover.failed(e);
  await failover.failed(errors.conflict('leases', 'n', 'the object has been modified'));
  assert.equal(await failover.failed(e), false, 'the count started over');
  await failover.failed(await requestError(new Error('closed connection')));
  assert.equal(await failover.failed(e), false, 'and again');
  failover.succeeded();
  assert.equal(await failover.failed(e), false);
  assert.deepEqual(forced, []);
});

test('nothing is counted while disconnected (nats.js is reconnecting already)', async () => {
  const { failover, forced, state } = setup({ connected: false });
  const e = await timedOut();
  for (let i = 0; i < 5; i++) await failover.failed(e);
  state.connected = true;
  assert.equal(await failover.failed(e), false, 'the first failure once connected is the first counted');
  assert.deepEqual(forced, []);
});

test('at most one reconnect per cool-down, the client’s own reconnects included', async () => {
  const { failover, forced, advance } = setup();
  const e = await timedOut();
  for (let i = 0; i < 8; i++) {
    await failover.failed(e);
    advance(1_000);
  }
  assert.deepEqual(forced, [1_000], 'once in the first 10 s');
  advance(3_000);
  await failover.failed(e);
  assert.deepEqual(forced, [1_000, 11_000], 'still unanswered after the cool-down');
  failover.reconnected();
  advance(5_000);
  await failover.failed(e);
  await failover.failed(e);
  assert.deepEqual(forced, [1_000, 11_000], 'a reconnect of its own 5 s ago: not yet');
});
