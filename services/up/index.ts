/**
 * `keelson up`: a whole cluster on this machine. Starts nats-server (JetStream
 * in the data folder) as a child process, then the control plane (API server,
 * leader-elected scheduler and controller-manager), then N kubelets and — when
 * there are nodes — one proxy for the machine (they all share its network) in
 * this process, writes the kubeconfig, and stops everything it started on
 * SIGINT/SIGTERM (control loops, then the proxy and the kubelets; nats-server last).
 *
 * Node names: the hostname for one node; `<hostname>-1` … `<hostname>-N` for
 * more. Each node keeps its runtime state in `DIR/nodes/<name>`.
 *
 * Secure by default: on first start the cluster's CA and the API server's
 * serving certificate are made in `DIR/pki` (credentials.ts) and kept; the API
 * serves HTTPS, wants a client certificate or a token from `DIR/tokens.csv`,
 * and authorizes with RBAC; `DIR/kubeconfig` carries the CA and the admin's
 * client certificate, `DIR/view.kubeconfig` a read-only user's token. NATS
 * takes TLS connections only, and each component connects as its own NATS user
 * (lib/nats-auth): only the API server may write the store. NATS binds where
 * the API server does; `DIR/join.json` lets `keelson agent --join` on another
 * machine get a node user of its own (join.ts).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { writePrivateFile } from '../lib/files/index.js';
import { clusterCredentials, ADMIN_USER, VIEWER_USER, type ClusterCredentials } from './credentials.js';
import { startNatsServer, type NatsServer } from '../lib/nats-server/index.js';
import { defaultNodeName, parseRuntimeName, startNodeAgent, type Kubelet } from '../kubelet/index.js';
import { KeelsonClient } from '../lib/client/index.js';
import { runLeaderElected } from '../lib/component/index.js';
import { startControllerManager } from '../controller-manager/index.js';
import { startNodeProxy, type NodeProxy, type ProxyMode } from '../proxy/node-proxy.js';
import { startScheduler } from '../scheduler/index.js';
import { kubeconfig } from './kubeconfig.js';
import { APISERVER_USER, CONTROLLER_MANAGER_USER, JOIN_USER, nodeUser, PROXY_USER, SCHEDULER_USER, writeJoinFile } from '../lib/nats-auth/index.js';
import { connectNats, type NatsConnection } from '../lib/nats/index.js';
import { defaultAdvertiseAddress } from '../apiserver/kubernetes-service/index.js';
import { startJoinService, type JoinService } from './join.js';

export type UpOptions = {
  dataDir: string;
  natsPort: number;
  apiPort: number;
  host: string;
  /** Kubelets to run in this process (default 1; 0 for a control plane only). */
  nodes?: number;
  /** docker | process | fake; default docker when an engine answers, else process. */
  runtime?: string;
  /** Kubelet lease renewal period (default 2 s). */
  heartbeatMs?: number;
  /** The proxy's mode (default auto: iptables where it may, else user space). */
  proxyMode?: ProxyMode | 'auto';
  /** Where user-space node ports listen (default: `host`). */
  proxyBindAddress?: string;
  /** Where kubelets tell their problems (default: stderr). */
  log?: (message: string) => void;
};

export type Cluster = {
  nats: NatsServer;
  apiserver: ApiServer;
  nodes: Kubelet[];
  /** The machine's proxy; none without nodes. */
  proxy?: NodeProxy;
  kubeconfigPath: string;
  /** `DIR/view.kubeconfig`: the read-only user's. */
  viewKubeconfigPath: string;
  /** `DIR/join.json`: what `keelson agent --join` needs (NATS servers, the CA, the join user). */
  joinFilePath: string;
  /** The CA, the admin's client certificate, the tokens: what a client of this cluster needs. */
  credentials: ClusterCredentials;
  stop(): Promise<void>;
};

/** The names `keelson up` gives its nodes: the hostname, or hostname-1..N. */
export function upNodeNames(count: number, host = defaultNodeName()): string[] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`--nodes must be a whole number >= 0, not "${count}"`);
  if (count === 1) return [host];
  return Array.from({ length: count }, (_, i) => `${host}-${i + 1}`);
}

export async function up(opts: UpOptions): Promise<Cluster> {
  const runtime = parseRuntimeName(opts.runtime);
  const nodeNames = upNodeNames(opts.nodes ?? 1);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const credentials = clusterCredentials(dataDir, opts.host, nodeNames);
  const secured = credentials.nats;
  // NATS binds where the API server does: agents on other machines join through it.
  const nats = await startNatsServer({
    dataDir: join(dataDir, 'nats'),
    port: opts.natsPort,
    host: opts.host,
    serverName: 'keelson-up',
    tls: secured.tls,
    extraConfig: secured.authorization(),
  });
  // Each component on NATS as its own user, over TLS.
  const local = `nats://127.0.0.1:${nats.port}`;
  const as = (user: string) => secured.target(user, [local]);
  let apiserver: ApiServer;
  try {
    apiserver = await startApiServer({
      nats: as(APISERVER_USER),
      host: opts.host,
      port: opts.apiPort,
      replicas: 1,
      tls: { cert: credentials.serving.cert, key: credentials.serving.key, clientCA: credentials.ca },
      authentication: { tokenAuthFile: credentials.tokenFile },
    });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  const nodes: Kubelet[] = [];
  const loops: { stop(): Promise<void> }[] = [];
  let joinConnection: NatsConnection | undefined;
  let joining: JoinService | undefined;
  const loopClients: KeelsonClient[] = [];
  let proxyClient: KeelsonClient | undefined;
  let proxy: NodeProxy | undefined;
  const stop = async () => {
    // Control loops first (they hand their leases over), then the proxy (its rules go) and the nodes.
    await Promise.all(loops.splice(0).map((l) => l.stop().catch(() => undefined)));
    await Promise.all(loopClients.map((c) => c.close().catch(() => undefined)));
    await proxy?.stop().catch(() => undefined);
    await proxyClient?.close().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await joining?.stop();
    await joinConnection?.close().catch(() => undefined);
    await apiserver.stop();
    await nats.stop();
  };
  try {
    const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
    // The scheduler and the controller-manager, leader-elected like on any master:
    // more of them (keelson scheduler / controller-manager) may join as standbys.
    const scheduler = await KeelsonClient.connect(as(SCHEDULER_USER), 'keelson-up-scheduler');
    loopClients.push(scheduler);
    const controllers = await KeelsonClient.connect(as(CONTROLLER_MANAGER_USER), 'keelson-up-controller-manager');
    loopClients.push(controllers);
    loops.push(
      await runLeaderElected({ client: scheduler, election: 'kube-scheduler', log, start: (leader) => startScheduler({ client: leader, log }) }),
      await runLeaderElected({
        client: controllers,
        election: 'kube-controller-manager',
        log,
        start: (leader, inspector) => startControllerManager({ client: leader, log, inspector }),
      }),
    );
    for (const nodeName of nodeNames) {
      const agent = await startNodeAgent({
        nats: as(nodeUser(nodeName)),
        nodeName,
        runtime,
        dataDir: join(dataDir, 'nodes', nodeName),
        heartbeatMs: opts.heartbeatMs,
        log,
      });
      nodes.push(agent);
    }
    // Nodes on other machines join with DIR/join.json (keelson agent --join).
    joinConnection = await connectNats(as(APISERVER_USER), 'keelson-up-join');
    joining = startJoinService({ nc: joinConnection, secured, server: nats, log });
    if (nodes.length) {
      proxyClient = await KeelsonClient.connect(as(PROXY_USER), 'keelson-up-proxy');
      proxy = await startNodeProxy({ client: proxyClient, mode: opts.proxyMode, bindAddress: opts.proxyBindAddress ?? opts.host, log });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  writePrivateFile(kubeconfigPath, kubeconfig({ server: apiserver.url, ca: credentials.ca, credential: credentials.admin, user: ADMIN_USER }));
  // Beside it, a read-only user for trying the rules out: `kubectl --kubeconfig DIR/view.kubeconfig delete pod x` is refused.
  const viewKubeconfigPath = join(dataDir, 'view.kubeconfig');
  writePrivateFile(viewKubeconfigPath, kubeconfig({ server: apiserver.url, ca: credentials.ca, credential: { token: credentials.viewerToken }, user: VIEWER_USER }));
  const joinFilePath = join(dataDir, 'join.json');
  const reachable = `nats://${defaultAdvertiseAddress(opts.host)}:${nats.port}`;
  writeJoinFile(joinFilePath, { servers: [reachable], ca: credentials.ca, credential: secured.credential(JOIN_USER) });
  return { nats, apiserver, nodes, proxy, kubeconfigPath, viewKubeconfigPath, joinFilePath, credentials, stop };
}
