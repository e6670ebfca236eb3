/**
 * TcpStream on real sockets on 127.0.0.1: the corners of Node's TCP handles
 * that the proxy's connection-level tests (tcp.test.ts) do not reach.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { TcpStream, type StreamOwner } from './tcp-stream.js';
import { bounded, LOCAL } from './test-kit.js';

const opts = { timeout: 15_000 };

/** An owner that records what it hears and can be told what to do once connected. */
function recordingOwner(onConnected: (stream: TcpStream) => void): StreamOwner & { heard: string[]; closed: Promise<void> } {
  let markClosed!: () => void;
  const heard: string[] = [];
  return {
    heard,
    closed: new Promise((resolve) => (markClosed = resolve)),
    streamConnected: (stream, error) => (heard.push(`connected ${error ?? ''}`), error === undefined && onConnected(stream)),
    streamData: () => undefined,
    streamEnded: () => void heard.push('ended'),
    streamDrained: () => void heard.push('drained'),
    streamFinished: () => void heard.push('finished'),
    streamFailed: (_stream, error) => void heard.push(`failed ${error}`),
    streamClosed: () => (heard.push('closed'), markClosed()),
  };
}

test('a reset asked for while our FIN waits behind queued writes happens once the FIN is sent, and the stream closes', opts, async (t) => {
  const peers: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.pause(); // reads nothing until told: our writes queue up
    s.on('error', () => undefined);
    peers.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  t.after(() => {
    for (const s of peers) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  let queued = false;
  const owner = recordingOwner((stream) => {
    for (let i = 0; i < 256 && !queued; i++) queued = !stream.write(Buffer.alloc(1024 * 1024));
    stream.end(); // the FIN waits behind the queued writes
    stream.reset(); // libuv cannot reset now
  });
  TcpStream.connectTo(LOCAL, (server.address() as net.AddressInfo).port, owner);
  await bounded(new Promise<void>((resolve) => server.once('connection', () => setImmediate(resolve))), 'the connection');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(queued, 'no write was queued: the test did not reach the case');
  assert.ok(!owner.heard.includes('closed'), `closed before its FIN was sent: ${owner.heard}`);

  for (const s of peers) s.resume(); // the writes drain, the FIN goes, then the reset
  await bounded(owner.closed, 'the stream to close after its FIN');
  assert.ok(!owner.heard.includes('finished'), `the owner heard the FIN of a stream it had reset: ${owner.heard}`);
});

test('a connect the kernel refuses at once is reported like any other failed connect, a moment later', opts, async () => {
  let connected = false;
  const owner = recordingOwner(() => (connected = true));
  // TCP to a multicast address: connect(2) fails at once with ENETUNREACH.
  const stream = TcpStream.connectTo('224.0.0.1', 80, owner);
  assert.deepEqual(owner.heard, [], 'reported before connectTo returned');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(connected, false);
  assert.match(owner.heard[0] ?? '', /^connected E[A-Z]+$/);
  stream.close();
  await bounded(owner.closed, 'the stream to close');
});
