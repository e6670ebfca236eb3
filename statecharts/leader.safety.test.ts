/**
 * Safety of leader election by exhaustive exploration (the argument in words:
 * leader.safety.md). The real leader machine, several candidates, a model of the
 * KV key with its TTL, bounded message delays and timer lateness (pauses):
 * in no reachable state are two live candidates in Leader at once.
 *
 * Every state reachable within the bounds is visited — runs of any length, since
 * states are compared with times relative to now. The default profiles take a
 * few seconds; KEELSON_SAFETY_FULL=1 adds the larger ones (about two minutes;
 * their figures are in leader.safety.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exploreLeaderElection, type ModelParams } from './testing/leader-model.js';

/**
 * Ticks: a lease of 5, renewed 1 tick after each success, a leader acting until
 * 2 ticks before the lease could expire; requests and answers 0–1 tick each way.
 */
const base: ModelParams = {
  candidates: 2,
  timing: { leaseMs: 5, renewMs: 1, marginMs: 2, retryMs: 1, expirySlackMs: 0 },
  maxDelay: 1,
  maxPause: 1,
  crashes: 0,
  stops: 0,
  faults: 0,
  maxStates: 4_000_000,
};

function check(name: string, p: ModelParams, expect: string[]) {
  const t0 = performance.now();
  const r = exploreLeaderElection(p);
  const ms = Math.round(performance.now() - t0);
  assert.equal(r.violation, undefined, `${name}: two leaders at once:\n${r.violation?.join('\n')}`);
  console.log(`${name}: ${r.states} states, ${r.transitions} machine transitions, ${ms} ms`);
  // Not vacuous: someone leads, and the failures given do hand leadership over.
  for (const situation of ['leader', ...expect]) assert.ok(r.reached.has(situation), `${name}: never reached "${situation}"`);
}

const full = process.env.KEELSON_SAFETY_FULL === '1';

test('2 candidates, timers up to 1 tick late, one crash: never two leaders', () => {
  check('2 candidates, pauses, crash', { ...base, crashes: 1 }, ['takeover after crash']);
});

test('2 candidates, one graceful STOP: never two leaders', () => {
  check('2 candidates, STOP', { ...base, maxPause: 0, stops: 1 }, ['takeover after release']);
});

/** Three candidates: watch events come within the tick (in any order), renewals every 2 ticks. */
const three: ModelParams = { ...base, candidates: 3, maxPause: 0, watchDelay: 0, timing: { ...base.timing, renewMs: 2 } };

test('3 candidates: never two leaders', () => {
  check('3 candidates', three, []);
});

// The two big profiles (~2 min) are registered only with KEELSON_SAFETY_FULL=1, not skipped.
if (full) test('2 candidates, pauses, crash, STOP and a lost request, answer or watch event: never two leaders', () => {
  check('2 candidates, everything', { ...base, crashes: 1, stops: 1, faults: 1 }, ['takeover after crash', 'takeover after release']);
});

if (full) test('3 candidates, one crash and one STOP: never two leaders', () => {
  check('3 candidates, crash, STOP', { ...three, crashes: 1, stops: 1 }, ['takeover after crash', 'takeover after release']);
});

test('a pause as long as the margin breaks it, and the exploration finds the overlap', () => {
  const r = exploreLeaderElection({ ...base, maxPause: base.timing.marginMs });
  assert.ok(r.violation, `expected two leaders with timers ${base.timing.marginMs} ticks late; explored ${r.states} states`);
  assert.match(r.violation.at(-1)!, /c0=Leader c1=Leader|c1=Leader c0=Leader/);
  console.log(`counterexample (pause = margin):\n${r.violation.map((l) => `  ${l}`).join('\n')}`);
});

test('a leader that ignored its deadline would overlap, and the exploration finds it', () => {
  // A deadline a tick after the expiry, and one renewal that fails.
  const r = exploreLeaderElection({ ...base, maxPause: 0, faults: 1, timing: { ...base.timing, marginMs: -1 } });
  assert.ok(r.violation, `expected two leaders with a deadline past the expiry; explored ${r.states} states`);
});
