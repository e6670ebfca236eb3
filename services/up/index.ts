/**
 * `keelson up`: a whole cluster on this machine. Starts nats-server (JetStream
 * in the data folder) as a child process, then the control plane, writes the
 * kubeconfig, and stops everything it started on SIGINT/SIGTERM.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { startNatsServer, type NatsServer } from '../lib/nats-server/index.js';
import { kubeconfig } from './kubeconfig.js';

export type UpOptions = {
  dataDir: string;
  natsPort: number;
  apiPort: number;
  host: string;
  nodes: number;
  runtime?: string;
};

export type Cluster = {
  nats: NatsServer;
  apiserver: ApiServer;
  kubeconfigPath: string;
  stop(): Promise<void>;
};

export async function up(opts: UpOptions): Promise<Cluster> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const nats = await startNatsServer({ dataDir: join(dataDir, 'nats'), port: opts.natsPort, host: '127.0.0.1', serverName: 'keelson-up' });
  let apiserver: ApiServer;
  try {
    apiserver = await startApiServer({ nats: [nats.url], host: opts.host, port: opts.apiPort, replicas: 1 });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig(apiserver.url));
  return {
    nats,
    apiserver,
    kubeconfigPath,
    stop: async () => {
      await apiserver.stop();
      await nats.stop();
    },
  };
}
