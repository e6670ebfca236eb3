import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ClosedConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { resourceForKind } from '../../services/lib/api/resources.js';
import { Bucket } from '../../services/lib/store/bucket.js';
import { storeError } from '../../services/lib/store/index.js';
import { isRetryable, mayHaveBeenApplied, requestTimeout, retrying, WriteInFlight, WriteOutcomeUnknown, type RetryPolicy } from '../../services/lib/store/retry.js';

const apiError = (err_code: number, code = 400, description = 'x') => new JetStreamApiError({ err_code, code, description });
const noResponders = () => new RequestError('no responders', { cause: new NoRespondersError('$KV.keelson.pods.default.a') });
/** What @nats-io/jetstream throws for a publish nobody answered. */
function jetstreamNotEnabled(cause: unknown): Error {
  const e = new Error('jetstream is not enabled', { cause });
  e.name = 'JetStreamNotEnabled';
  return e;
}

describe('which store errors are retried', () => {
  const cases: [string, unknown, boolean, boolean][] = [
    // name, error, retryable, may have been applied
    ['no stream leader: publish has no responders', jetstreamNotEnabled(noResponders()), true, false],
    ['no responders on a get', noResponders(), true, false],
    ['request timed out (sent to a server that died)', new TimeoutError(), true, true],
    ['JetStream system temporarily unavailable', apiError(10008, 503), true, false],
    ['cluster can not handle request', apiError(10009, 500), true, false],
    ['the slot of a compare-and-swap is held by a write not yet stored', new WriteInFlight('x'), true, false],
    ['lost compare-and-swap', apiError(10071), false, false],
    ['JetStream not enabled for the account', jetstreamNotEnabled(apiError(10039, 503)), false, false],
    ['stream not found', apiError(10059, 404), false, false],
    ['our own connection is closed', new ClosedConnectionError(), false, true],
    ['a bug of ours', new TypeError('x is undefined'), false, true],
  ];
  for (const [name, e, retryable, applied] of cases) {
    test(name, () => {
      assert.equal(isRetryable(e), retryable);
      assert.equal(mayHaveBeenApplied(e), applied);
    });
  }
});

/** A clock that only moves when the retry loop sleeps or an attempt takes time. */
function fakeClock() {
  let t = 1_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

const policy: RetryPolicy = { deadlineMs: 10_000, attemptTimeoutMs: 2_000, backoffMs: 50, maxBackoffMs: 500 };

describe('retrying', () => {
  test('retries a retryable failure with a doubling back-off until it succeeds', async () => {
    const clock = fakeClock();
    let calls = 0;
    const v = await retrying(
      policy,
      async () => {
        if (++calls < 6) throw noResponders();
        return 'ok';
      },
      clock,
    );
    assert.equal(v, 'ok');
    assert.deepEqual(clock.sleeps, [50, 100, 200, 400, 500]);
  });

  test('never retries an answer such as a lost compare-and-swap', async () => {
    const clock = fakeClock();
    let calls = 0;
    await assert.rejects(
      retrying(policy, async () => {
        calls++;
        throw apiError(10071);
      }, clock),
      (e) => e instanceof JetStreamApiError && e.code === 10071,
    );
    assert.equal(calls, 1);
    assert.deepEqual(clock.sleeps, []);
  });

  test('gives up with the last error once the deadline has passed, never later', async () => {
    const clock = fakeClock();
    const start = clock.now();
    let calls = 0;
    await assert.rejects(
      retrying(policy, async (a) => {
        calls++;
        // Each attempt waits its whole request timeout, as a request to a dead server does.
        const timeout = requestTimeout(policy, a, clock.now);
        assert.ok(clock.now() + timeout <= start + policy.deadlineMs, 'a request never outlives the deadline');
        clock.advance(timeout);
        throw new TimeoutError();
      }, clock),
      (e) => e instanceof TimeoutError,
    );
    assert.ok(clock.now() - start <= policy.deadlineMs, `took ${clock.now() - start} ms`);
    assert.ok(calls >= 4, `${calls} attempts`);
  });

  test('an election shorter than the deadline is ridden out', async () => {
    const clock = fakeClock();
    const electedAt = clock.now() + 6_000;
    const v = await retrying(
      policy,
      async () => {
        if (clock.now() < electedAt) throw jetstreamNotEnabled(noResponders());
        return clock.now();
      },
      clock,
    );
    assert.ok(v >= electedAt && v <= electedAt + policy.maxBackoffMs);
  });
});

describe('a write given up at the deadline', () => {
  const policy: RetryPolicy = { deadlineMs: 200, attemptTimeoutMs: 50, backoffMs: 10, maxBackoffMs: 20 };
  /** A bucket whose every publish fails with `error` (nothing is ever stored). */
  const failing = (error: () => unknown) =>
    new Bucket({ bucket: 'b', js: { publish: async () => Promise.reject(error()) } as never, jsm: {} as never, policy });
  const bytes = new Uint8Array([1]);

  test('after an unanswered attempt is a 504 Timeout: it may still be applied', async () => {
    await assert.rejects(failing(() => new TimeoutError()).update('pods.default.a', bytes, 7), (e) => e instanceof WriteOutcomeUnknown);
    const err = storeError(new WriteOutcomeUnknown('x'), { resource: resourceForKind('Pod')!, namespace: 'default', name: 'a' }, 'update');
    assert.equal(err.code, 504);
    assert.equal(err.reason, 'Timeout');
  });

  test('when no attempt reached the store is a 503: nothing was written', async () => {
    await assert.rejects(failing(() => jetstreamNotEnabled(noResponders())).create('pods.default.a', bytes), (e) => !(e instanceof WriteOutcomeUnknown) && isRetryable(e));
  });
});

describe('a read of one key', () => {
  const policy: RetryPolicy = { deadlineMs: 300, attemptTimeoutMs: 50, backoffMs: 10, maxBackoffMs: 20 };
  const stored = { seq: 9, data: new Uint8Array([1]), header: undefined };
  /** A bucket whose stream leader answers with `leader()` and whose replicas' direct gets would find nothing yet. */
  function reading(leader: () => Promise<unknown>) {
    const asked = { leader: 0, replica: 0, queries: [] as unknown[] };
    const jsm = {
      streams: { getMessage: (stream: string, query: unknown) => (asked.leader++, asked.queries.push([stream, query]), leader()) },
      direct: { getMessage: async () => (asked.replica++, null) },
    };
    return { bucket: new Bucket({ bucket: 'b', js: {} as never, jsm: jsm as never, policy }), asked };
  }

  test('is answered by the stream leader, never by a replica that may lag', async () => {
    const { bucket, asked } = reading(async () => stored);
    assert.equal((await bucket.get('pods.default.a'))?.revision, 9);
    assert.deepEqual(asked, { leader: 1, replica: 0, queries: [['KV_b', { last_by_subj: '$KV.b.pods.default.a' }]] });
  });

  test('unanswered, is asked of the leader again, never answered stale', async () => {
    let calls = 0;
    const { bucket, asked } = reading(async () => (++calls < 3 ? Promise.reject(new TimeoutError()) : stored));
    assert.equal((await bucket.get('pods.default.a'))?.revision, 9);
    assert.equal(asked.leader, 3);
    assert.equal(asked.replica, 0);
  });

  test('without a leader until the deadline, fails with the last error', async () => {
    const { bucket, asked } = reading(() => Promise.reject(apiError(10008, 503, 'JetStream system temporarily unavailable')));
    await assert.rejects(bucket.get('pods.default.a'), (e) => e instanceof JetStreamApiError && e.code === 10008);
    assert.ok(asked.leader > 1, `asked the leader ${asked.leader} times`);
    assert.equal(asked.replica, 0);
  });
});
