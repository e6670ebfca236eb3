/**
 * The user-space backend with a forwarder process (forwarders/): TCP
 * connections accepted by either process, the forwarder kept in step with
 * syncs, affinity left to the backend alone, sharing turned on by bulk
 * traffic, and no process or socket left behind. Real sockets on 127.0.0.1
 * and a real child process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ask, askError, freePort, openConnection, servicePort, sleep, startProxy, tcpBackend, waitFor } from './test-kit.js';
import type { UserspaceBackend } from './userspace.backend.js';

const opts = { timeout: 30_000 };

/** Pids of this process's forwarder children (from /proc). */
function forwarderPids(): number[] {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('forwarder.main');
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** Connections until the forwarder has taken some (which process accepts is the kernel's choice), bounded. */
async function untilForwarderTakesSome(proxy: UserspaceBackend, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (proxy.stats().forwardersAccepted === 0) {
    assert.ok(Date.now() < deadline, 'the forwarder took no connection in 10 s');
    const answers = await spread(port, 40);
    assert.ok(!('' in answers), `every connection answered: ${JSON.stringify(answers)}`);
    await sleep(300); // its counters are reported every 250 ms
  }
}

/** The forwarders' accepted count once their reports stop changing it (reported every 250 ms), bounded. */
async function settledForwarderCount(proxy: UserspaceBackend): Promise<number> {
  const deadline = Date.now() + 5_000;
  let last = proxy.stats().forwardersAccepted;
  for (;;) {
    await sleep(600);
    const now = proxy.stats().forwardersAccepted;
    if (now === last || Date.now() > deadline) return now;
    last = now;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `n` connections, 8 at a time: each backend's name → how many it answered. */
async function spread(port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i += 8) {
    const answers = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => ask(port)));
    for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  }
  return counts;
}

test('connections are forwarded by the backend and its forwarder alike, evenly over the endpoints', opts, async (t) => {
  const endpoints = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b'), await tcpBackend(t, 'c')];
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t, { forwarders: 1, forwardWhen: 'always' });
  await proxy.sync([servicePort('web', { nodePort, endpoints })]);
  await waitFor(() => proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);

  const counts = await spread(nodePort, 240);
  assert.deepEqual(Object.keys(counts).sort(), ['a', 'b', 'c'], `answers ${JSON.stringify(counts)}`);
  // Round robin in each process: every endpoint within a connection or two of a third, per process.
  for (const name of ['a', 'b', 'c']) assert.ok(counts[name]! >= 76 && counts[name]! <= 84, `answers ${JSON.stringify(counts)}`);
  await waitFor(() => proxy.stats().servicePorts[0]?.accepted === 240, 'both processes to have counted every connection', 5_000);
  await untilForwarderTakesSome(proxy, nodePort);
  const [pid] = forwarderPids();
  assert.ok(pid, 'a forwarder process runs');
  assert.deepEqual(logs.filter((l) => l.includes('forwarder')), []);
});

test('the forwarder follows syncs: new endpoints at once, a removed port closed at once, a port handed to another service', opts, async (t) => {
  const [a, b] = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b')];
  const [port1, port2] = [await freePort(), await freePort()];
  const { proxy } = startProxy(t, { forwarders: 1, forwardWhen: 'always' });
  await proxy.sync([servicePort('one', { nodePort: port1, endpoints: [a] }), servicePort('two', { nodePort: port2, endpoints: [a] })]);
  await waitFor(() => proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);
  assert.deepEqual(await spread(port1, 40), { a: 40 });

  await proxy.sync([servicePort('one', { nodePort: port1, endpoints: [b] }), servicePort('two', { nodePort: port2, endpoints: [a] })]);
  assert.deepEqual(await spread(port1, 40), { b: 40 }, 'no connection went to the old endpoint');

  // port2 moves from service two to service three in one sync: the forwarder's copy must be gone before it is bound again.
  await proxy.sync([servicePort('one', { nodePort: port1, endpoints: [b] }), servicePort('three', { nodePort: port2, endpoints: [b] })]);
  assert.equal(proxy.stats().pendingListeners, 0, 'the handed-over port was bound at once');
  assert.deepEqual(await spread(port2, 40), { b: 40 });

  await proxy.sync([servicePort('three', { nodePort: port2, endpoints: [b] })]);
  for (let i = 0; i < 20; i++) assert.equal(await askError(port1), 'ECONNREFUSED', 'no process accepts on a removed port');
});

test('ClientIP affinity is kept by the backend alone: one client, one endpoint, also when affinity is turned on later', opts, async (t) => {
  const endpoints = [await tcpBackend(t, 'a'), await tcpBackend(t, 'b'), await tcpBackend(t, 'c')];
  const [sticky, later] = [await freePort(), await freePort()];
  const { proxy } = startProxy(t, { forwarders: 1, forwardWhen: 'always' });
  const affinity = { type: 'ClientIP', timeoutSeconds: 60 } as const;
  await proxy.sync([servicePort('sticky', { nodePort: sticky, endpoints, affinity }), servicePort('later', { nodePort: later, endpoints })]);
  await waitFor(() => proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);
  assert.equal(Object.keys(await spread(sticky, 40)).length, 1, 'every connection went to one endpoint');
  assert.equal(Object.keys(await spread(later, 40)).length, 3, 'without affinity: all three');

  await proxy.sync([servicePort('sticky', { nodePort: sticky, endpoints, affinity }), servicePort('later', { nodePort: later, endpoints, affinity })]);
  assert.equal(Object.keys(await spread(later, 40)).length, 1, 'affinity turned on: one endpoint');
});

test('a forwarder that dies is started again; the service answers all along; stop() ends it', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t, { forwarders: 1, forwardWhen: 'always' });
  await proxy.sync([servicePort('web', { nodePort, endpoints: [a] })]);
  await waitFor(() => forwarderPids().length === 1 && proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);
  const [first] = forwarderPids();
  process.kill(first!, 'SIGKILL');
  // Connections it had accepted die with it (as with any proxy process killed); the listening socket does not.
  await waitFor(() => logs.some((l) => l.includes('exited (signal SIGKILL)')), 'the pool to see it exit');

  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline) assert.deepEqual(await spread(nodePort, 8), { a: 8 }, 'answered while the forwarder is down');
  await waitFor(() => forwarderPids().some((pid) => pid !== first) && proxy.stats().forwarders === 1, 'another forwarder', 10_000);
  assert.deepEqual(await spread(nodePort, 40), { a: 40 });
  await waitFor(() => proxy.stats().servicePorts[0]?.accepted! >= 40, 'the counts', 5_000);

  const [second] = forwarderPids();
  await proxy.stop();
  assert.equal(alive(second!), false, 'stop() waited for the forwarder to exit');
  assert.equal(await askError(nodePort), 'ECONNREFUSED');
  await sleep(10);
});

test('by default the forwarder accepts only while the backend is busy and connections are few (long ones)', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const nodePort = await freePort();
  // "Busy" lowered to anything, so that this test's light traffic counts; short connections never come fast enough here.
  const { proxy, logs } = startProxy(t, { forwarders: 1, demand: { busy: 0, shortRate: 1e9 } });
  await proxy.sync([servicePort('web', { nodePort, endpoints: [a] })]);
  await sleep(600);
  assert.ok(!logs.some((l) => l.includes('forwarders accept')), 'no connection open: not shared');
  const open = await openConnection(t, nodePort); // a long connection
  assert.equal(await open.say('x'), 'a:x');
  await waitFor(() => logs.some((l) => l.includes('forwarders accept connections too')), 'the first samples to turn sharing on', 5_000);
  await waitFor(() => proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);
  await sleep(100);
  assert.deepEqual(await spread(nodePort, 200), { a: 200 });
  await waitFor(() => proxy.stats().servicePorts[0]?.accepted === 201, 'every connection counted (and the long one)', 5_000);
  await untilForwarderTakesSome(proxy, nodePort);
});

test('a stream of short connections stops the forwarder accepting at once', opts, async (t) => {
  const a = await tcpBackend(t, 'a');
  const nodePort = await freePort();
  const { proxy, logs } = startProxy(t, { forwarders: 1, demand: { busy: 0, shortRate: 100 } });
  const ports = [servicePort('web', { nodePort, endpoints: [a] })];
  await proxy.sync(ports);
  await openConnection(t, nodePort);
  await waitFor(() => logs.some((l) => l.includes('forwarders accept connections too')), 'the first samples to turn sharing on', 5_000);
  await waitFor(() => proxy.stats().forwarders === 1, 'the forwarder to start', 10_000);
  const deadline = Date.now() + 5_000;
  while (!logs.some((l) => l.includes('forwarders stop accepting')) && Date.now() < deadline) assert.deepEqual(await spread(nodePort, 40), { a: 40 });
  assert.ok(logs.some((l) => l.includes('forwarders stop accepting')), `logs ${logs}`);
  // The stream goes on: a quiet sample with the long connection open would rightly turn
  // sharing on again. The decision is logged before the forwarder lets go: a sync, queued
  // behind that unshare, resolves once it has; then its last counts are waited for.
  let streaming = true;
  const stream = (async () => {
    while (streaming) assert.deepEqual(await spread(nodePort, 40), { a: 40 });
  })();
  let taken: number;
  try {
    await proxy.sync(ports);
    taken = await settledForwarderCount(proxy);
    assert.deepEqual(await spread(nodePort, 200), { a: 200 });
  } finally {
    streaming = false;
    await stream;
  }
  await sleep(300);
  assert.equal(proxy.stats().forwardersAccepted, taken, 'the forwarder takes none any more');
});
