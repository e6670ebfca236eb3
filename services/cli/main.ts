/**
 * The `keelson` command line: one executable for the embedded cluster, each
 * component on its own, and the client verbs.
 */
import { NATS_AUTH_HELP, NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { ADMIN_USER as NATS_ADMIN_USER, joinedTarget } from '../lib/nats-auth/index.js';
import { natsServers } from '../lib/nats/index.js';
import { parseArgs } from 'node:util';
import { VERSION } from '../apiserver/index.js';
import { defaultNodeName, parseRuntimeName, startNodeAgent } from '../kubelet/index.js';
import { NatsServerMissingError } from '../lib/nats-server/index.js';
import { up } from '../up/index.js';
import { runClientVerb, CLIENT_VERBS, CLIENT_HELP } from './client-verbs.js';
import { CONTROL_LOOPS_HELP, runControlLoop } from './control-loops.js';
import { MASTER_HELP, runApiserver, runServer } from './master-commands.js';
import { PROXY_HELP, runProxyCommand } from './proxy-command.js';
import { runStatus, STATUS_HELP } from './status.js';
import { runStatechart, STATECHART_HELP } from './statechart-command.js';
import { parseForwarders, parseProxyMode, startNodeProxy } from '../proxy/node-proxy.js';
import { KeelsonClient } from '../lib/client/index.js';

const HELP = `keelson ${VERSION} — a lightweight Kubernetes-style orchestrator on NATS JetStream

Usage: keelson <command> [flags]

Cluster:
  up                 Start a whole cluster on this machine (embedded nats-server + control plane);
                     the API is HTTPS with authentication and RBAC (README "Security")
      --data-dir DIR     where JetStream data, the cluster CA and certificates (pki/), the bearer
                         tokens (tokens.csv), kubeconfig (admin) and view.kubeconfig (read-only)
                         live (default ./.keelson)
      --nats-port N      client port of the embedded nats-server (default 4222)
      --port N           API server port (default 6443)
      --host ADDR        address the API server binds (default 127.0.0.1)
      --nodes N          kubelets to run in this process (default 1; 0: control plane only);
                         named after the hostname, or <hostname>-1..N for more than one
      --runtime NAME     docker | process | fake (default docker when an engine answers, else process)
      --heartbeat-ms N   kubelet lease renewal period (default 2000)
      --proxy-mode MODE  the machine's service proxy: auto | iptables | userspace (default auto)
      --proxy-bind-address IP  where user-space node ports listen (default: --host)

Components (connect to NATS by --nats URL[,URL...] or KEELSON_NATS; on a secured cluster as
their own NATS user, over TLS):
${NATS_AUTH_HELP}${MASTER_HELP}  kubelet            The node agent: registers this node, renews its lease, reports its status
      --name NAME        node name (default: the hostname)
      --runtime NAME     docker | process | fake (default docker when an engine answers, else process)
      --data-dir DIR     the node's runtime state (default ./.keelson/nodes/NAME)
      --heartbeat-ms N   lease renewal period (default 2000)
      --status-ms N      node status period when nothing changed (default 10000)
      --label K=V        an extra node label (repeatable)
      --pod-network NAME the Docker network pods join (default keelson; created when missing)
      --join FILE        join a secured cluster with the join file \`keelson up\` wrote (DIR/join.json):
                         the node gets a NATS user of its own, kept in its --data-dir
  agent              Everything a worker node runs: the kubelet and the proxy; the kubelet's flags and
      --proxy-mode MODE, --proxy-bind-address IP, --proxy-forwarders N
                         as \`keelson proxy\` --mode, --bind-address, --forwarders
${PROXY_HELP}${CONTROL_LOOPS_HELP}
Client (over NATS):
${CLIENT_HELP}
Cluster health (over HTTP through the API servers' load balancer, or NATS):
${STATUS_HELP}
Statecharts (the machines behind pods, nodes, leader election; see statecharts/exports/):
${STATECHART_HELP}
Other:
  version            Print the version
  help               Print this help

With kubectl: export KUBECONFIG=$PWD/.keelson/kubeconfig after \`keelson up\`.
`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

/** Stops `stop` on SIGINT/SIGTERM, then exits. */
function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping...\n`);
    stop()
      .then(() => process.exit(0))
      .catch((e) => {
        process.stderr.write(`error while stopping: ${(e as Error).message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function cmdUp(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: './.keelson' },
      'nats-port': { type: 'string', default: '4222' },
      port: { type: 'string', default: '6443' },
      host: { type: 'string', default: '127.0.0.1' },
      nodes: { type: 'string', default: '1' },
      runtime: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'proxy-mode': { type: 'string' },
      'proxy-bind-address': { type: 'string' },
    },
  });
  const cluster = await up({
    proxyMode: parseProxyMode(values['proxy-mode']),
    proxyBindAddress: values['proxy-bind-address'],
    dataDir: values['data-dir']!,
    natsPort: Number(values['nats-port']),
    apiPort: Number(values.port),
    host: values.host!,
    nodes: Number(values.nodes),
    runtime: values.runtime,
    heartbeatMs: optionalNumber(values['heartbeat-ms'], '--heartbeat-ms'),
  });
  stopOnSignals(cluster.stop);
  process.stdout.write(
    [
      `Keelson is up.`,
      `  API server   ${cluster.apiserver.url}`,
      `  dashboard    ${cluster.apiserver.url}/ui#token=${cluster.credentials.viewerToken}`,
      `               (the statecharts, every actor's state, live; the token after # never leaves the browser)`,
      `  NATS         ${cluster.nats.url} (TLS; every component its own NATS user, ${values['data-dir']}/pki/nats; JetStream data in ${values['data-dir']}/nats)`,
      `  join a node  keelson agent --join ${cluster.joinFilePath} --name NAME   (on another machine: copy the file; start with --host 0.0.0.0)`,
      `  kubeconfig   ${cluster.kubeconfigPath} (HTTPS, the cluster CA and the admin's client certificate)`,
      `               ${cluster.viewKubeconfigPath} (a read-only user: the view role)`,
      `  credentials  CA and certificates in ${values['data-dir']}/pki, bearer tokens in ${cluster.credentials.tokenFile}${cluster.credentials.issued.length ? ` (made now: ${cluster.credentials.issued.join(', ')})` : ''}`,
      `  nodes        ${cluster.nodes.length ? cluster.nodes.map((n) => n.nodeName).join(', ') : '(none: --nodes 0)'}`,
      ...(cluster.proxy ? [`  proxy        ${cluster.proxy.summary}`] : []),
      ``,
      `Try:`,
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      `  kubectl get nodes -o wide`,
      `  kubectl run hello --image=busybox -- sh -c 'echo hi; sleep 3600'`,
      `  kubectl get pods -o wide`,
      `  kubectl logs hello`,
      `  kubectl create deployment web --image=busybox --replicas=2 -- sh -c 'hostname > index.html; httpd -f -p 8080'`,
      `  kubectl expose deployment web --port 80 --target-port 8080 --type NodePort`,
      `  kubectl get svc web    # then: curl http://${cluster.proxy?.mode === 'userspace' ? values['proxy-bind-address'] ?? values.host : '<node address>'}:<node port>/`,
      `  KEELSON_NATS=nats://127.0.0.1:${cluster.nats.port} KEELSON_NATS_CA=${cluster.credentials.caFile} KEELSON_NATS_CREDENTIALS=${cluster.credentials.nats.credentialsFile(NATS_ADMIN_USER)} keelson get pods`,
      ``,
      `Ctrl-C stops everything.`,
      ``,
    ].join('\n'),
  );
}

function optionalNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`${flag} must be a positive number, not "${value}"`);
  return n;
}

/** `keelson kubelet`: one node agent against a NATS cluster; `keelson agent`: the same and the node's proxy. */
async function cmdKubelet(argv: string[], withProxy: boolean): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...NATS_FLAGS,
      name: { type: 'string' },
      runtime: { type: 'string' },
      'data-dir': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'status-ms': { type: 'string' },
      label: { type: 'string', multiple: true },
      'pod-network': { type: 'string' },
      join: { type: 'string' },
      ...(withProxy
        ? { 'proxy-mode': { type: 'string' as const }, 'proxy-bind-address': { type: 'string' as const }, 'proxy-forwarders': { type: 'string' as const } }
        : {}),
    },
  });
  const nodeName = values.name ?? defaultNodeName();
  const proxyMode = withProxy ? parseProxyMode(values['proxy-mode'] as string | undefined) : undefined;
  const proxyForwarders = withProxy ? parseForwarders(values['proxy-forwarders'] as string | undefined, '--proxy-forwarders') : undefined;
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) fail(`--label takes KEY=VALUE, not "${l}"`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const dataDir = values['data-dir'] ?? `./.keelson/nodes/${nodeName}`;
  if (values.join && (values['nats-credentials'] || values['nats-ca'])) fail('--join brings the CA and gets the node its own credentials: drop --nats-credentials and --nats-ca');
  // Joining: the node's own NATS user, kept from an earlier join or asked for now with the join file.
  const nats = values.join ? await joinedTarget(values.join, nodeName, dataDir, values.nats ? natsServers(values.nats) : undefined) : natsFlagTarget(values);
  const agent = await startNodeAgent({
    nats,
    nodeName,
    runtime: parseRuntimeName(values.runtime),
    dataDir,
    heartbeatMs: optionalNumber(values['heartbeat-ms'], '--heartbeat-ms'),
    statusMs: optionalNumber(values['status-ms'], '--status-ms'),
    labels,
    podNetwork: values['pod-network'],
    log,
  });
  if (!withProxy) {
    stopOnSignals(agent.stop);
    process.stdout.write(`keelson kubelet: node ${nodeName} registered (runtime ${agent.runtime.name})\n`);
    return;
  }
  // The node's proxy acts as the node (Kubernetes gives kube-proxy a user of its own).
  const client = await KeelsonClient.connect(nats, `keelson-proxy-${nodeName}`);
  const proxy = await startNodeProxy({
    client,
    mode: proxyMode,
    bindAddress: values['proxy-bind-address'] as string | undefined,
    forwarders: proxyForwarders,
    log,
  }).catch(async (e) => {
    await client.close();
    await agent.stop();
    throw e;
  });
  stopOnSignals(async () => {
    await proxy.stop();
    await client.close();
    await agent.stop();
  });
  process.stdout.write(`keelson agent: node ${nodeName} registered (runtime ${agent.runtime.name}); proxy: ${proxy.summary}\n`);
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case 'version':
    case '--version':
      process.stdout.write(`keelson ${VERSION}\n`);
      return;
    case 'up':
      return cmdUp(rest);
    case 'server':
      return runServer(rest, stopOnSignals);
    case 'apiserver':
      return runApiserver(rest, stopOnSignals);
    case 'kubelet':
      return cmdKubelet(rest, false);
    case 'agent':
      return cmdKubelet(rest, true);
    case 'proxy':
      return runProxyCommand(rest, stopOnSignals);
    case 'scheduler':
    case 'controller-manager':
      return runControlLoop(cmd, rest, stopOnSignals);
    case 'status':
      process.exitCode = await runStatus(rest);
      return;
    case 'statechart':
      process.exitCode = runStatechart(rest);
      return;
    default:
      if (CLIENT_VERBS.includes(cmd)) {
        process.exitCode = await runClientVerb(cmd, rest);
        return;
      }
      fail(`unknown command "${cmd}"; run \`keelson help\` for the list`);
  }
}

main().catch((e) => {
  if (e instanceof NatsServerMissingError) fail(e.message);
  fail(e instanceof Error ? e.message : String(e));
});
