/**
 * Real nats-server for tests: one server or a 3-node JetStream cluster on
 * loopback ports, in a temporary folder, stopped (and the folder removed) when
 * the test ends — pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsCluster, startNatsServer } from '../../services/lib/nats-server/index.js';
import { connectNats, type NatsConnection } from '../../services/lib/nats/index.js';
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

export async function startTestNats(t: Hooks, topology: Topology = 'single'): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-nats-'));
  const cluster =
    topology === 'single'
      ? await (async () => {
          const s = await startNatsServer({ dataDir: dir });
          return { urls: [s.url], stop: () => s.stop() };
        })()
      : await startNatsCluster(dir, 3);
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
  const replicas = topology === 'single' ? 1 : 3;
  const connect = async (name = 'test') => {
    const nc = await connectNats(cluster.urls, name);
    conns.push(nc);
    return nc;
  };
  return {
    urls: cluster.urls,
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
    stop,
  };
}
