import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors } from '../errors/index.js';
import { Controller, Expectations, keyOf, splitKey, WorkQueue } from './index.js';

const tick = () => new Promise((r) => setImmediate(r));

test('a key waits once however often it is added, in FIFO order', async () => {
  const q = new WorkQueue();
  for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
  assert.equal(q.length, 3);
  assert.deepEqual([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c']);
});

test('a key being worked on is not handed out again; added meanwhile, it returns after done', async () => {
  const q = new WorkQueue();
  q.add('a');
  const first = await q.get();
  q.add('a');
  assert.equal(q.length, 0, 'not queued while processing');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await tick();
  assert.equal(second, undefined, 'no second worker gets it');
  q.done(first!);
  await tick();
  assert.equal(second, 'a');
  q.done('a');
  assert.equal(q.length, 0);
});

test('rate-limited adds back off 5, 10, 20 ms per key; forget starts over', async () => {
  const q = new WorkQueue({ initialMs: 5, maxMs: 20 });
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = Date.now();
    q.addRateLimited('k');
    const k = await q.get();
    waits.push(Date.now() - t0);
    q.done(k!);
  }
  assert.equal(q.retries('k'), 4);
  assert.ok(waits[0]! >= 4 && waits[1]! >= 9 && waits[2]! >= 19 && waits[3]! >= 19, `waits ${waits}`);
  assert.ok(waits[3]! < 200, `capped: ${waits}`);
  q.forget('k');
  assert.equal(q.retries('k'), 0);
  assert.throws(() => new WorkQueue({ initialMs: 0, maxMs: 1 }), /initialMs > 0/);
});

test('addAfter: the earlier of two delays wins; shutDown releases waiting workers', async () => {
  const q = new WorkQueue();
  q.addAfter('k', 10_000);
  q.addAfter('k', 5);
  const t0 = Date.now();
  assert.equal(await q.get(), 'k');
  assert.ok(Date.now() - t0 < 1_000);
  q.done('k');
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  q.add('x');
  assert.equal(await q.get(), undefined, 'nothing is taken after shutdown');
});

test('the controller syncs each key, retries failures with back-off, never runs one key twice at once', async () => {
  let active = 0;
  let overlap = false;
  const calls: string[] = [];
  let failB = 2;
  const c = new Controller({
    name: 't',
    workers: 4,
    rateLimit: { initialMs: 1, maxMs: 4 },
    sync: async (key) => {
      if (key === 'a') {
        if (++active > 1) overlap = true;
        await new Promise((r) => setTimeout(r, 5));
        active--;
      }
      calls.push(key);
      if (key === 'b' && failB-- > 0) throw errors.conflict('pods', 'b', 'stale');
    },
  });
  c.start();
  for (let i = 0; i < 20; i++) {
    c.enqueue('a');
    c.enqueue('b');
    await tick();
  }
  const deadline = Date.now() + 2_000;
  while (calls.filter((k) => k === 'b').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await c.stop();
  assert.equal(overlap, false);
  assert.ok(calls.filter((k) => k === 'b').length >= 3, 'b retried after two conflicts');
  assert.equal(c.stats().conflicts, 2);
  assert.equal(c.stats().failures, 2);
});

test('a sync can ask to be run again later', async () => {
  let n = 0;
  const c = new Controller({ name: 't', sync: async () => (++n < 3 ? { requeueAfterMs: 5 } : undefined) });
  c.start();
  c.enqueue('k');
  const deadline = Date.now() + 2_000;
  while (n < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await c.stop();
  assert.equal(n, 3);
});

test('expectations hold a key until every create and delete is seen, or they expire', async () => {
  const e = new Expectations(50);
  assert.equal(e.satisfied('ns/rs'), true);
  e.expect('ns/rs', 2, ['u1']);
  assert.equal(e.satisfied('ns/rs'), false);
  e.creationObserved('ns/rs');
  e.creationObserved('ns/rs');
  e.deletionObserved('ns/rs', 'other');
  assert.equal(e.satisfied('ns/rs'), false, 'a deletion of another pod does not count');
  e.deletionObserved('ns/rs', 'u1');
  assert.equal(e.satisfied('ns/rs'), true);
  e.expect('ns/rs', 1);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(e.satisfied('ns/rs'), true, 'expired');
});

test('keys: namespace/name, or name when cluster-scoped', () => {
  assert.equal(keyOf({ metadata: { namespace: 'ns', name: 'a' } }), 'ns/a');
  assert.equal(keyOf({ metadata: { name: 'node-1' } }), 'node-1');
  assert.deepEqual(splitKey('ns/a'), { namespace: 'ns', name: 'a' });
  assert.deepEqual(splitKey('node-1'), { namespace: '', name: 'node-1' });
});
