/**
 * The store watches' alarm (services/lib/store/alarm.ts) on a fake connection:
 * it is quiet while the stream stays as it was, and raised by a change of its
 * leader or replicas, an unanswered poll, an advisory, or a reconnect.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NatsConnection } from '@nats-io/nats-core';
import { WatchAlarm, type StreamView } from '../../services/lib/store/alarm.js';

const POLL = 20;
const tick = (n = 3) => new Promise((r) => setTimeout(r, n * POLL));

function fakeConnection() {
  let advisory: (() => void) | undefined;
  const pushes: ((s: { type: string }) => void)[] = [];
  const nc = {
    subscribe: (_subject: string, opts: { callback: () => void }) => ((advisory = opts.callback), { unsubscribe: () => (advisory = undefined) }),
    status: () => {
      const queue: { type: string }[] = [];
      let wake: (() => void) | undefined;
      let stopped = false;
      pushes.push((s) => (queue.push(s), wake?.()));
      return {
        stop: () => ((stopped = true), wake?.()),
        async *[Symbol.asyncIterator]() {
          while (!stopped) {
            if (queue.length) yield queue.shift()!;
            else await new Promise<void>((r) => (wake = r));
          }
        },
      };
    },
  } as unknown as NatsConnection;
  return { nc, advise: () => advisory?.(), status: (type: string) => pushes.forEach((p) => p({ type })) };
}

test('quiet while the stream is as it was; a new leader raises it', async () => {
  const { nc } = fakeConnection();
  let view: StreamView = { leader: 'n1', replicas: [{ name: 'n2' }, { name: 'n3' }] };
  const alarm = new WatchAlarm(nc, 'KV_x', async () => view, POLL);
  const release = alarm.use();
  try {
    await tick();
    assert.equal(alarm.raised, false);
    view = { leader: 'n2', replicas: [{ name: 'n1', offline: true }, { name: 'n3' }] };
    await tick();
    assert.equal(alarm.raised, true);
  } finally {
    release();
  }
});

test('a poll that goes unanswered raises it', async () => {
  const { nc } = fakeConnection();
  const alarm = new WatchAlarm(nc, 'KV_x', () => Promise.reject(new Error('timeout')), POLL);
  const release = alarm.use();
  await tick();
  release();
  assert.equal(alarm.raised, true);
});

test("an advisory about the stream, or the connection's loss, raises it", async () => {
  for (const cause of ['advisory', 'reconnect'] as const) {
    const fake = fakeConnection();
    const alarm = new WatchAlarm(fake.nc, 'KV_x', async () => ({ replicas: [] }), 1_000_000);
    const release = alarm.use();
    try {
      await tick(1);
      assert.equal(alarm.raised, false);
      if (cause === 'advisory') fake.advise();
      else fake.status('reconnect');
      await tick(1);
      assert.equal(alarm.raised, true, cause);
    } finally {
      release();
    }
  }
});
