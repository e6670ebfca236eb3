/**
 * Real nats-server for tests: one server or a 3-node JetStream cluster on
 * loopback ports, in a temporary folder, stopped (and the folder removed) when
 * the test ends — pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsCluster, startNatsServer, type NatsServerOptions } from '../../services/lib/nats-server/index.js';
import { connectNats, type NatsAddress, type NatsConnection } from '../../services/lib/nats/index.js';
import { Store } from '../../services/lib/store/index.js';

export type Topology = 'single' | 'cluster';

export type TestNats = {
  urls: string[];
  replicas: number;
  /** A client connection, closed at the end. */
  connect(name?: string): Promise<NatsConnection>;
  /** A store on a fresh bucket of this test (R1 or R3). */
  store(bucket?: string): Promise<Store>;
  stop(): Promise<void>;
};

type Hooks = { after(fn: () => Promise<void> | void): void };

/**
 * nats-server(s) in `dir` with `shared` config (TLS, authorization), stopped,
 * with every connection made through `connect` and the folder, when the test
 * ends. The front door of both harnesses (this file's and secure-nats.ts).
 */
export async function startNatsIn(
  t: Hooks,
  dir: string,
  topology: Topology,
  shared: Pick<NatsServerOptions, 'tls' | 'extraConfig'> = {},
): Promise<{ urls: string[]; connect(address: NatsAddress, name: string): Promise<NatsConnection>; stop(): Promise<void> }> {
  let cluster: { urls: string[]; stop(): Promise<void> };
  try {
    cluster =
      topology === 'single'
        ? await startNatsServer({ dataDir: dir, ...shared }).then((s) => ({ urls: [s.url], stop: () => s.stop() }))
        : await startNatsCluster(dir, 3, 'keelson', shared);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const conns: NatsConnection[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  return {
    urls: cluster.urls,
    connect: async (address, name) => {
      const nc = await connectNats(address, name);
      conns.push(nc);
      return nc;
    },
    stop,
  };
}

export async function startTestNats(t: Hooks, topology: Topology = 'single'): Promise<TestNats> {
  const servers = await startNatsIn(t, mkdtempSync(join(tmpdir(), 'keelson-nats-')), topology);
  const replicas = topology === 'single' ? 1 : 3;
  const connect = (name = 'test') => servers.connect(servers.urls, name);
  return {
    urls: servers.urls,
    replicas,
    connect,
    store: async (bucket = 'keelson') => {
      const nc = await connect('test-store');
      // A new cluster elects its JetStream meta leader first: retry briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          return await Store.open(nc, { bucket, replicas });
        } catch (e) {
          if (attempt >= 40) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    stop: servers.stop,
  };
}
