/**
 * The proxy benchmark's network namespaces (root only): each made for one
 * phase under a unique name, and always deleted — by close(), by the run's
 * cleanup, and synchronously at process exit as a last resort. Inside: the
 * loopback and, when asked for addresses, a veth pair whose both ends stay
 * inside (no link to anywhere else), as services/proxy/iptables/testing/netns.ts
 * sets it up for the integration test. Every packet of the benchmark sent
 * inside stays inside; cluster IPs (10.96.x.x) exist only here.
 *
 * Node children run inside with `ip netns exec NAME node script` (it execs, so
 * the child's pid is the node process and its CPU can be read from /proc).
 */
import { spawnSync } from 'node:child_process';
import { execRunner, netnsRunner, type CommandRunner } from '../../services/proxy/iptables/index.js';
import { startNodeChild, type NodeChild } from './node-child.js';
import type { Cleanup } from './proc.js';

export type BenchNetns = {
  name: string;
  /** Runs a command inside (for the iptables backend). */
  run: CommandRunner;
  close(): Promise<void>;
};

export type NetnsSetup = {
  /** On the inner veth end: the first with its prefix (e.g. 192.0.2.1/24), the others as /32. None: loopback only. */
  addresses?: string[];
  /** Routed to the inner veth end, so that connect() to a cluster IP finds a route (DNAT happens after). */
  routes?: string[];
};

let made = 0;

/** `keelson-bench-proxy-<pid>-<n>-<tag>`: unique per process and call. */
export function netnsName(tag: string): string {
  return `kb-proxy-${process.pid}-${++made}-${tag}`;
}

const host = execRunner({ timeoutMs: 15_000 });

async function must(argv: string[]): Promise<void> {
  const r = await host(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

export async function createNetns(name: string, setup: NetnsSetup, cleanup: Cleanup): Promise<BenchNetns> {
  let closed = false;
  const emergency = () => void spawnSync('ip', ['netns', 'del', name]);
  const close = async () => {
    if (closed) return;
    closed = true;
    await must(['ip', 'netns', 'del', name]);
    process.removeListener('exit', emergency);
  };
  await must(['ip', 'netns', 'add', name]);
  process.once('exit', emergency);
  cleanup.add(`network namespace ${name}`, close);
  await must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  const [primary, ...more] = setup.addresses ?? [];
  if (primary) {
    await must(['ip', '-n', name, 'link', 'add', 'k0', 'type', 'veth', 'peer', 'name', 'k1']);
    // A connection to a cluster IP takes its MSS from the route to k0, one to a local address from
    // lo (MTU 65536): k0 gets the veth maximum, so that both kinds of connection send alike.
    await must(['ip', '-n', name, 'link', 'set', 'k0', 'mtu', '65535']);
    await must(['ip', '-n', name, 'addr', 'add', primary, 'dev', 'k0']);
    for (const a of more) await must(['ip', '-n', name, 'addr', 'add', `${a}/32`, 'dev', 'k0']);
    await must(['ip', '-n', name, 'link', 'set', 'k0', 'up']);
    await must(['ip', '-n', name, 'link', 'set', 'k1', 'up']);
    for (const r of setup.routes ?? []) await must(['ip', '-n', name, 'route', 'add', r, 'dev', 'k0']);
  }
  const run = netnsRunner(name, { timeoutMs: 60_000 });
  const fwd = await run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
  if (fwd.code !== 0) throw new Error(`sysctl in ${name} failed: ${fwd.stderr.trim()}`);
  return { name, run, close };
}

/** What the benchmark needs of a child it reads line by line: node-child.ts's NodeChild. */
export type LineChild = Pick<NodeChild, 'pid' | 'readyLine' | 'nextLine' | 'send' | 'stop' | 'died'>;

/**
 * A node script run inside the namespace (`ip netns exec`, which execs node in
 * place): node-child.ts's child, in its own process group with a stdin pipe,
 * SIGKILLed at exit if the benchmark dies any other way.
 */
export function startNetnsChild(o: { name: string; netns: string; cwd: string; script: string; args?: string[]; readyMark: string; cleanup: Cleanup }): Promise<LineChild> {
  return startNodeChild({ ...o, prefix: ['ip', 'netns', 'exec', o.netns], readyTimeoutMs: 30_000 });
}
