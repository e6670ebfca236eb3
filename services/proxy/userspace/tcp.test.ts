/**
 * The user-space backend forwarding TCP over real sockets on 127.0.0.1:
 * balancing, failover, resets, affinity, and whole transfers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import type { Endpoint } from '../types.js';
import { ask, askError, askTimes, bounded, freePort, LOCAL, openConnection, refusingEndpoint, servicePort, silentEndpoint, sleep, startProxy, tcpBackend, waitFor } from './test-kit.js';

const opts = { timeout: 15_000 };

test('6 connections spread 2/2/2 round robin over 3 backends, in order', opts, async (t) => {
  const endpoints = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b'), await tcpBackend(t, 'c')];
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('web', { nodePort, endpoints })]);

  const answers = await askTimes(nodePort, 6);
  assert.deepEqual(answers, ['a', 'b', 'c', 'a', 'b', 'c']);
  const [web] = proxy.stats().servicePorts;
  assert.equal(web?.accepted, 6);
  assert.equal(web?.failed, 0);
});

test('a backend that refuses connections is skipped: every client still gets an answer', opts, async (t) => {
  const endpoints = [await tcpBackend(t, 'a'), await refusingEndpoint(), await tcpBackend(t, 'c')];
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t);
  await proxy.sync([servicePort('web', { nodePort, endpoints })]);

  const answers = await askTimes(nodePort, 6);
  assert.ok(answers.every((a) => a === 'a' || a === 'c'), `answers ${answers}`);
  assert.ok(logs.some((l) => l.includes('ECONNREFUSED')), `logs ${logs}`);
  assert.equal(proxy.stats().servicePorts[0]?.failed, 0);
});

test('an endpoint the kernel refuses to connect to at once (a multicast address) is skipped like a refusing one', opts, async (t) => {
  const endpoints = [{ ip: '224.0.0.1', port: 80 }, await tcpBackend(t, 'b')];
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t);
  await proxy.sync([servicePort('web', { nodePort, endpoints })]);

  assert.deepEqual(await askTimes(nodePort, 3), ['b', 'b', 'b']);
  assert.ok(logs.some((l) => /connect to 224\.0\.0\.1:80 failed \(E[A-Z]+\); trying the next endpoint/.test(l)), `logs ${logs}`);
  assert.equal(proxy.stats().servicePorts[0]?.failed, 0);
  await waitFor(() => proxy.stats().activeConnections === 0, 'the proxy to drop the connections');
});

test('when every endpoint refuses, or there is none, the client connection is reset', opts, async (t) => {
  const deadPort = await freePort();
  const emptyPort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([
    servicePort('dead', { nodePort: deadPort, endpoints: [await refusingEndpoint(), await refusingEndpoint()] }),
    servicePort('empty', { nodePort: emptyPort, endpoints: [] }),
  ]);

  assert.match(await askError(deadPort), /ECONNRESET|EPIPE/);
  assert.match(await askError(emptyPort), /ECONNRESET|EPIPE/);
  const stats = Object.fromEntries(proxy.stats().servicePorts.map((s) => [s.key, s]));
  assert.deepEqual([stats['default/dead:/TCP']?.failed, stats['default/empty:/TCP']?.failed], [1, 1]);
});

test('8 MB through and back intact (backpressure, half-close), and no socket outlives the connection', opts, async (t) => {
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('echo', { nodePort, endpoints: [await echoEndpoint(t)] })]);
  const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
  const before = sockets();

  const payload = randomBytes(8 * 1024 * 1024);
  const back = await echoThrough(t, nodePort, payload);
  assert.equal(back.length, payload.length);
  assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  await waitFor(() => sockets() === before && proxy.stats().activeConnections === 0, 'every socket of the connection to close');
});

test('what a client sends while its upstream side connects (1 MB: more than the 64 KiB held before reading pauses) arrives whole, FIN included', opts, async (t) => {
  const endpoints = [await silentEndpoint(t), await echoEndpoint(t)];
  const nodePort = await freePort();
  const { proxy } = startProxy(t, { connectTimeoutMs: 300 });
  await proxy.sync([servicePort('echo', { nodePort, endpoints })]);

  // All of it, and the FIN, sent while the first endpoint keeps the proxy waiting 300 ms.
  const payload = randomBytes(1024 * 1024);
  const started = Date.now();
  const back = await echoThrough(t, nodePort, payload);
  assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms: the first endpoint was not waited for`);
  assert.equal(back.length, payload.length);
  assert.ok(back.equals(payload), 'the echo differs from what was sent');
  await waitFor(() => proxy.stats().activeConnections === 0, 'the proxy to drop both connections');
});

/** An echo server on 127.0.0.1 that ends each connection after the client's FIN. */
async function echoEndpoint(t: TestContext): Promise<Endpoint> {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s)); // pipe ends s after the client's FIN
  await new Promise<void>((resolve) => echo.listen(0, LOCAL, resolve));
  t.after(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  return { ip: LOCAL, port: (echo.address() as net.AddressInfo).port };
}

/** Sends `payload` and a FIN to the node port, and returns all that came back before the other side's FIN. */
async function echoThrough(t: TestContext, nodePort: number, payload: Buffer): Promise<Buffer> {
  const client = net.connect({ host: LOCAL, port: nodePort, allowHalfOpen: true });
  t.after(() => void client.destroy());
  const chunks: Buffer[] = [];
  client.on('data', (d) => chunks.push(d));
  const ended = new Promise((resolve, reject) => client.once('end', resolve).once('error', reject));
  client.end(payload);
  await bounded(ended, 'the echo to end', 10_000);
  client.destroy();
  return Buffer.concat(chunks);
}

test('a reset on either side resets the other', opts, async (t) => {
  const backendSockets: net.Socket[] = [];
  const backend = net.createServer((s) => {
    backendSockets.push(s);
    s.on('error', () => {});
    s.on('data', (d) => (String(d) === 'boom' ? s.resetAndDestroy() : s.write(`b:${d}`)));
  });
  await new Promise<void>((resolve) => backend.listen(0, LOCAL, resolve));
  t.after(() => {
    for (const s of backendSockets) s.destroy();
    return new Promise<void>((resolve) => backend.close(() => resolve()));
  });
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('r', { nodePort, endpoints: [{ ip: LOCAL, port: (backend.address() as net.AddressInfo).port }] })]);

  const first = await openConnection(t, nodePort);
  assert.equal(await first.say('x'), 'b:x');
  const firstError = new Promise((resolve) => first.socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
  first.socket.write('boom');
  assert.equal(await bounded(firstError, 'the reset to reach the client'), 'ECONNRESET');

  const second = await openConnection(t, nodePort);
  assert.equal(await second.say('y'), 'b:y');
  const backendSide = backendSockets.at(-1)!;
  const backendClosed = new Promise((resolve) => backendSide.once('close', resolve));
  second.socket.resetAndDestroy();
  await bounded(backendClosed, 'the reset to reach the backend');
  await waitFor(() => proxy.stats().activeConnections === 0, 'the proxy to drop both connections');
});

test('ClientIP affinity keeps a client on one backend, and round robin resumes after the timeout', opts, async (t) => {
  const endpoints = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b'), await tcpBackend(t, 'c')];
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  const affinity = { type: 'ClientIP', timeoutSeconds: 0.3 } as const;
  await proxy.sync([servicePort('web', { nodePort, endpoints, affinity })]);

  assert.deepEqual(await askTimes(nodePort, 4), ['a', 'a', 'a', 'a']);
  await sleep(600);
  assert.deepEqual(await askTimes(nodePort, 2), ['b', 'b'], 'after the timeout: the next backend, kept again');
});

test('an endpoint that does not answer is given up after connectTimeoutMs, and the next one answers', opts, async (t) => {
  const endpoints = [await silentEndpoint(t), await tcpBackend(t, 'b')];
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t, { connectTimeoutMs: 200 });
  await proxy.sync([servicePort('web', { nodePort, endpoints })]);

  const started = Date.now();
  assert.equal(await ask(nodePort), 'b');
  assert.ok(Date.now() - started >= 190, `answered after ${Date.now() - started} ms`);
  assert.ok(logs.some((l) => l.includes('no answer in 200 ms')), `logs ${logs}`);
  assert.equal(proxy.stats().servicePorts[0]?.failed, 0);
});

test('a client that resets while the connect is pending drops the attempt: not a failure, no socket left', opts, async (t) => {
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t, { connectTimeoutMs: 10_000 });
  await proxy.sync([servicePort('web', { nodePort, endpoints: [await silentEndpoint(t)] })]);
  const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
  const before = sockets();

  const client = net.connect({ host: LOCAL, port: nodePort });
  client.on('error', () => {});
  await bounded(new Promise((resolve) => client.once('connect', resolve)), 'connect to the proxy');
  await waitFor(() => sockets() === before + 3, 'the proxy to accept and start connecting'); // client, its accepted twin, the attempt
  client.resetAndDestroy(); // a FIN alone would be a half-close: the client may still want the answer
  await waitFor(() => sockets() === before && proxy.stats().activeConnections === 0, 'every socket of the connection to close');
  assert.deepEqual([proxy.stats().servicePorts[0]?.failed, logs], [0, []]);
});

test('half-close the other way round: the backend finishes first, the client after; both see a clean end', opts, async (t) => {
  const backendSides: net.Socket[] = [];
  const backendEnds: Promise<string>[] = [];
  const backend = net.createServer({ allowHalfOpen: true }, (s) => {
    backendSides.push(s);
    let heard = '';
    s.on('data', (d) => (heard += d));
    backendEnds.push(new Promise((resolve) => s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')).on('end', () => resolve(`end after ${heard}`))));
    s.end('first'); // answers and shuts its side before the client said anything
  });
  await new Promise<void>((resolve) => backend.listen(0, LOCAL, resolve));
  t.after(() => {
    for (const s of backendSides) s.destroy();
    return new Promise<void>((resolve) => backend.close(() => resolve()));
  });
  const nodePort = await freePort();
  const { proxy } = startProxy(t);
  await proxy.sync([servicePort('h', { nodePort, endpoints: [{ ip: LOCAL, port: (backend.address() as net.AddressInfo).port }] })]);

  const client = net.connect({ host: LOCAL, port: nodePort, allowHalfOpen: true });
  t.after(() => void client.destroy());
  let got = '';
  client.on('data', (d) => (got += d));
  await bounded(new Promise((resolve, reject) => client.once('end', resolve).once('error', reject)), "the backend's FIN");
  client.end('late words');
  await bounded(new Promise((resolve, reject) => client.once('close', resolve).once('error', reject)), 'the client to close');
  assert.equal(got, 'first');
  assert.equal(await bounded(backendEnds[0]!, "the client's FIN at the backend"), 'end after late words');
  await waitFor(() => proxy.stats().activeConnections === 0, 'the proxy to drop both connections');
});
