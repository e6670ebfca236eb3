/**
 * `npm run bench -- kubelet`: the node agent's footprint (tracker issue 3).
 *
 *   1. docker  one kubelet on the Docker runtime as a child process, compiled and
 *              through tsx: RSS after a forced GC idle, and holding N busybox pods
 *              (`sleep 3600`, bound by spec.nodeName) — beside a bare `node` with
 *              the same preload (and one with tsx's loader). Target ≤ 80 MB at 100.
 *   2. nodes   N hollow nodes (kubelets on FakeRuntime) in ONE child process against
 *              the API server: time to start all, CPU, RSS after GC (target ≤ 1 GiB
 *              at 1,000), and their lease renewals watched from the store for a
 *              window — beside N raw kv.put lease renewals on the same schedule from
 *              one process on one connection.
 *
 * Starts its own nats-server (temp dir) and the API server as a child process,
 * both from a tsc build of the code measured (the working tree, or --ref). Every
 * child is stopped, every container with the namespace label removed and the
 * network deleted at the end, on failure and on Ctrl-C; every wait is bounded.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { KeelsonClient } from '../services/lib/client/index.js';
import { connectNats } from '../services/lib/nats/index.js';
import { startNatsServer } from '../services/lib/nats-server/index.js';
import { Store } from '../services/lib/store/index.js';
import { startApiServerChild, type ApiServerChild } from './lib/apiserver.js';
import { DOCKER_NS, dockerPhase, IMAGE, namespaceContainers, parallel, removeContainers, type DockerPhaseResult, type Loader } from './lib/kubelet-docker-phase.js';
import { hollowPhase, type HeartbeatRun } from './lib/kubelet-hollow-phase.js';
import { writeKubeletReport } from './lib/kubelet-report.js';
import { benchPod, podName } from './lib/pods.js';
import { withTimeout } from './lib/proc.js';
import { startBenchRun } from './lib/bench-run.js';
import { intFlag } from './lib/flags.js';
import type { Scenario } from './lib/scenario.js';
import { build, machine, prepareSource } from './lib/source.js';
import { nowMs } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const RUN_LABEL = 'bench.keelson.io/kubelet-run';
const RAW_BUCKET = 'bench-raw-leases';
const CLUSTER_NS = 'bench-cluster';
const WATCHDOG_MS = 40 * 60_000;

const USAGE = `  --phase P          docker, nodes or all (default all)
  --pods N           pods the Docker kubelet holds (default 100)
  --pod-parallel N   pod creates in flight (default 10)
  --loader L         the Docker kubelet compiled, through tsx, or both (default both)
  --nodes N          hollow nodes in the one process (default 1000)
  --heartbeat-ms MS  their lease renewal period (default 2000, the kubelet's default)
  --status-ms MS     their node status period (default 10000, the kubelet's default)
  --cluster-pods N   pending pods (no nodeName) created before the hollow nodes start: every kubelet's pod
                     informer receives them all and keeps only its own node's (default 0)
  --start-parallel N hollow kubelets starting at once (default 20)
  --start-timeout S  stop starting hollow nodes after S seconds (default 600)
  --seconds S        the heartbeat window (default 30)
  --settle S         quiet time before each RSS / window (default 20: V8 gives back the young
                     generation's 32 MB about 10 s after allocation quiets down, so a shorter
                     settle measures the burst that created the pods, not the steady state)
  --timeout S        for all pods to be Running (default 300)
  --ref REF          measure a clean export of a git ref instead of the working tree
  --skip-imports     do not measure what importing the kubelet's dependencies costs (a bare node per module set)
  --node-arg ARG     an extra node flag for the kubelet and hollow-node children (repeatable), e.g. --node-arg=--max-semi-space-size=1
  --profile          hollow and raw children with --cpu-prof: where their CPU went, per window
  --heap             write heap snapshots (kubelet holding the pods, hollow nodes) into the results folder
  --out DIR          where results go (default bench/results)`;

export type KubeletBenchOptions = {
  phase: 'docker' | 'nodes' | 'all';
  pods: number;
  podParallel: number;
  loaders: Loader[];
  nodes: number;
  heartbeatMs: number;
  statusMs: number;
  clusterPods: number;
  startParallel: number;
  startTimeoutMs: number;
  windowMs: number;
  settleMs: number;
  timeoutMs: number;
  ref?: string;
  nodeArgs: string[];
  imports: boolean;
  profile: boolean;
  heap: boolean;
  out: string;
};

function parseOptions(argv: string[]): KubeletBenchOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      phase: { type: 'string', default: 'all' },
      pods: { type: 'string' },
      'pod-parallel': { type: 'string' },
      loader: { type: 'string', default: 'both' },
      nodes: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'status-ms': { type: 'string' },
      'start-parallel': { type: 'string' },
      'cluster-pods': { type: 'string' },
      'start-timeout': { type: 'string' },
      seconds: { type: 'string' },
      settle: { type: 'string' },
      timeout: { type: 'string' },
      ref: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      'skip-imports': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      heap: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  if (!['docker', 'nodes', 'all'].includes(v.phase!)) throw new Error(`--phase must be docker, nodes or all, not ${v.phase}`);
  if (!['compiled', 'tsx', 'both'].includes(v.loader!)) throw new Error(`--loader must be compiled, tsx or both, not ${v.loader}`);
  return {
    phase: v.phase as KubeletBenchOptions['phase'],
    pods: intFlag(v.pods, 100, 'pods', 0, 110),
    podParallel: intFlag(v['pod-parallel'], 10, 'pod-parallel', 1, 50),
    loaders: v.loader === 'both' ? ['compiled', 'tsx'] : [v.loader as Loader],
    nodes: intFlag(v.nodes, 1000, 'nodes', 1, 5000),
    heartbeatMs: intFlag(v['heartbeat-ms'], 2000, 'heartbeat-ms', 100, 60_000),
    statusMs: intFlag(v['status-ms'], 10_000, 'status-ms', 1000, 600_000),
    clusterPods: intFlag(v['cluster-pods'], 0, 'cluster-pods', 0, 100_000),
    startParallel: intFlag(v['start-parallel'], 20, 'start-parallel', 1, 500),
    startTimeoutMs: intFlag(v['start-timeout'], 600, 'start-timeout', 10, 1800) * 1000,
    windowMs: intFlag(v.seconds, 30, 'seconds', 5, 600) * 1000,
    settleMs: intFlag(v.settle, 20, 'settle', 0, 120) * 1000,
    timeoutMs: intFlag(v.timeout, 300, 'timeout', 10, 1200) * 1000,
    ref: v.ref,
    nodeArgs: v['node-arg'] ?? [],
    imports: !v['skip-imports'],
    profile: v.profile ?? false,
    heap: v.heap ?? false,
    out: v.out ?? join(here, 'results'),
  };
}

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const { cleanup, stamp, log, ...bench } = startBenchRun('kubelet', WATCHDOG_MS);
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  let aborted = false;
  const dir = bench.tempDir();
  const heapDir = o.heap ? join(o.out, `kubelet-${stamp}-heap`) : undefined;
  if (heapDir) mkdirSync(heapDir, { recursive: true });

  let docker: DockerPhaseResult | undefined;
  let nodes: { keelson: HeartbeatRun; raw: HeartbeatRun } | undefined;
  let api: ApiServerChild | undefined;
  try {
    // --- the code measured, built once --------------------------------------
    const source = prepareSource(root, o.ref, dir);
    const built = build(source, join(dir, 'build'));
    log(`measuring ${source.description}; built into ${built.root}`);

    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    cleanup.killOnExit(nats.pid);
    cleanup.add('nats-server', () => nats.stop());
    log(`nats-server ${nats.url} (pid ${nats.pid})`);
    api = await startApiServerChild({ root: source.root, natsUrl: nats.url, compiledMain: built.cliMain });
    const apiChild = api;
    cleanup.killOnExit(api.pid);
    cleanup.add('API server', () => apiChild.stop());
    log(`API server ${api.url} (pid ${api.pid}, compiled)`);
    const client = await KeelsonClient.connect(nats.url, 'keelson-bench-kubelet');
    cleanup.add('client', () => client.close());
    // Runs first on Ctrl-C: loops stop starting things.
    cleanup.add('stop the loops', () => {
      aborted = true;
    });

    if (o.phase !== 'nodes') {
      const apiVersion = (await new Docker({ timeout: 10_000 }).version()).ApiVersion;
      const engine = new Docker({ version: `v${apiVersion}` });
      await engine.getImage(IMAGE).inspect().catch((e: unknown) => {
        throw new Error(`the image ${IMAGE} is not on this engine (${(e as Error).message}); run scripts/build-images.sh`);
      });
      const network = `keelson-bench-${runId}`;
      await engine.createNetwork({ Name: network, Driver: 'bridge', Labels: { [RUN_LABEL]: runId } });
      cleanup.add('docker network', () => engine.getNetwork(network).remove().catch(() => undefined));
      cleanup.add(`containers labelled ${DOCKER_NS}`, async () => removeContainers(engine, await namespaceContainers(engine)));
      await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DOCKER_NS } });
      log(`phase docker: ${o.pods} pods, loaders ${o.loaders.join(' + ')}, network ${network}`);
      docker = await dockerPhase({
        docker: engine,
        client,
        cleanup,
        log,
        natsUrl: nats.url,
        sourceRoot: source.root,
        buildRoot: built.root,
        loaders: o.loaders,
        pods: o.pods,
        parallel: o.podParallel,
        settleMs: o.settleMs,
        timeoutMs: o.timeoutMs,
        network,
        nodeName: `bench-kubelet-${runId}`,
        runId,
        runLabel: RUN_LABEL,
        dataDir: join(dir, 'kubelet'),
        heapDir,
        nodeArgs: o.nodeArgs,
        imports: o.imports,
        aborted: () => aborted,
      });
    }

    if (o.phase !== 'docker') {
      const nc = await connectNats(nats.url, 'keelson-bench-kubelet-observer');
      cleanup.add('observer connection', () => nc.close());
      const keelsonStore = await Store.open(nc, { bindOnly: true });
      const rawStore = await Store.open(nc, { bucket: RAW_BUCKET, replicas: 1 });
      if (o.clusterPods) {
        const t = nowMs();
        await createClusterPods(client, o.clusterPods);
        log(`created ${o.clusterPods} pending pods in ${CLUSTER_NS} in ${((nowMs() - t) / 1000).toFixed(1)} s`);
      }
      log(`phase nodes: ${o.nodes} hollow nodes, heartbeat ${o.heartbeatMs} ms, status ${o.statusMs} ms, window ${o.windowMs / 1000} s`);
      nodes = await hollowPhase({
        natsUrl: nats.url,
        natsPid: nats.pid,
        api,
        keelsonStore,
        rawStore,
        sourceRoot: source.root,
        buildRoot: built.root,
        cleanup,
        log,
        nodes: o.nodes,
        heartbeatMs: o.heartbeatMs,
        statusMs: o.statusMs,
        parallel: o.startParallel,
        settleMs: o.settleMs,
        windowMs: o.windowMs,
        startTimeoutMs: o.startTimeoutMs,
        prefix: `hollow-${runId}`,
        profileDir: o.profile ? join(dir, 'profiles') : undefined,
        heapDir,
        nodeArgs: o.nodeArgs,
        aborted: () => aborted,
      });
    }
    writeKubeletReport({ options: o, docker, nodes, code: source.description, machine: machine(), stamp });
  } finally {
    await bench.finish();
  }
}

/** Pending pods (no node) that every kubelet's informer receives and caches. */
async function createClusterPods(client: KeelsonClient, count: number): Promise<void> {
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CLUSTER_NS } });
  const names = Array.from({ length: count }, (_, i) => podName('pending', i));
  await withTimeout(
    parallel(names, 16, async (name) => void (await client.create(benchPod(CLUSTER_NS, name)))),
    Math.max(60_000, count * 20),
    `creating ${count} pods`,
  );
}

const scenario: Scenario = {
  name: 'kubelet',
  description: 'node agent: Docker kubelet RSS idle / with 100 pods vs bare node; 1,000 hollow nodes in one process: RSS, CPU, heartbeat lag vs raw kv.put (~5 min)',
  usage: USAGE,
  run,
};
export default scenario;
