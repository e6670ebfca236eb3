/**
 * A throwaway network namespace for the iptables integration test: loopback and a
 * veth pair whose both ends stay inside, with test addresses on one end (no link
 * to anywhere else, so nothing sent inside can leave the machine), tiny TCP/UDP servers that answer their name, and
 * a probe that connects from inside. Every child is killed and the namespace
 * deleted by `close()`, and at process exit if the test never got there.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { execRunner, netnsRunner, type CommandRunner } from '../runner.js';

export type ProbeResult = { data?: string; error?: string; ms: number };

export type Netns = {
  name: string;
  /** Runs a command inside (for the backend and iptables-save). */
  run: CommandRunner;
  /** Runs a command inside; throws with its stderr if it fails. */
  exec(argv: string[], input?: string): Promise<string>;
  /** Starts a server inside that answers every connection or datagram with `NAME REMOTE-ADDRESS`. */
  serve(name: string, ip: string, port: number, proto?: 'tcp' | 'udp'): Promise<void>;
  /** Connects from inside; resolves with what the server said, or the error code (TIMEOUT after `timeoutMs`). */
  connect(host: string, port: number, opts?: { proto?: 'tcp' | 'udp'; timeoutMs?: number; localPort?: number }): Promise<ProbeResult>;
  close(): Promise<void>;
};

export type NetnsSetup = {
  /** The first is the test interface's primary address (with its prefix), the others are added as /32. */
  addresses: string[];
  /** Routed to the test interface, so that connect() finds a route (nothing answers there). */
  routes: string[];
};

const SERVER = `
const [name, ip, port, proto] = process.argv.slice(1);
if (proto === 'udp') {
  const s = require('dgram').createSocket('udp4');
  s.on('message', (m, r) => s.send(name + ' ' + r.address, r.port, r.address));
  s.bind(+port, ip, () => console.log('ready'));
} else {
  require('net').createServer((c) => { c.on('error', () => {}); c.end(name + ' ' + c.remoteAddress); }).listen(+port, ip, () => console.log('ready'));
}
process.stdin.on('end', () => process.exit(0)).resume();
`;

const PROBE = `
const net = require('net'), dgram = require('dgram');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const q = JSON.parse(line), t0 = Date.now();
  let done = false, sock;
  const finish = (r) => { if (done) return; done = true; clearTimeout(timer); try { q.proto === 'udp' ? sock.close() : sock.destroy(); } catch {} process.stdout.write(JSON.stringify({ id: q.id, ms: Date.now() - t0, ...r }) + '\\n'); };
  const timer = setTimeout(() => finish({ error: 'TIMEOUT' }), q.timeoutMs);
  if (q.proto === 'udp') {
    sock = dgram.createSocket('udp4');
    sock.on('message', (m) => finish({ data: m.toString() })).on('error', (e) => finish({ error: e.code || e.message }));
    const send = () => sock.send('hi', q.port, q.host);
    if (q.localPort) sock.bind(q.localPort, send); else send();
  } else {
    let data = '';
    sock = net.connect({ host: q.host, port: q.port });
    sock.on('data', (d) => (data += d)).on('end', () => finish({ data })).on('error', (e) => finish({ error: e.code || e.message }));
  }
}).on('close', () => process.exit(0));
`;

/** Creates the namespace `name` (it must not exist) and sets it up. */
export async function createNetns(name: string, setup: NetnsSetup): Promise<Netns> {
  const children = new Set<ChildProcessWithoutNullStreams>();
  let closed = false;
  const emergency = () => {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', name]);
  };
  process.once('exit', emergency);

  const host = async (argv: string[]) => {
    const r = await hostRunner(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr.trim()}`);
  };
  const run = netnsRunner(name, { timeoutMs: 60_000 });
  const exec = async (argv: string[], input?: string) => {
    const r = await run(argv, input);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} (in ${name}) failed with ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const child = (script: string, args: string[]) => {
    const c = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', script, ...args], { stdio: 'pipe' });
    children.add(c);
    c.on('exit', () => children.delete(c));
    return c;
  };

  let probe: ChildProcessWithoutNullStreams | undefined;
  const pending = new Map<number, (r: ProbeResult) => void>();
  let nextId = 0;

  const close = async () => {
    if (closed) return;
    closed = true;
    for (const c of children) c.stdin.end();
    await Promise.all([...children].map((c) => exited(c, 2_000)));
    await host(['ip', 'netns', 'del', name]).catch(() => undefined);
    process.removeListener('exit', emergency);
  };

  try {
    await host(['ip', 'netns', 'add', name]);
    await host(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    // Both ends of the pair stay inside; k1 has no address, so what is routed out of k0 goes nowhere.
    await host(['ip', '-n', name, 'link', 'add', 'k0', 'type', 'veth', 'peer', 'name', 'k1']);
    const [primary, ...more] = setup.addresses;
    await host(['ip', '-n', name, 'addr', 'add', primary!, 'dev', 'k0']);
    for (const a of more) await host(['ip', '-n', name, 'addr', 'add', `${a}/32`, 'dev', 'k0']);
    await host(['ip', '-n', name, 'link', 'set', 'k0', 'up']);
    await host(['ip', '-n', name, 'link', 'set', 'k1', 'up']);
    for (const r of setup.routes) await host(['ip', '-n', name, 'route', 'add', r, 'dev', 'k0']);
    await exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
    probe = child(PROBE, []);
    createInterface({ input: probe.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as ProbeResult & { id: number };
      pending.get(r.id)?.(r);
      pending.delete(r.id);
    });
  } catch (e) {
    await close();
    throw e;
  }

  return {
    name,
    run,
    exec,
    close,
    serve: async (serverName, ip, port, proto = 'tcp') => {
      const c = child(SERVER, [serverName, ip, String(port), proto]);
      await readyLine(c, `server ${serverName} on ${ip}:${port}/${proto}`, 5_000);
    },
    connect: (h, port, opts = {}) => {
      const timeoutMs = opts.timeoutMs ?? 2_000;
      const id = nextId++;
      return new Promise<ProbeResult>((resolve, reject) => {
        // The probe has its own deadline; this one only guards against the probe itself dying.
        const guard = setTimeout(() => (pending.delete(id), reject(new Error(`probe gave no answer for ${h}:${port}`))), timeoutMs + 5_000);
        pending.set(id, (r) => (clearTimeout(guard), resolve(r)));
        probe!.stdin.write(`${JSON.stringify({ id, proto: opts.proto ?? 'tcp', host: h, port, timeoutMs, localPort: opts.localPort })}\n`);
      });
    },
  };
}

/** Commands on the host side: only `ip netns add|del` and `ip -n NAME ...` on the namespace itself. */
const hostRunner = execRunner({ timeoutMs: 15_000 });

function readyLine(c: ChildProcessWithoutNullStreams, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => (c.kill('SIGKILL'), reject(new Error(`${what} not ready after ${timeoutMs} ms: ${stderr}`))), timeoutMs);
    c.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${what} exited with ${code}: ${stderr}`))));
    createInterface({ input: c.stdout }).once('line', () => (clearTimeout(timer), resolve()));
  });
}

/** Resolves once `c` has exited; SIGKILLs it if it has not after `graceMs`. */
function exited(c: ChildProcessWithoutNullStreams, graceMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => (clearTimeout(timer), resolve()));
  });
}
