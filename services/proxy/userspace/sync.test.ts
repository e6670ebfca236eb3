/**
 * What sync() changes on a running user-space backend, over real sockets on
 * 127.0.0.1: endpoint changes without reopening, removed and handed-over
 * listeners, sockets that cannot be had, and many service ports at once.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { ServicePort } from '../types.js';
import { ask, askError, askTimes, freePort, LOCAL, openConnection, servicePort, startProxy, tcpBackend, waitFor } from './test-kit.js';

const opts = { timeout: 15_000 };

test('endpoints changed by sync take effect at once; the listener and open connections stay', opts, async (t) => {
  const [a, b] = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b')];
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('web', { nodePort, endpoints: [a] })]);
  const open = await openConnection(t, nodePort);
  assert.equal(await open.say('x'), 'a:x');
  const binds = proxy.stats().listenerBinds;

  await proxy.sync([servicePort('web', { nodePort, endpoints: [b] })]);
  assert.deepEqual(await askTimes(nodePort, 3), ['b', 'b', 'b'], 'a is no longer chosen');
  assert.equal(await open.say('y'), 'a:y', 'the connection made before goes on');
  assert.equal(proxy.stats().listenerBinds, binds, 'no listener was reopened');

  await proxy.sync([servicePort('web', { nodePort, endpoints: [] })]);
  assert.match(await askError(nodePort), /ECONNRESET|EPIPE/, 'no endpoints left');
  assert.equal(proxy.stats().listenerBinds, binds);
});

test("a removed service port's listener is closed; its open connection lasts until stop()", opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const [gonePort, stayPort] = [await freePort(), await freePort()];
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('gone', { nodePort: gonePort, endpoints: [a] }), servicePort('stay', { nodePort: stayPort, endpoints: [a] })]);
  const open = await openConnection(t, gonePort);
  assert.equal(await open.say('x'), 'a:x');

  await proxy.sync([servicePort('stay', { nodePort: stayPort, endpoints: [a] })]);
  assert.equal(await askError(gonePort), 'ECONNREFUSED');
  assert.equal(await ask(stayPort), 'a');
  assert.equal(await open.say('y'), 'a:y', 'live connections may finish');
  assert.equal(proxy.stats().drainingListeners, 1);

  const closed = new Promise((resolve) => open.socket.once('close', resolve));
  await proxy.stop();
  await closed;
  assert.equal(await askError(stayPort), 'ECONNREFUSED');
  assert.deepEqual([proxy.stats().listeners, proxy.stats().drainingListeners], [0, 0]);
});

test('a listener that cannot bind is logged, does not break the others, and is retried on the next sync', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const busy = await freePort();
  const squatter = net.createServer().listen(busy, LOCAL);
  await new Promise((resolve) => squatter.once('listening', resolve));
  t.after(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const [okPort, clusterPort] = [await freePort(), await freePort()];
  const { proxy, logs } = startProxy(t, { clusterIPs: true });
  const ports = [
    servicePort('busy', { nodePort: busy, endpoints: [a] }),
    servicePort('remote', { clusterIP: '192.0.2.1', port: clusterPort, endpoints: [a] }), // TEST-NET-1: not local
    servicePort('ok', { clusterIP: LOCAL, port: clusterPort, nodePort: okPort, endpoints: [a] }),
    servicePort('remote-dns', { protocol: 'UDP', clusterIP: '192.0.2.1', port: clusterPort, endpoints: [a] }),
  ];
  const udpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  const udpBefore = udpSockets();
  await proxy.sync(ports);

  await waitFor(() => udpSockets() === udpBefore, 'the UDP socket that failed to bind to close');
  assert.equal(await ask(okPort), 'a');
  assert.equal(await ask(clusterPort), 'a', 'cluster IP listener');
  assert.ok(logs.some((l) => l.includes('EADDRINUSE')) && logs.some((l) => l.includes('EADDRNOTAVAIL')), `logs ${logs}`);
  assert.equal(proxy.stats().pendingListeners, 3);

  await proxy.sync(ports);
  assert.equal(logs.filter((l) => l.includes('EADDRINUSE')).length, 1, 'the same failure is logged once');
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  await proxy.sync(ports);
  assert.equal(await ask(busy), 'a', 'bound on the sync after the port came free');
  assert.equal(proxy.stats().pendingListeners, 2);
});

test('many service ports sync, then an endpoint-only change reopens nothing', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const { proxy } = startProxy(t, { clusterIPs: true });
  const n = 300;
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const ports = (endpoints: typeof a[]) =>
    Array.from({ length: n }, (_, i) => servicePort(`s${i}`, { clusterIP: LOCAL, port: base + i, endpoints }));
  await proxy.sync(ports([a]));
  const first = proxy.stats();
  assert.equal(first.listeners + first.pendingListeners, n);
  await proxy.sync(ports([]));
  const second = proxy.stats();
  assert.equal(second.listenerBinds, first.listenerBinds, 'no listener reopened');
  assert.equal(second.syncs, 2);
  assert.ok(second.lastSyncMs < 100, `endpoint-only sync of ${n} ports took ${second.lastSyncMs} ms`);
});

test('a node port handed from a removed service to a new one in one sync, and a contested one waits its turn', opts, async (t) => {
  const [a, b] = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b')];
  const [handed, contested] = [await freePort(), await freePort()];
  const { proxy, logs } = startProxy(t);
  await proxy.sync([servicePort('old', { nodePort: handed, endpoints: [a] }), servicePort('first', { nodePort: contested, endpoints: [a] })]);
  assert.equal(await ask(handed), 'a');

  await proxy.sync([
    servicePort('new', { nodePort: handed, endpoints: [b] }),
    servicePort('first', { nodePort: contested, endpoints: [a] }),
    servicePort('second', { nodePort: contested, endpoints: [b] }),
  ]);
  assert.equal(await ask(handed), 'b', 'the new service got the port');
  assert.equal(await ask(contested), 'a', 'the first holder keeps it');
  assert.ok(logs.some((l) => l.includes('already used by default/first:/TCP')), `logs ${logs}`);

  await proxy.sync([servicePort('new', { nodePort: handed, endpoints: [b] }), servicePort('second', { nodePort: contested, endpoints: [b] })]);
  assert.equal(await ask(contested), 'b', 'the waiting one took over when the holder left');
  assert.equal(proxy.stats().pendingListeners, 0);
});

test('a changed node port moves the listener; the unchanged cluster IP listener stays', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const [clusterPort, before, after] = [await freePort(), await freePort(), await freePort()];
  const { proxy } = startProxy(t, { clusterIPs: true });
  await proxy.sync([servicePort('web', { clusterIP: LOCAL, port: clusterPort, nodePort: before, endpoints: [a] })]);
  const binds = proxy.stats().listenerBinds;
  await proxy.sync([servicePort('web', { clusterIP: LOCAL, port: clusterPort, nodePort: after, endpoints: [a] })]);
  assert.equal(await askError(before), 'ECONNREFUSED');
  assert.equal(await ask(after), 'a');
  assert.equal(await ask(clusterPort), 'a');
  assert.equal(proxy.stats().listenerBinds, binds + 1, 'only the node port was bound again');
});

test('a ServicePort changed in place by the caller is still seen as a change', opts, async (t) => {
  const [a, b] = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b')];
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  const port = servicePort('web', { nodePort, endpoints: [a] });
  await proxy.sync([port]);
  port.endpoints[0] = b;
  await proxy.sync([port]);
  assert.equal(await ask(nodePort), 'b');
});

test('a malformed service port is logged and skipped; the others are synced', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t);
  const broken = { ...servicePort('broken', { nodePort: await freePort(), endpoints: [] }), endpoints: undefined } as unknown as ServicePort;
  await proxy.sync([broken, servicePort('web', { nodePort, endpoints: [a] })]);
  assert.equal(await ask(nodePort), 'a');
  assert.ok(logs.some((l) => l.startsWith('proxy default/broken:/TCP: skipped')), `logs ${logs}`);
});
