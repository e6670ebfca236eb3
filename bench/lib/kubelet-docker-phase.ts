/**
 * Phase 1 of `npm run bench -- kubelet`: one kubelet on the Docker runtime as a
 * child process (kubelet-child.ts), compiled and/or through tsx, its RSS after
 * a forced GC idle with no pods and then holding N running busybox pods bound
 * to it by spec.nodeName — beside bare Node.js processes with the same preload
 * (and the same loader), measured in the same run.
 *
 * Per loader: start the kubelet → settle → GC → RSS (idle) → create N pods
 * (`parallel` at a time) → a store watch sees all Running → settle → GC → RSS
 * (holding N) → delete the pods through the API and wait until they are gone
 * → stop the kubelet → force-remove anything left with the namespace label.
 */
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { KObject } from '../../services/lib/api/resources.js';
import type { KeelsonClient } from '../../services/lib/client/index.js';
import { HEAP_WRITTEN, IDLE_READY, KUBELET_READY } from './child-commands.js';
import { rssAfterGc, startNodeChild, type RssAfterGc } from './node-child.js';
import { Cleanup, cpuSeconds, peakRssMB, sleep, withTimeout } from './proc.js';
import { nowMs } from './stats.js';

export const DOCKER_NS = 'bench-kubelet';
export const IMAGE = 'busybox:latest';
const NAMESPACE_LABEL = 'io.keelson.namespace';

export type Loader = 'compiled' | 'tsx';

export type DockerPhaseInput = {
  docker: Docker;
  client: KeelsonClient;
  cleanup: Cleanup;
  log: (s: string) => void;
  natsUrl: string;
  /** The source tree (tsx runs its .ts files) and its tsc build (the .js files). */
  sourceRoot: string;
  buildRoot: string;
  loaders: Loader[];
  pods: number;
  parallel: number;
  settleMs: number;
  timeoutMs: number;
  network: string;
  nodeName: string;
  runId: string;
  runLabel: string;
  dataDir: string;
  /** Write a heap snapshot of each kubelet holding the pods into this folder. */
  heapDir?: string;
  /** Extra node flags for the kubelet children (not the baselines). */
  nodeArgs: string[];
  /** Also measure what importing the kubelet's dependencies costs. */
  imports: boolean;
  aborted: () => boolean;
};

export type KubeletRun = {
  loader: Loader;
  idle: RssAfterGc;
  holding: RssAfterGc;
  /** VmHWM over the kubelet's life. */
  peakMB: number;
  pods: number;
  /** First create call → the watch saw the last pod Running. */
  allRunningMs: number;
  /** Kubelet cores over the settle period with the pods running (no changes). */
  steadyCores: number;
  heapSnapshot?: string;
};

export type DockerPhaseResult = {
  runs: KubeletRun[];
  baselines: { bareNode: RssAfterGc; bareNodeTsx: RssAfterGc };
  /** A bare node that only imported some modules (compiled): what loading them costs. */
  imports: { label: string; rss: RssAfterGc }[];
  leftovers: { pods: number; containers: number };
};

function pod(name: string, nodeName: string, runLabel: string, runId: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: DOCKER_NS, labels: { [runLabel]: runId } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Always',
      containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
    },
  };
}

/** Runs `fn` over `items`, `width` at a time. */
export async function parallel<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function namespaceContainers(docker: Docker): Promise<string[]> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${NAMESPACE_LABEL}=${DOCKER_NS}`] } });
  return found.map((c) => c.Id);
}

export async function removeContainers(docker: Docker, ids: string[]): Promise<void> {
  await parallel(ids, 8, async (id) => {
    await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  });
}

/** Deletes every pod of the namespace through the API until none is listed (bounded); returns how many are left. */
export async function deleteAllPods(client: KeelsonClient, boundMs: number): Promise<number> {
  const deadline = nowMs() + boundMs;
  let left = Infinity;
  for (let round = 0; left > 0 && nowMs() < deadline && round < 200; round++) {
    if (round) await sleep(500);
    const names = (await client.list('pods', DOCKER_NS)).items.map((p) => p.metadata!.name!);
    left = names.length;
    // Deleting again is harmless: a graceful deletion in progress is not restarted.
    if (round % 10 === 0) await parallel(names, 8, async (n) => void (await client.delete('pods', DOCKER_NS, n).catch(() => undefined)));
  }
  return left;
}

async function bareNode(input: DockerPhaseInput, loader: Loader): Promise<RssAfterGc> {
  const script = loader === 'tsx' ? join(input.sourceRoot, 'bench', 'lib', 'idle-child.ts') : join(input.buildRoot, 'bench', 'lib', 'idle-child.js');
  const child = await startNodeChild({ name: `bare node (${loader})`, cwd: input.sourceRoot, script, readyMark: IDLE_READY, cleanup: input.cleanup });
  try {
    await sleep(input.settleMs);
    return await rssAfterGc(child);
  } finally {
    await child.stop();
  }
}

/** What the kubelet loads, piece by piece, and all of it. */
const IMPORTS: [string, string[]][] = [
  ['dockerode (with docker-modem, ssh2, @grpc/grpc-js)', ['dockerode']],
  ['@nats-io/transport-node + jetstream + kv', ['@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv']],
  ['xstate', ['xstate']],
  ['services/lib/codec (protobufjs + the API descriptors)', ['./services/lib/codec/index.js']],
  ['services/kubelet/index.js (everything the kubelet loads)', ['./services/kubelet/index.js']],
];

async function importCost(input: DockerPhaseInput, modules: string[]): Promise<RssAfterGc> {
  const child = await startNodeChild({
    name: `import ${modules.join(', ')}`,
    cwd: input.sourceRoot,
    script: join(input.buildRoot, 'bench', 'lib', 'import-cost-child.js'),
    args: modules,
    readyMark: IDLE_READY,
    cleanup: input.cleanup,
  });
  try {
    await sleep(Math.min(input.settleMs, 2_000));
    return await rssAfterGc(child);
  } finally {
    await child.stop();
  }
}

async function runKubelet(input: DockerPhaseInput, loader: Loader): Promise<KubeletRun> {
  const { client, log } = input;
  const script = loader === 'tsx' ? join(input.sourceRoot, 'bench', 'lib', 'kubelet-child.ts') : join(input.buildRoot, 'bench', 'lib', 'kubelet-child.js');
  const kubelet = await startNodeChild({
    name: `kubelet (${loader})`,
    cwd: input.sourceRoot,
    script,
    args: [input.natsUrl, input.nodeName, input.network, join(input.dataDir, `node-${loader}`)],
    nodeArgs: input.nodeArgs,
    readyMark: KUBELET_READY,
    cleanup: input.cleanup,
  });
  const stopStep = `kubelet (${loader})`;
  input.cleanup.add(stopStep, () => kubelet.stop());
  try {
    log(`kubelet (${loader}) pid ${kubelet.pid} ready; settling ${input.settleMs} ms`);
    await sleep(input.settleMs);
    const idle = await rssAfterGc(kubelet);
    log(`kubelet (${loader}) idle: ${idle.rssMB.toFixed(1)} MB RSS after GC; creating ${input.pods} pods`);

    // --- N pods, all Running ------------------------------------------------
    const running = new Set<string>();
    let allRunning!: () => void;
    const done = new Promise<void>((r) => (allRunning = r));
    const watch = await client.watch('pods', DOCKER_NS, (ev) => {
      const phase = (ev.object as { status?: { phase?: string } } | undefined)?.status?.phase;
      if (phase === 'Running' && ev.key.name.startsWith(`${loader}-`)) running.add(ev.key.name);
      if (running.size >= input.pods) allRunning();
    });
    const start = nowMs();
    const names = Array.from({ length: input.pods }, (_, i) => `${loader}-${String(i).padStart(4, '0')}`);
    try {
      await withTimeout(watch.synced, 10_000, 'pods watch sync');
      await parallel(names, input.parallel, async (name) => {
        if (input.aborted()) throw new Error('stopped');
        await client.create(pod(name, input.nodeName, input.runLabel, input.runId));
      });
      const progress = setInterval(() => log(`  ${running.size}/${input.pods} Running`), 5_000);
      try {
        await withTimeout(Promise.race([done, kubelet.died]), input.timeoutMs, `${input.pods} pods Running`);
      } finally {
        clearInterval(progress);
      }
    } finally {
      await watch.stop();
    }
    const allRunningMs = nowMs() - start;
    log(`kubelet (${loader}): ${input.pods} pods Running after ${(allRunningMs / 1000).toFixed(1)} s; settling ${input.settleMs} ms`);

    const cpu0 = { t: nowMs(), c: cpuSeconds(kubelet.pid) };
    await sleep(input.settleMs);
    const steadyCores = (cpuSeconds(kubelet.pid) - cpu0.c) / ((nowMs() - cpu0.t) / 1000);
    const holding = await rssAfterGc(kubelet);
    const peakMB = peakRssMB(kubelet.pid);
    log(`kubelet (${loader}) holding ${input.pods} pods: ${holding.rssMB.toFixed(1)} MB RSS after GC (peak ${peakMB.toFixed(1)} MB)`);
    let heapSnapshot: string | undefined;
    if (input.heapDir) {
      heapSnapshot = join(input.heapDir, `kubelet-${loader}-${input.pods}-pods.heapsnapshot`);
      kubelet.send(`heap ${heapSnapshot}`);
      await kubelet.nextLine(HEAP_WRITTEN, 120_000);
      log(`heap snapshot: ${heapSnapshot}`);
    }

    // --- clean up for the next run -------------------------------------------
    log(`deleting the ${input.pods} pods through the API`);
    const deleteStart = nowMs();
    const left = await deleteAllPods(client, 120_000);
    log(left ? `${left} pods still listed after 120 s` : `pods gone after ${((nowMs() - deleteStart) / 1000).toFixed(1)} s`);
    return { loader, idle, holding, peakMB, pods: input.pods, allRunningMs, steadyCores, heapSnapshot };
  } finally {
    await kubelet.stop();
    const ids = await namespaceContainers(input.docker);
    if (ids.length) log(`removing ${ids.length} containers left in ${DOCKER_NS}`);
    await removeContainers(input.docker, ids);
  }
}

export async function dockerPhase(input: DockerPhaseInput): Promise<DockerPhaseResult> {
  const bareNodeRss = await bareNode(input, 'compiled');
  const bareNodeTsx = await bareNode(input, 'tsx');
  input.log(`bare node: ${bareNodeRss.rssMB.toFixed(1)} MB; bare node + tsx: ${bareNodeTsx.rssMB.toFixed(1)} MB (RSS after GC)`);
  const imports: DockerPhaseResult['imports'] = [];
  for (const [label, modules] of input.imports ? IMPORTS : []) {
    imports.push({ label, rss: await importCost(input, modules) });
    input.log(`bare node importing ${label}: ${imports[imports.length - 1]!.rss.rssMB.toFixed(1)} MB`);
  }
  const runs: KubeletRun[] = [];
  for (const loader of input.loaders) {
    if (input.aborted()) throw new Error('stopped');
    runs.push(await runKubelet(input, loader));
  }
  const pods = (await input.client.list('pods', DOCKER_NS)).items.length;
  const containers = (await namespaceContainers(input.docker)).length;
  return { runs, baselines: { bareNode: bareNodeRss, bareNodeTsx }, imports, leftovers: { pods, containers } };
}
