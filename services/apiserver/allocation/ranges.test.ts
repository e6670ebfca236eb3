/** The service IP range and node port range: parsing, offsets, and what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidRangeError, ipToNumber, numberToIP, parsePortRange, ServiceIPRange } from './ranges.js';

test('10.96.0.0/16: 65,534 usable addresses from 10.96.0.1 to 10.96.255.254', () => {
  const r = ServiceIPRange.parse('10.96.0.0/16');
  assert.equal(r.cidr, '10.96.0.0/16');
  assert.equal(r.size, 65_534);
  assert.equal(r.firstIP, '10.96.0.1');
  assert.equal(r.ipAt(r.size - 1), '10.96.255.254');
  assert.equal(r.offsetOf('10.96.0.10'), 9);
  assert.equal(r.ipAt(9), '10.96.0.10');
});

test('network and broadcast addresses, and addresses outside, are not in the range', () => {
  const r = ServiceIPRange.parse('10.96.0.0/16');
  for (const ip of ['10.96.0.0', '10.96.255.255', '10.97.0.1', '10.95.255.254', '1.2.3.4', 'x', '10.96.0.256']) {
    assert.equal(r.contains(ip), false, ip);
  }
  assert.equal(r.contains('10.96.128.7'), true);
});

test('host bits are dropped, as Kubernetes does', () => {
  const r = ServiceIPRange.parse('192.168.7.9/24');
  assert.equal(r.cidr, '192.168.7.0/24');
  assert.equal(r.firstIP, '192.168.7.1');
  assert.equal(r.size, 254);
});

test('a /30 holds two addresses; prefixes outside /12–/30 and non-CIDRs are refused with an example', () => {
  assert.equal(ServiceIPRange.parse('10.0.0.0/30').size, 2);
  for (const bad of ['10.0.0.0/31', '10.0.0.0/8', '10.0.0.0', '10.0.0.0/x', 'fd00::/108', '10.0.0.0/16/2', '300.0.0.0/16']) {
    assert.throws(() => ServiceIPRange.parse(bad), (e: Error) => e instanceof InvalidRangeError && /10\.96\.0\.0\/16/.test(e.message), bad);
  }
});

test('addresses round-trip through numbers, the top of the space included', () => {
  for (const ip of ['0.0.0.0', '10.96.0.1', '255.255.255.255', '172.16.254.3']) assert.equal(numberToIP(ipToNumber(ip)!), ip);
  assert.equal(ipToNumber('255.255.255.255'), 2 ** 32 - 1);
});

test('node port ranges: "min-max" or one port; reversed, out of bounds or garbage is refused', () => {
  assert.deepEqual(parsePortRange('30000-32767'), { min: 30000, max: 32767 });
  assert.deepEqual(parsePortRange(' 8000 - 9000 '), { min: 8000, max: 9000 });
  assert.deepEqual(parsePortRange('31000'), { min: 31000, max: 31000 });
  for (const bad of ['32767-30000', '0-10', '1-65536', 'a-b', '30000-', '']) assert.throws(() => parsePortRange(bad), InvalidRangeError, bad);
});
