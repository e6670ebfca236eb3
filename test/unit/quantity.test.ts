import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addQuantities,
  compareQuantities,
  formatQuantity,
  fromMilli,
  isValidQuantity,
  parseQuantity,
  QuantityError,
  scaledValue,
  subtractQuantities,
  toBytes,
  toMilli,
  tryParseQuantity,
  value,
} from '../../services/lib/quantity/index.js';

test('valid quantities parse, invalid ones do not', () => {
  const valid = ['0', '1', '100m', '0.5', '.5', '1.', '+1', '-1', '1n', '1u', '1k', '1M', '1G', '1T', '1P', '1E',
    '1Ki', '1Mi', '1.5Gi', '1Ti', '1Pi', '1Ei', '1e3', '12E6', '1e-3', '1E+2', '0.000000001'];
  const invalid = ['', ' ', '.', 'abc', '1K', '1KB', '1 Gi', ' 1', '1 ', '1.2.3', '1e', '1ee3', '1Gib', 'Gi', '--1',
    '0x10', '1e1001', 'NaN', '1,5'];
  for (const s of valid) assert.ok(isValidQuantity(s), `${s} should be valid`);
  for (const s of invalid) assert.ok(!isValidQuantity(s), `${JSON.stringify(s)} should be invalid`);
  assert.throws(() => parseQuantity('1K'), QuantityError);
  assert.throws(() => parseQuantity(Number.NaN), QuantityError);
  assert.equal(tryParseQuantity({}), undefined);
  assert.equal(isValidQuantity(2), true);
});

test('toMilli: cpu millicores, rounded up', () => {
  const cases: [string | number, number][] = [
    ['100m', 100],
    ['1', 1000],
    ['0.5', 500],
    [2, 2000],
    [0.25, 250],
    ['1.5', 1500],
    ['1k', 1_000_000],
    ['1n', 1],
    ['1500u', 2],
    ['0.1m', 1],
    ['1e-3', 1],
    ['-100m', -100],
    ['0', 0],
  ];
  for (const [s, want] of cases) assert.equal(toMilli(s), want, String(s));
});

test('value / toBytes: whole units, rounded up like Value()', () => {
  const cases: [string, number][] = [
    ['1Ki', 1024],
    ['1Mi', 1048576],
    ['1.5Gi', 1610612736],
    ['0.5Ki', 512],
    ['128974848', 128974848],
    ['129e6', 129000000],
    ['129M', 129000000],
    ['123Mi', 128974848],
    ['100m', 1],
    ['1001m', 2],
    ['12E6', 12000000],
    ['1e3', 1000],
    ['1E', 1e18],
    ['-1500m', -2],
  ];
  for (const [s, want] of cases) assert.equal(value(s), want, s);
  assert.equal(toBytes('2Gi'), 2 * 1024 ** 3);
});

test('exact arithmetic where floats would be wrong', () => {
  assert.equal(scaledValue('1Ei', 0), 1152921504606846976n);
  assert.equal(scaledValue('0.1', -1) + scaledValue('0.2', -1), scaledValue('0.3', -1));
  assert.equal(compareQuantities(addQuantities('0.1', '0.2'), '0.3'), 0);
  assert.equal(formatQuantity(addQuantities('100m', '200m')), '300m');
  assert.equal(formatQuantity(subtractQuantities('1', '250m')), '750m');
  assert.equal(scaledValue('9007199254740993', 0), 9007199254740993n);
  // Precision below nano is rounded up at parse time.
  assert.equal(scaledValue('0.0000000001', -9), 1n);
});

test('compareQuantities across formats', () => {
  const cases: [string | number, string | number, -1 | 0 | 1][] = [
    ['1', '1000m', 0],
    ['1Ki', '1024', 0],
    ['1k', '1Ki', -1],
    ['1Gi', '1G', 1],
    ['1e3', '1k', 0],
    ['500m', '0.5', 0],
    ['100m', '1', -1],
    [2, '1500m', 1],
    ['-1', '0', -1],
    ['128974848', '123Mi', 0],
  ];
  for (const [a, b, want] of cases) assert.equal(compareQuantities(a, b), want, `${a} vs ${b}`);
});

test('formatQuantity prints the canonical form', () => {
  const cases: [string, string][] = [
    ['1.5', '1500m'],
    ['0.1', '100m'],
    ['1000', '1k'],
    ['1500', '1500'],
    ['1024Mi', '1Gi'],
    ['1536Mi', '1536Mi'],
    ['0.5Gi', '512Mi'],
    ['1Ki', '1Ki'],
    ['100m', '100m'],
    ['12E6', '12e6'],
    ['1e3', '1e3'],
    ['0', '0'],
    ['1000Mi', '1000Mi'],
    ['500', '500'],
    ['1.5Ki', '1536'],
    ['-1.5', '-1500m'],
    ['0.5Ki', '512'],
  ];
  for (const [s, want] of cases) assert.equal(formatQuantity(s), want, s);
  assert.equal(formatQuantity(fromMilli(2500)), '2500m');
});
