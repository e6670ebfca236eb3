/**
 * haproxy, the proxy benchmark's yardstick for the user-space proxy: the
 * Debian package's binary in `mode tcp`, `balance roundrobin` over the same
 * backends, one frontend on 127.0.0.1, run in the foreground (`-db`) from a
 * config in the benchmark's temp dir, and stopped at the end.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { sleep, type Cleanup } from './proc.js';

export const HAPROXY_BIN = '/usr/sbin/haproxy';

export type Haproxy = { pid: number; version: string; threads: number; stop(): Promise<void>; died: Promise<never> };

/** The binary's version line; throws with the fix when it is not installed. */
export function haproxyVersion(): string {
  if (!existsSync(HAPROXY_BIN)) throw new Error(`${HAPROXY_BIN} is missing: the proxy benchmark compares against haproxy. Install it with: apt-get install -y haproxy`);
  return execFileSync(HAPROXY_BIN, ['-v'], { encoding: 'utf8' }).split('\n')[0]!.trim();
}

/** The config: nothing but one TCP frontend and its round-robin backend (no logs, no health checks). */
export function haproxyConfig(o: { port: number; backends: { ip: string; port: number }[]; threads: number; maxconn: number }): string {
  return [
    'global',
    `  nbthread ${o.threads}`,
    `  maxconn ${o.maxconn}`,
    'defaults',
    '  mode tcp',
    `  maxconn ${o.maxconn}`,
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend bench',
    `  bind 127.0.0.1:${o.port}`,
    '  default_backend endpoints',
    'backend endpoints',
    '  balance roundrobin',
    ...o.backends.map((b, i) => `  server e${i} ${b.ip}:${b.port}`),
    '',
  ].join('\n');
}

export async function startHaproxy(o: {
  dir: string;
  port: number;
  backends: { ip: string; port: number }[];
  threads: number;
  cleanup: Cleanup;
}): Promise<Haproxy> {
  const version = haproxyVersion();
  const cfg = join(o.dir, `haproxy-${o.port}.cfg`);
  writeFileSync(cfg, haproxyConfig({ ...o, maxconn: 8_000 }));
  execFileSync(HAPROXY_BIN, ['-c', '-q', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  const child = spawn(HAPROXY_BIN, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  const pid = child.pid!;
  o.cleanup.killOnExit(pid);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8_000)));
  let stopping = false;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const died = exited.then(() => {
    if (stopping) return new Promise<never>(() => undefined);
    throw new Error(`haproxy (pid ${pid}) exited during the benchmark:\n${stderr}`);
  });
  died.catch(() => undefined);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    o.cleanup.forget(pid);
  };
  // Listening once a connect succeeds (it reaches a backend, which drops a connection that sends nothing).
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(o.port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not listen on 127.0.0.1:${o.port} within 10 s:\n${stderr}`);
    }
    await sleep(50);
  }
  return { pid, version, threads: o.threads, stop, died };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
