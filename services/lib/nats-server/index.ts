/**
 * Runs nats-server as a child process: the embedded store of `keelson up` and the
 * real server every integration test starts. One place knows how to write its
 * config, wait until it is ready and stop it without leaving a process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export type NatsServerOptions = {
  /** Folder for the config file and JetStream data. */
  dataDir: string;
  serverName?: string;
  host?: string;
  /** Client port; 0 picks a free one. */
  port?: number;
  /** Monitoring port (/healthz, /varz); omitted = off. */
  httpPort?: number;
  /**
   * Clustering. `secret`: routes must log in with it (user `route`), so a
   * certificate of the cluster CA alone cannot open a route; `routes` then
   * carry it (routeUrl).
   */
  cluster?: { name: string; port: number; routes: string[]; secret?: string };
  /** How long to wait for "Server is ready". */
  readyTimeoutMs?: number;
  /**
   * TLS for client connections and, in a cluster, for routes (both ends
   * verified against `caFile`, so the certificate must serve as client and
   * server). Clients then need the CA (lib/nats `NatsTarget.ca`).
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Extra config text appended as is (authorization, limits...). */
  extraConfig?: string;
};

export type NatsServer = {
  url: string;
  port: number;
  pid: number;
  serverName: string;
  options: NatsServerOptions;
  /** Sends SIGTERM (SIGKILL after a grace period) and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
  /** Writes the config again with `changes` and has the server reload it (SIGHUP); resolves once it says it did. */
  reload(changes: Pick<NatsServerOptions, 'extraConfig'>): Promise<void>;
  exited: Promise<number | null>;
};

export class NatsServerMissingError extends Error {
  override name = 'NatsServerMissingError';
  constructor() {
    super(
      'nats-server was not found on PATH. Install it with `sudo apt-get install -y nats-server` ' +
        '(Debian/Ubuntu) or run `npm run setup`, then try again.',
    );
  }
}

/** The nats-server binary, or undefined when it is not installed. */
export function findNatsServer(): string | undefined {
  // An explicit KEELSON_NATS_SERVER is the only candidate: no silent fallback.
  const explicit = process.env.KEELSON_NATS_SERVER;
  for (const p of explicit ? [explicit] : ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function configText(o: Required<Pick<NatsServerOptions, 'dataDir' | 'host'>> & NatsServerOptions, port: number, name: string): string {
  const lines = [
    `server_name: ${JSON.stringify(name)}`,
    `listen: "${o.host}:${port}"`,
    `jetstream { store_dir: ${JSON.stringify(join(o.dataDir, 'jetstream'))} }`,
    'max_payload: 8MB',
    ...tlsBlock(o.tls),
  ];
  if (o.httpPort) lines.push(`http: "${o.host}:${o.httpPort}"`);
  if (o.cluster) lines.push(...clusterBlock({ ...o.cluster, listen: `${o.host}:${o.cluster.port}`, tls: o.tls }));
  if (o.extraConfig) lines.push(o.extraConfig);
  return lines.join('\n') + '\n';
}

/** A `tls {}` block (none without files), indented, with `extra` settings. */
export function tlsBlock(tls: NatsServerOptions['tls'], indent = '', extra: string[] = []): string[] {
  if (!tls) return [];
  const lines = [`cert_file: ${JSON.stringify(tls.certFile)}`, `key_file: ${JSON.stringify(tls.keyFile)}`, `ca_file: ${JSON.stringify(tls.caFile)}`, ...extra];
  return [`${indent}tls {`, ...lines.map((l) => `${indent}  ${l}`), `${indent}}`];
}

/** A `cluster {}` block: with TLS, routes show certificates both ways; with a secret, they log in too. */
export function clusterBlock(c: { name: string; listen: string; routes: string[]; secret?: string; tls?: NatsServerOptions['tls'] }): string[] {
  return [
    `cluster {`,
    `  name: ${JSON.stringify(c.name)}`,
    `  listen: ${JSON.stringify(c.listen)}`,
    `  routes: [${c.routes.map((r) => JSON.stringify(r)).join(', ')}]`,
    ...tlsBlock(c.tls, '  ', ['verify: true']),
    ...(c.secret ? [`  authorization { user: ${JSON.stringify(ROUTE_USER)}, password: ${JSON.stringify(c.secret)} }`] : []),
    `}`,
  ];
}

/** The user routes log in as when the cluster has a secret. */
export const ROUTE_USER = 'route';

/** A route URL to `host:port`, logging in with `secret` when there is one. */
export const routeUrl = (host: string, port: number, secret?: string) =>
  `nats-route://${secret ? `${ROUTE_USER}:${encodeURIComponent(secret)}@` : ''}${host}:${port}`;

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const bin = findNatsServer();
  if (!bin) throw new NatsServerMissingError();
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const serverName = options.serverName ?? `keelson-${port}`;
  mkdirSync(options.dataDir, { recursive: true });
  const confPath = join(options.dataDir, 'nats-server.conf');
  writeFileSync(confPath, configText({ ...options, host }, port, serverName));

  const child = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server on port ${port} was not ready after ${options.readyTimeoutMs ?? 10000} ms:\n${log}`));
    }, options.readyTimeoutMs ?? 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      if (log.length < 64_000) log += chunk.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code} before it was ready:\n${log}`));
    });
  });
  // Keep draining stderr so the child never blocks on a full pipe; reloads listen to it.
  let current = { ...options, host };
  const reload = async (changes: Pick<NatsServerOptions, 'extraConfig'>) => {
    current = { ...current, ...changes };
    writeFileSync(confPath, configText(current, port, serverName));
    let said = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        said = (said + chunk.toString()).slice(-8_000);
        if (said.includes('Reloaded server configuration')) done();
        else if (/reload.*(error|failed)|Failed to reload/i.test(said)) done(new Error(`nats-server did not reload its config: ${said.trim()}`));
      };
      const timer = setTimeout(() => done(new Error(`nats-server did not say it reloaded its config within 10 s: ${said.trim()}`)), 10_000);
      function done(e?: Error) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        if (e) reject(e);
        else resolve();
      }
      child.stderr!.on('data', onData);
      child.kill('SIGHUP');
    });
  };
  child.stderr!.resume();

  return {
    reload,
    url: `nats://${host}:${port}`,
    port,
    pid: child.pid!,
    serverName,
    options: { ...options, host, port },
    exited,
    stop: () => stopChild(child, exited, 'SIGTERM'),
    kill: () => stopChild(child, exited, 'SIGKILL'),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export type NatsCluster = {
  servers: NatsServer[];
  urls: string[];
  stop(): Promise<void>;
};

/**
 * Starts `size` clustered JetStream servers on loopback ports (for tests and
 * benchmarks). Resolves once every server is ready; the JetStream meta leader
 * may still be electing, which callers absorb by retrying their first request.
 */
export async function startNatsCluster(
  baseDir: string,
  size = 3,
  name = 'keelson',
  shared: Pick<NatsServerOptions, 'tls' | 'extraConfig'> = {},
): Promise<NatsCluster> {
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) clusterPorts.push(await freePort());
  // Secured (TLS), the routes need a secret too: the CA signs other certificates as well.
  const secret = shared.tls ? randomBytes(24).toString('base64url') : undefined;
  const routes = clusterPorts.map((p) => routeUrl('127.0.0.1', p, secret));
  const servers = await Promise.all(
    clusterPorts.map((cport, i) =>
      startNatsServer({
        ...shared,
        dataDir: join(baseDir, `n${i + 1}`),
        serverName: `${name}-n${i + 1}`,
        cluster: { name, port: cport, routes: routes.filter((_, j) => j !== i), ...(secret ? { secret } : {}) },
      }),
    ),
  );
  return {
    servers,
    urls: servers.map((s) => s.url),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
