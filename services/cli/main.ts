/**
 * The `keelson` command line: one executable for the embedded cluster, each
 * component on its own, and the client verbs.
 */
import { parseArgs } from 'node:util';
import { startApiServer, VERSION } from '../apiserver/index.js';
import { defaultNodeName, parseRuntimeName, startNodeAgent } from '../kubelet/index.js';
import { NatsServerMissingError } from '../lib/nats-server/index.js';
import { natsServers } from '../lib/nats/index.js';
import { up } from '../up/index.js';
import { runClientVerb, CLIENT_VERBS, CLIENT_HELP } from './client-verbs.js';
import { CONTROL_LOOPS_HELP, runControlLoop } from './control-loops.js';

const HELP = `keelson ${VERSION} — a lightweight Kubernetes-style orchestrator on NATS JetStream

Usage: keelson <command> [flags]

Cluster:
  up                 Start a whole cluster on this machine (embedded nats-server + control plane)
      --data-dir DIR     where JetStream data and the kubeconfig live (default ./.keelson)
      --nats-port N      client port of the embedded nats-server (default 4222)
      --port N           API server port (default 6443)
      --host ADDR        address the API server binds (default 127.0.0.1)
      --nodes N          kubelets to run in this process (default 1; 0: control plane only);
                         named after the hostname, or <hostname>-1..N for more than one
      --runtime NAME     docker | process | fake (default docker when an engine answers, else process)
      --heartbeat-ms N   kubelet lease renewal period (default 2000)

Components (connect to NATS by --nats URL[,URL...] or KEELSON_NATS):
  server             The control plane of one master (today: the API server)
  apiserver          The API server: HTTP on --port (6443) and the NATS API
      --replicas N       JetStream replicas of the store bucket (1, or 3 for HA)
  kubelet            The node agent: registers this node, renews its lease, reports its status
      --name NAME        node name (default: the hostname)
      --runtime NAME     docker | process | fake (default docker when an engine answers, else process)
      --data-dir DIR     the node's runtime state (default ./.keelson/nodes/NAME)
      --heartbeat-ms N   lease renewal period (default 2000)
      --status-ms N      node status period when nothing changed (default 10000)
      --label K=V        an extra node label (repeatable)
  agent              Everything a worker node runs (today: the kubelet); same flags
${CONTROL_LOOPS_HELP}
Client (over NATS):
${CLIENT_HELP}
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
    },
  });
  const cluster = await up({
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
      `  NATS         ${cluster.nats.url} (JetStream data in ${values['data-dir']}/nats)`,
      `  kubeconfig   ${cluster.kubeconfigPath}`,
      `  nodes        ${cluster.nodes.length ? cluster.nodes.map((n) => n.nodeName).join(', ') : '(none: --nodes 0)'}`,
      ``,
      `Try:`,
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      `  kubectl get nodes -o wide`,
      // No scheduler yet: a pod runs on the node its spec names.
      ...(cluster.nodes[0]
        ? [`  kubectl run hello --image=busybox --overrides='{"spec":{"nodeName":"${cluster.nodes[0].nodeName}"}}' -- sh -c 'echo hi; sleep 3600'`]
        : []),
      `  kubectl get pods -o wide`,
      `  kubectl logs hello`,
      `  KEELSON_NATS=${cluster.nats.url} keelson get pods`,
      ``,
      `Ctrl-C stops everything.`,
      ``,
    ].join('\n'),
  );
}

async function cmdApiserver(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      port: { type: 'string', default: '6443' },
      host: { type: 'string', default: '0.0.0.0' },
      replicas: { type: 'string', default: '1' },
      bucket: { type: 'string' },
      'log-requests': { type: 'boolean', default: false },
    },
  });
  const server = await startApiServer({
    nats: natsServers(values.nats),
    port: Number(values.port),
    host: values.host,
    replicas: Number(values.replicas),
    bucket: values.bucket,
    logRequests: values['log-requests'],
  });
  stopOnSignals(server.stop);
  process.stdout.write(`keelson apiserver serving on ${server.url}\n`);
}

function optionalNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`${flag} must be a positive number, not "${value}"`);
  return n;
}

/** `keelson kubelet` and, for now, `keelson agent`: one node agent against a NATS cluster. */
async function cmdKubelet(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      name: { type: 'string' },
      runtime: { type: 'string' },
      'data-dir': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'status-ms': { type: 'string' },
      label: { type: 'string', multiple: true },
    },
  });
  const nodeName = values.name ?? defaultNodeName();
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) fail(`--label takes KEY=VALUE, not "${l}"`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const agent = await startNodeAgent({
    nats: natsServers(values.nats),
    nodeName,
    runtime: parseRuntimeName(values.runtime),
    dataDir: values['data-dir'] ?? `./.keelson/nodes/${nodeName}`,
    heartbeatMs: optionalNumber(values['heartbeat-ms'], '--heartbeat-ms'),
    statusMs: optionalNumber(values['status-ms'], '--status-ms'),
    labels,
    log,
  });
  stopOnSignals(agent.stop);
  process.stdout.write(`keelson kubelet: node ${nodeName} registered (runtime ${agent.runtime.name})\n`);
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
    case 'apiserver':
      return cmdApiserver(rest);
    case 'kubelet':
    case 'agent':
      return cmdKubelet(rest);
    case 'scheduler':
    case 'controller-manager':
      return runControlLoop(cmd, rest, stopOnSignals);
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
