/** Picking a free offset: the upper band first, random start, skipping taken ones. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IP_BAND, NODE_PORT_BAND, pickFree, staticBand } from './pick.js';

/** A "random" that always answers `x`. */
const fixed = (x: number) => () => x;

test('static bands as Kubernetes sizes them', () => {
  assert.equal(staticBand(65_534, IP_BAND), 256, '/16: capped at 256');
  assert.equal(staticBand(254, IP_BAND), 16, '/24: at least 16');
  assert.equal(staticBand(1_022, IP_BAND), 63, '/22: size/16');
  assert.equal(staticBand(10, IP_BAND), 0, 'too small for a band');
  assert.equal(staticBand(2_768, NODE_PORT_BAND), 86, '30000-32767: size/32');
});

test('a dynamic pick comes from above the static band', () => {
  for (const r of [0, 0.25, 0.5, 0.999]) {
    const o = pickFree(1_000, () => false, 100, fixed(r))!;
    assert.ok(o >= 100 && o < 1_000, `${r} → ${o}`);
  }
  assert.equal(pickFree(1_000, () => false, 100, fixed(0)), 100);
  assert.equal(pickFree(1_000, () => false, 100, fixed(0.5)), 550);
});

test('taken offsets are skipped, wrapping around inside the band', () => {
  const taken = new Set([998, 999, 100]);
  assert.equal(pickFree(1_000, (o) => taken.has(o), 100, fixed(0.9978)), 101);
});

test('the static band is used once the rest is full', () => {
  assert.equal(pickFree(1_000, (o) => o >= 100 || o === 0, 100, fixed(0)), 1);
});

test('a full range gives undefined', () => {
  assert.equal(pickFree(50, () => true, 16, Math.random), undefined);
  assert.equal(pickFree(0, () => false, 0, Math.random), undefined);
});

test('every free offset is found, whatever the start', () => {
  const size = 64;
  for (let free = 0; free < size; free++) {
    for (const r of [0, 0.3, 0.7, 0.99]) assert.equal(pickFree(size, (o) => o !== free, 16, fixed(r)), free, `free ${free}, start ${r}`);
  }
});
