/**
 * The user-space backend forwarding UDP over real sockets on 127.0.0.1: one
 * flow per client, answers back through the proxy, idle flows closed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, LOCAL, servicePort, startProxy, udpClient, udpEcho, waitFor } from './test-kit.js';

const opts = { timeout: 15_000 };

test('UDP echo through the proxy from 2 clients, one flow each; flows expire after the idle timeout', opts, async (t) => {
  const endpoints = [await udpEcho(t, 'a'), await udpEcho(t, 'b')];
  const nodePort = await freePort('UDP');
  const { proxy } = startProxy(t, { udpIdleTimeoutMs: 200 });
  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints })]);
  const [one, two] = [await udpClient(t), await udpClient(t)];

  assert.equal(await one.exchange(nodePort, 'hi'), 'a:hi');
  assert.equal(await two.exchange(nodePort, 'hi'), 'b:hi');
  assert.equal(await one.exchange(nodePort, 'again'), 'a:again', 'a flow stays on its endpoint');
  assert.equal(await two.exchange(nodePort, 'again'), 'b:again');
  const stats = proxy.stats();
  assert.equal(stats.activeFlows, 2);
  assert.equal(stats.servicePorts[0]?.accepted, 2);

  await waitFor(() => proxy.stats().activeFlows === 0, 'idle flows to close', 1_500);
  assert.equal(await one.exchange(nodePort, 'later'), 'a:later', 'a new flow after expiry, round robin goes on');
  assert.equal(proxy.stats().servicePorts[0]?.accepted, 3);
});

test('a UDP flow whose endpoint left the service moves to a remaining one', opts, async (t) => {
  const [a, b] = [await udpEcho(t, 'a'), await udpEcho(t, 'b')];
  const nodePort = await freePort('UDP');
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints: [a, b] })]);
  const client = await udpClient(t);
  assert.equal(await client.exchange(nodePort, 'x'), 'a:x');

  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints: [b] })]);
  assert.equal(await client.exchange(nodePort, 'y'), 'b:y');
  assert.equal(proxy.stats().activeFlows, 1);
});

test('UDP without endpoints drops datagrams and counts the failure; a removed UDP port closes its flows', opts, async (t) => {
  const a = await udpEcho(t, 'a');
  const nodePort = await freePort('UDP');
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints: [] })]);
  const client = await udpClient(t);
  await assert.rejects(client.exchange(nodePort, 'lost', 300), /timed out/);
  assert.equal(proxy.stats().servicePorts[0]?.failed, 1);

  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints: [a] })]);
  assert.equal(await client.exchange(nodePort, 'x'), 'a:x');
  await proxy.sync([]);
  assert.deepEqual([proxy.stats().activeFlows, proxy.stats().listeners], [0, 0]);
});

test('a UDP flow to an endpoint that refuses (ICMP port unreachable) ends; the next datagram goes on to another', opts, async (t) => {
  const dead = { ip: LOCAL, port: await freePort('UDP') };
  const b = await udpEcho(t, 'b');
  const nodePort = await freePort('UDP');
  const { proxy, logs } = startProxy(t);
  await proxy.sync([servicePort('dns', { protocol: 'UDP', nodePort, endpoints: [dead, b] })]);
  const client = await udpClient(t);

  await assert.rejects(client.exchange(nodePort, 'x', 300), /timed out/);
  await waitFor(() => proxy.stats().activeFlows === 0, 'the refused flow to end');
  assert.ok(logs.some((l) => l.includes('ECONNREFUSED')), `logs ${logs}`);
  assert.equal(await client.exchange(nodePort, 'y'), 'b:y');
});
