/**
 * The balancer alone, on a hand-driven clock: round robin, skipping tried
 * endpoints, ClientIP affinity and its timeout, endpoint updates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint, SessionAffinity } from '../types.js';
import { Balancer, endpointKey } from './balancer.js';

const ep = (last: number, port = 80): Endpoint => ({ ip: `10.0.0.${last}`, port });
const none: SessionAffinity = { type: 'None' };
const sticky = (timeoutSeconds: number): SessionAffinity => ({ type: 'ClientIP', timeoutSeconds });

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const picks = (b: Balancer, client: string, n: number) => Array.from({ length: n }, () => b.pick(client)?.ip.slice(7));

test('round robin goes through the endpoints in order, whoever asks', () => {
  const b = new Balancer([ep(1), ep(2), ep(3)], none);
  assert.deepEqual(
    [b.pick('c1'), b.pick('c2'), b.pick('c1'), b.pick('c3')].map((e) => e?.ip),
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1'],
  );
});

test('no endpoints: nothing to pick', () => {
  assert.equal(new Balancer([], none).pick('c'), undefined);
  assert.equal(new Balancer([], sticky(10)).pick('c'), undefined);
});

test('tried endpoints are skipped; when all were tried there is none', () => {
  const b = new Balancer([ep(1), ep(2), ep(3)], none);
  const tried = new Set([endpointKey(ep(1))]);
  assert.equal(b.pick('c', tried)?.ip, '10.0.0.2');
  tried.add(endpointKey(ep(2)));
  assert.equal(b.pick('c', tried)?.ip, '10.0.0.3');
  tried.add(endpointKey(ep(3)));
  assert.equal(b.pick('c', tried), undefined);
});

test('endpoints are told apart by ip and port', () => {
  assert.notEqual(endpointKey(ep(1, 80)), endpointKey(ep(1, 81)));
  assert.equal(endpointKey({ ip: 'fd00::1', port: 53 }), '[fd00::1]:53');
});

test('ClientIP affinity: a client keeps its endpoint while active, others still go round robin', () => {
  const c = clock();
  const b = new Balancer([ep(1), ep(2), ep(3)], sticky(10), c.now);
  assert.deepEqual(picks(b, 'x', 3), ['1', '1', '1']);
  assert.deepEqual(picks(b, 'y', 2), ['2', '2']);
  c.advance(9_000);
  assert.deepEqual(picks(b, 'x', 1), ['1'], 'each pick renews the timeout');
  c.advance(9_000);
  assert.deepEqual(picks(b, 'x', 1), ['1']);
});

test('ClientIP affinity ends after the timeout of inactivity; round robin picks again', () => {
  const c = clock();
  const b = new Balancer([ep(1), ep(2), ep(3)], sticky(10), c.now);
  assert.deepEqual(picks(b, 'x', 2), ['1', '1']);
  c.advance(10_000);
  assert.deepEqual(picks(b, 'x', 2), ['2', '2']);
});

test('touch counts inactivity from when the last connection ended, for its own endpoint only', () => {
  const c = clock();
  const b = new Balancer([ep(1), ep(2)], sticky(10), c.now);
  b.pick('x');
  c.advance(8_000);
  b.touch('x', ep(1));
  b.touch('x', ep(2)); // not its endpoint: ignored
  c.advance(8_000);
  assert.deepEqual(picks(b, 'x', 1), ['1']);
});

test('a failed affinity endpoint is skipped for that connection, and the new one is kept', () => {
  const b = new Balancer([ep(1), ep(2), ep(3)], sticky(10));
  assert.equal(b.pick('x')?.ip, '10.0.0.1');
  assert.equal(b.pick('x', new Set([endpointKey(ep(1))]))?.ip, '10.0.0.2');
  assert.equal(b.pick('x')?.ip, '10.0.0.2');
});

test('update: a vanished endpoint is never picked, not even by affinity; round robin carries on', () => {
  const b = new Balancer([ep(1), ep(2), ep(3)], sticky(10));
  assert.equal(b.pick('x')?.ip, '10.0.0.1');
  b.update([ep(2), ep(3)], sticky(10));
  assert.equal(b.has(ep(1)), false);
  assert.deepEqual(picks(b, 'x', 2), ['3', '3'], 'index 1 of the new list, then kept');
  assert.deepEqual(picks(b, 'y', 1), ['2']);
  b.update([], sticky(10));
  assert.equal(b.pick('x'), undefined);
});

test('turning affinity off forgets every client; expired entries are swept while picking', () => {
  const c = clock();
  const b = new Balancer([ep(1), ep(2)], sticky(1), c.now);
  for (let i = 0; i < 100; i++) b.pick(`client-${i}`);
  assert.equal(b.affinityEntries, 100);
  c.advance(1_000);
  b.pick('late');
  assert.equal(b.affinityEntries, 1, 'the 100 expired ones were swept');
  b.update([ep(1), ep(2)], none);
  assert.equal(b.affinityEntries, 0);
  assert.equal(b.size, 2);
});
