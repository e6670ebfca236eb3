import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Demand } from './demand.js';

const sample = (utilization: number, accepted: number, now: number, open = 4) => ({ utilization, seconds: 1, accepted, open, now });

test('forwarders are wanted while this process is busy with few new connections, and for the hold time after', () => {
  const d = new Demand({ holdMs: 30_000 });
  assert.equal(d.sample(sample(0.2, 10, 0)), false, 'idle');
  assert.equal(d.sample(sample(0.95, 0, 500, 0)), false, 'busy with no connection open: not traffic');
  assert.equal(d.sample(sample(0.95, 5_000, 1_000)), false, 'busy with short connections');
  assert.equal(d.sample(sample(0.95, 4, 2_000)), true, 'busy with long connections');
  assert.equal(d.sample(sample(0.5, 2, 3_000)), true, 'less busy once shared: kept');
  assert.equal(d.sample(sample(0.1, 0, 31_999)), true, 'within the hold time');
  assert.equal(d.sample(sample(0.1, 0, 32_000)), false, 'the hold time after the last busy sample');
});

test('a stream of short connections ends sharing at once, busy or not; a few do not', () => {
  const d = new Demand();
  assert.equal(d.sample(sample(0.95, 4, 0)), true);
  assert.equal(d.sample(sample(0.3, 150, 1_000)), true, '150 a second: below the short rate');
  assert.equal(d.sample(sample(0.3, 2_000, 2_000)), false, '2,000 a second');
  assert.equal(d.sample({ utilization: 0.9, seconds: 2, accepted: 300, open: 16, now: 3_000 }), true, '300 in 2 s: 150 a second');
});
