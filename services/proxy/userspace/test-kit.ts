/**
 * Builders and tiny servers for the user-space proxy's tests, on 127.0.0.1
 * only. Whatever a helper opens is closed by the test's after() hook, so a
 * failing test leaves no socket behind; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type { TestContext } from 'node:test';
import type { Endpoint, Protocol, ServicePort, SessionAffinity } from '../types.js';
import { UserspaceBackend, type UserspaceBackendOptions } from './userspace.backend.js';

export const LOCAL = '127.0.0.1';
const WAIT_MS = 2_000;

/** A ServicePort `default/NAME:/PROTOCOL` with what the test cares about. */
export function servicePort(
  name: string,
  fields: { endpoints: Endpoint[]; protocol?: Protocol; nodePort?: number; clusterIP?: string; port?: number; affinity?: SessionAffinity },
): ServicePort {
  const protocol = fields.protocol ?? 'TCP';
  return {
    key: `default/${name}:/${protocol}`,
    namespace: 'default',
    name,
    portName: '',
    protocol,
    clusterIP: fields.clusterIP,
    port: fields.port ?? 80,
    nodePort: fields.nodePort,
    sessionAffinity: fields.affinity ?? { type: 'None' },
    endpoints: fields.endpoints,
  };
}

/** A backend on 127.0.0.1 (stopped after the test) and the lines it logged. */
export function startProxy(t: TestContext, options: UserspaceBackendOptions = {}): { proxy: UserspaceBackend; logs: string[] } {
  const logs: string[] = [];
  const proxy = new UserspaceBackend({ bindAddress: LOCAL, log: (m) => logs.push(m), ...options });
  t.after(() => proxy.stop());
  return { proxy, logs };
}

/**
 * A port that was free a moment ago, and not handed out before by this
 * process: the kernel may give the same free port to two binds in a row, and
 * a test that asked for two ports must get two (CI once saw a "handed" and a
 * "contested" node port that were one port).
 */
export async function freePort(protocol: Protocol = 'TCP'): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await anyFreePort(protocol);
    const key = `${protocol}/${port}`;
    if (handedOut.has(key)) continue;
    handedOut.add(key);
    return port;
  }
  throw new Error(`no ${protocol} port that was not handed out already, in 100 tries`);
}

const handedOut = new Set<string>();

async function anyFreePort(protocol: Protocol): Promise<number> {
  if (protocol === 'UDP') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, LOCAL, resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(resolve));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP server named `name`: echoes each chunk as `name:chunk`, and when the
 * client ends its side answers `name` and ends too (so it needs the half-close
 * to pass through the proxy).
 */
export async function tcpBackend(t: TestContext, name: string): Promise<Endpoint> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk) => socket.write(`${name}:${chunk}`));
    socket.on('end', () => socket.end(name));
  });
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { ip: LOCAL, port: (server.address() as net.AddressInfo).port };
}

/** An endpoint nothing listens on: connecting to it is refused. */
export async function refusingEndpoint(): Promise<Endpoint> {
  return { ip: LOCAL, port: await freePort() };
}

/**
 * An endpoint that never answers a connect: a listener (backlog 1) in a child
 * process stopped with SIGSTOP, its accept queue filled by a few connections
 * of our own, so the kernel drops every further SYN. Killed after the test.
 */
export async function silentEndpoint(t: TestContext): Promise<Endpoint> {
  const listen = `require('net').createServer().listen({ host: '${LOCAL}', port: 0, backlog: 1 }, function () { console.log(this.address().port); })`;
  const child = spawn(process.execPath, ['-e', listen], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  });
  const line = await bounded(new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d)))), 'the silent listener to listen');
  const port = Number(line.trim());
  child.kill('SIGSTOP');
  for (let i = 0; i < 4; i++) fillers.push(net.connect({ host: LOCAL, port }).on('error', () => {}));
  return { ip: LOCAL, port };
}

/** Connects, shuts its side at once, returns all it got: the answering backend's name. Rejects on reset or after WAIT_MS. */
export function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOCAL, port, allowHalfOpen: true });
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer on port ${port} in ${WAIT_MS} ms (got ${JSON.stringify(got)})`));
    }, WAIT_MS);
    socket.on('connect', () => socket.end());
    socket.on('data', (d) => (got += d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(got);
      socket.destroy();
    });
  });
}

/** `ask` n times in a row: the answers in order. */
export async function askTimes(port: number, n: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < n; i++) answers.push(await ask(port));
  return answers;
}

/** The error code `ask` fails with, or `answered NAME` if it did not fail. */
export function askError(port: number): Promise<string> {
  return ask(port).then(
    (answer) => `answered ${answer}`,
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
}

/** A TCP connection kept open (closed after the test); `say` writes and waits for the echo. */
export async function openConnection(t: TestContext, port: number): Promise<{ socket: net.Socket; say: (text: string) => Promise<string> }> {
  const socket = net.connect({ host: LOCAL, port });
  socket.on('error', () => {});
  t.after(() => void socket.destroy());
  await bounded(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), `connect to ${port}`);
  const say = (text: string) => {
    const answer = new Promise<string>((resolve, reject) => {
      socket.once('data', (d) => resolve(String(d)));
      socket.once('close', () => reject(new Error('connection closed')));
    });
    socket.write(text);
    return bounded(answer, `echo of ${text}`);
  };
  return { socket, say };
}

/** A UDP server named `name` that answers each datagram with `name:datagram`. */
export async function udpEcho(t: TestContext, name: string): Promise<Endpoint> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(`${name}:${msg}`, from.port, from.address));
  await new Promise<void>((resolve) => socket.bind(0, LOCAL, resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(resolve)));
  return { ip: LOCAL, port: socket.address().port };
}

/** A UDP client socket of its own (its own source port), closed after the test. */
export async function udpClient(t: TestContext): Promise<{ exchange: (port: number, text: string, ms?: number) => Promise<string> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, LOCAL, resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(resolve)));
  const exchange = (port: number, text: string, ms = WAIT_MS) => {
    const answer = new Promise<string>((resolve) => socket.once('message', (msg) => resolve(String(msg))));
    socket.send(text, port, LOCAL);
    return bounded(answer, `UDP answer to ${text}`, ms);
  };
  return { exchange };
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function bounded<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every 10 ms until it holds; rejects after `ms`. */
export async function waitFor(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
