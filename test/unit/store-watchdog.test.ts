/**
 * The store watch's watchdog, on a fake consumer: which answers end a watch
 * (so that its owner resumes it) and which do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import { watchConsumer, type Watched } from '../../services/lib/store/watchdog.js';

const PERIOD = 20;

type Fake = { pending: number; delivered: number; seen: number; missed?: number; info?: 'hang' | 'gone'; probe?: 'hang' };

/** Runs the watchdog on `fake` for `checks` periods; `step` may change the fake between checks. Resolves with the check it ended at, or undefined. */
async function watch(fake: Fake, checks: number, step: (check: number) => void = () => undefined, lastSeq = () => fake.seen): Promise<number | undefined> {
  const never = new Promise<never>(() => undefined);
  const watched: Watched = {
    info: () =>
      fake.info === 'hang'
        ? never
        : fake.info === 'gone'
          ? Promise.reject(new JetStreamApiError({ code: 404, err_code: 10014, description: 'consumer not found' }))
          : Promise.resolve({ num_pending: fake.pending, delivered: { stream_seq: fake.delivered } }),
    lastSeq,
    firstMissed: () => (fake.probe === 'hang' ? never : Promise.resolve(fake.missed)),
  };
  let endedAt: number | undefined;
  let check = 0;
  const timer = watchConsumer(watched, () => (endedAt = check), PERIOD);
  try {
    for (check = 1; check <= checks && endedAt === undefined; check++) {
      await new Promise((r) => setTimeout(r, PERIOD));
      step(check);
    }
    // Let a check in flight finish (a hanging one times out after PERIOD).
    await new Promise((r) => setTimeout(r, 3 * PERIOD));
  } finally {
    clearInterval(timer);
  }
  return endedAt;
}

test('a healthy idle watch is left alone', async () => {
  assert.equal(await watch({ pending: 0, delivered: 10, seen: 10 }, 8), undefined);
});

test('a watch making progress is left alone, even with messages pending', async () => {
  const fake: Fake = { pending: 50, delivered: 60, seen: 10 };
  // Messages arrive all the time: every look at the watch finds it further on.
  const watched = { get seen() { return (fake.seen += 5); } };
  assert.equal(await watch(Object.assign(fake, { seen: 0 }), 8, () => undefined, () => watched.seen), undefined);
});

test('a consumer that is gone ends the watch (twice "not found": the first may be nats.js re-creating it)', async () => {
  assert.notEqual(await watch({ pending: 0, delivered: 0, seen: 0, info: 'gone' }, 6), undefined);
});

test('a consumer that does not answer ends the watch after two checks', async () => {
  assert.notEqual(await watch({ pending: 0, delivered: 0, seen: 0, info: 'hang' }, 8), undefined);
});

test('a consumer with messages pending that sends none ends the watch', async () => {
  assert.notEqual(await watch({ pending: 3, delivered: 10, seen: 10, missed: 11 }, 8), undefined);
});

test("a filtered consumer whose delivered sequence ran past other keys' messages is left alone", async () => {
  assert.equal(await watch({ pending: 0, delivered: 40, seen: 10 }, 8), undefined);
});

test('a silent consumer (nothing pending, but the stream holds a later change under the filter) ends the watch', async () => {
  assert.notEqual(await watch({ pending: 0, delivered: 10, seen: 10, missed: 14 }, 8), undefined);
});

test('a change delivered right after one check is not a strike held against the watch', async () => {
  const fake: Fake = { pending: 0, delivered: 10, seen: 10, missed: 14 };
  // The message the probe saw arrives before the next check.
  assert.equal(await watch(fake, 8, (c) => c === 1 && Object.assign(fake, { seen: 14, delivered: 14, missed: undefined })), undefined);
});

test('no answer from the stream leader for a while (an election) is no reason to end a watch', async () => {
  const fake: Fake = { pending: 0, delivered: 10, seen: 10, probe: 'hang' };
  assert.equal(await watch(fake, 12, (check) => check === 5 && delete fake.probe), undefined);
});

test('five checks in a row with no progress and no answer about missed changes end the watch', async () => {
  assert.notEqual(await watch({ pending: 0, delivered: 10, seen: 10, probe: 'hang' }, 30), undefined);
});

test('an unanswered check is followed up every period even when the alarm falls quiet', async () => {
  let asked = 0;
  let alarm = true;
  const watched: Watched = {
    info: () => Promise.resolve({}),
    lastSeq: () => 10,
    firstMissed: () => (asked++, alarm = false, Promise.reject(new Error('no leader'))),
    alert: () => alarm,
  };
  let ended = false;
  const timer = watchConsumer(watched, () => (ended = true), PERIOD, 1_000);
  await new Promise((r) => setTimeout(r, 14 * PERIOD));
  clearInterval(timer);
  assert.ok(asked >= 5, `asked ${asked} times`);
  assert.equal(ended, true);
});

test('while the alarm is quiet nothing is asked until the slow round comes, however the consumer looks', async () => {
  let asked = 0;
  const watched: Watched = {
    info: () => (asked++, Promise.resolve({ num_pending: 5, delivered: { stream_seq: 20 } })),
    lastSeq: () => 10,
    firstMissed: () => (asked++, Promise.resolve(14)),
    alert: () => false,
  };
  let ended = false;
  const timer = watchConsumer(watched, () => (ended = true), PERIOD, 1_000);
  await new Promise((r) => setTimeout(r, 8 * PERIOD));
  clearInterval(timer);
  assert.equal(asked, 0);
  assert.equal(ended, false);
});

test('once the alarm is raised a stuck consumer is found as before', async () => {
  let raised = false;
  const watched: Watched = {
    info: () => Promise.resolve({ num_pending: 5, delivered: { stream_seq: 20 } }),
    lastSeq: () => 10,
    firstMissed: () => Promise.resolve(11),
    alert: () => raised,
  };
  let ended = false;
  const timer = watchConsumer(watched, () => (ended = true), PERIOD, 1_000);
  await new Promise((r) => setTimeout(r, 4 * PERIOD));
  assert.equal(ended, false);
  raised = true;
  await new Promise((r) => setTimeout(r, 12 * PERIOD));
  clearInterval(timer);
  assert.equal(ended, true);
});

test('while the alarm is quiet a stuck consumer is still found, on the slow round', async () => {
  const watched: Watched = {
    info: () => Promise.resolve({ num_pending: 5, delivered: { stream_seq: 20 } }),
    lastSeq: () => 10,
    firstMissed: () => Promise.resolve(11),
    alert: () => false,
  };
  let ended = false;
  // One check in 3 periods; after a failed one, every period.
  const timer = watchConsumer(watched, () => (ended = true), PERIOD, 3);
  await new Promise((r) => setTimeout(r, 12 * PERIOD));
  clearInterval(timer);
  assert.equal(ended, true);
});
