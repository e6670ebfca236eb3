/**
 * `npm run bench -- scheduler`: scheduling throughput end to end through the
 * API (tracker issue 4), beside the raw KV writes it is built on.
 *
 * Starts its own nats-server (R1, temp dir) and the API server as a child
 * process, both from a tsc build of the code measured; creates --nodes hollow
 * Node objects through the API (Ready, allocatable, no kubelet behind them),
 * then:
 *
 *   pending   --pods pods created with no scheduler running (API creates alone)
 *   bind-only the scheduler starts (a child process, compiled) on those pending
 *             pods: informer sync, then every pod bound
 *   e2e       with the scheduler running, --pods more pods created, --parallel
 *             in flight: first create → all bound; per pod, create call → bound
 *             seen on a store watch
 *   raw       on the same nats-server, in a bucket of its own, with the same
 *             parallelism: kv.create of the stored pod bytes, kv.update with the
 *             revision (CAS) of the bound pod's bytes, and create→CAS per key
 *
 * Prints a table and writes it (JSON + markdown) to bench/results/. Every wait
 * is bounded; everything started is stopped at the end, on failure and on Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KeelsonClient } from '../services/lib/client/index.js';
import { connectNats } from '../services/lib/nats/index.js';
import { startNatsServer } from '../services/lib/nats-server/index.js';
import { Store } from '../services/lib/store/index.js';
import { startApiServerChild, type ApiServerChild } from './lib/apiserver.js';
import { closedLoop, type LoadResult } from './lib/load.js';
import { rssAfterGc, startNodeChild, type NodeChild, type RssAfterGc } from './lib/node-child.js';
import { podName } from './lib/pods.js';
import { cpuSeconds, machineBusySeconds, sleep } from './lib/proc.js';
import { startBenchRun } from './lib/bench-run.js';
import { intFlag } from './lib/flags.js';
import type { Scenario } from './lib/scenario.js';
import { BindingObserver, benchNode, ownedPod, SCHED_READY, SCHED_STATS, type SchedulerChildConfig } from './lib/scheduler-cluster.js';
import { writeSchedulerReport, type Phase, type SchedulerBenchResults } from './lib/scheduler-report.js';
import { build, machine, prepareSource } from './lib/source.js';
import { nowMs, opsPerSec, Samples } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const NS_PENDING = 'bench-sched-pending';
const NS_E2E = 'bench-sched-e2e';
const RAW_BUCKET = 'bench-raw-cas';
const WATCHDOG_MS = 30 * 60_000;

const USAGE = `  --nodes N             hollow Node objects (default 1000)
  --pods N              pods per phase: pending (bind-only) and end-to-end (default 10000)
  --parallel N          creates in flight, and raw KV writes in flight (default 16)
  --bind-parallelism N  the scheduler's bindings in flight (default: the scheduler's, 64)
  --percentage P        percentageOfNodesToScore (default 0: adaptive, 42 % of 1,000 nodes)
  --events-in-flight N  the scheduler's Event writes in flight; more are dropped and counted (default: the scheduler's, 2 × bindings)
  --timeout S           for all pods of a phase to be bound (default 300)
  --profile             run the scheduler and the API server with --cpu-prof, print where their time went per
                        phase, and keep the profiles in <out>/scheduler-<date>-cpuprofile/
  --ref REF             measure a clean export of a git ref instead of the working tree
  --out DIR             where results go (default bench/results)`;

export type SchedulerBenchOptions = {
  nodes: number;
  pods: number;
  parallel: number;
  bindParallelism: number;
  percentage: number;
  eventsInFlight?: number;
  timeoutMs: number;
  profile: boolean;
  ref?: string;
  out: string;
};

function parseOptions(argv: string[]): SchedulerBenchOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      pods: { type: 'string' },
      parallel: { type: 'string' },
      'bind-parallelism': { type: 'string' },
      percentage: { type: 'string' },
      'events-in-flight': { type: 'string' },
      timeout: { type: 'string' },
      profile: { type: 'boolean', default: false },
      ref: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const o: SchedulerBenchOptions = {
    nodes: intFlag(v.nodes, 1000, 'nodes', 1, 20_000),
    pods: intFlag(v.pods, 10_000, 'pods', 1, 200_000),
    parallel: intFlag(v.parallel, 16, 'parallel', 1, 512),
    bindParallelism: intFlag(v['bind-parallelism'], 64, 'bind-parallelism', 1, 512),
    percentage: intFlag(v.percentage, 0, 'percentage', 0, 100),
    eventsInFlight: v['events-in-flight'] === undefined ? undefined : intFlag(v['events-in-flight'], 0, 'events-in-flight', 1, 1024),
    timeoutMs: intFlag(v.timeout, 300, 'timeout', 10, 1800) * 1000,
    profile: v.profile ?? false,
    ref: v.ref,
    out: v.out ?? join(here, 'results'),
  };
  if (o.nodes * 110 < 2 * o.pods) throw new Error(`${o.nodes} nodes hold at most ${o.nodes * 110} pods (110 each); --pods ${o.pods} per phase needs ${2 * o.pods}`);
  return o;
}

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const { cleanup, stamp, log, ...bench } = startBenchRun('scheduler', WATCHDOG_MS);
  const dir = bench.tempDir();
  // Kept with the results (the temp dir goes): open them in Chrome DevTools for the detail.
  const profDir = o.profile ? join(o.out, `scheduler-${stamp}-cpuprofile`) : undefined;
  const phases: Phase[] = [];
  let api: ApiServerChild | undefined;
  let sched: NodeChild | undefined;
  let natsPid = 0;
  let aborted = false;

  const mark = () => ({
    t: nowMs(),
    sched: sched ? cpuSeconds(sched.pid) : 0,
    api: api ? cpuSeconds(api.pid) : 0,
    nats: cpuSeconds(natsPid),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    machine: machineBusySeconds(),
  });
  /** Runs one phase, noting its window and the cores each process used; fails fast if a child dies. */
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log(name);
    const a = mark();
    const deaths = [api?.died, sched?.died].filter((d): d is Promise<never> => !!d);
    const value = await Promise.race([fn(), ...deaths]);
    const b = mark();
    const wall = (b.t - a.t) / 1000;
    const used = (k: 'sched' | 'api' | 'nats' | 'bench') => (Number.isFinite(b[k] - a[k]) ? b[k] - a[k] : 0);
    phases.push({
      name,
      startMs: a.t,
      endMs: b.t,
      cores: {
        scheduler: used('sched') / wall,
        api: used('api') / wall,
        nats: used('nats') / wall,
        bench: used('bench') / wall,
        other: Math.max(0, (b.machine - a.machine - used('sched') - used('api') - used('nats') - used('bench')) / wall),
      },
    });
    return value;
  };

  try {
    const source = prepareSource(root, o.ref, dir);
    const built = build(source, join(dir, 'build'));
    log(`measuring ${source.description}; built into ${built.root}`);
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    natsPid = nats.pid;
    cleanup.killOnExit(nats.pid);
    cleanup.add('nats-server', () => nats.stop());
    if (profDir) mkdirSync(join(profDir, 'api'), { recursive: true });
    api = await startApiServerChild({ root: source.root, natsUrl: nats.url, compiledMain: built.cliMain, cpuProfDir: profDir && join(profDir, 'api') });
    const apiChild = api;
    cleanup.killOnExit(api.pid);
    cleanup.add('API server', () => apiChild.stop());
    log(`nats-server ${nats.url} (pid ${nats.pid}); API server ${api.url} (pid ${api.pid}, compiled)`);
    const client = await KeelsonClient.connect(nats.url, 'keelson-bench-scheduler-client', { timeoutMs: 30_000 });
    cleanup.add('bench client', () => client.close());
    const nc = await connectNats(nats.url, 'keelson-bench-scheduler-raw');
    cleanup.add('raw connection', () => nc.close());
    cleanup.add('stop the loops', () => {
      aborted = true;
    });
    const guarded = (op: (i: number) => Promise<void>) => async (i: number) => {
      if (aborted) throw new Error('aborted');
      await op(i);
    };
    const mustAll = (what: string, r: LoadResult) => {
      if (r.errors || r.timedOut) throw new Error(`${what}: ${r.errors} errors${r.timedOut ? ', timed out' : ''}; first: ${r.firstError}`);
      return r;
    };

    for (const name of [NS_PENDING, NS_E2E]) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const nodes = await phase(`create ${o.nodes} nodes`, async () =>
      mustAll('node creates', await closedLoop(o.nodes, o.parallel, o.timeoutMs, guarded(async (i) => void (await client.create(benchNode(i)))))),
    );
    const observer = new BindingObserver();
    await observer.start((await Store.open(nc, { bindOnly: true })).kv);
    cleanup.add('binding observer', () => observer.stop());

    // --- pending pods, then the scheduler starts on them ----------------------
    const pending = await phase(`create ${o.pods} pending pods (no scheduler)`, async () =>
      mustAll('pending creates', await closedLoop(o.pods, o.parallel, o.timeoutMs, guarded(async (i) => void (await client.create(ownedPod(NS_PENDING, podName('p', i), i)))))),
    );
    const cfg: SchedulerChildConfig = {
      natsUrl: nats.url,
      bindParallelism: o.bindParallelism,
      percentageOfNodesToScore: o.percentage || undefined,
      eventsInFlight: o.eventsInFlight,
    };
    if (profDir) mkdirSync(join(profDir, 'scheduler'), { recursive: true });
    const spawnedAt = nowMs();
    let readyAt = 0;
    const bindOnly = await phase(`bind-only: scheduler starts on ${o.pods} pending pods`, async () => {
      sched = await startNodeChild({
        name: 'scheduler',
        cwd: built.root,
        script: join(built.root, 'bench', 'lib', 'scheduler-child.js'),
        args: [JSON.stringify(cfg)],
        nodeArgs: profDir ? ['--cpu-prof', '--cpu-prof-dir', join(profDir, 'scheduler')] : [],
        readyMark: SCHED_READY,
        readyTimeoutMs: o.timeoutMs,
        cleanup,
      });
      const child = sched;
      cleanup.add('scheduler', () => child.stop());
      readyAt = nowMs();
      await observer.waitFor(NS_PENDING, o.pods, o.timeoutMs);
      return { fromSpawnMs: nowMs() - spawnedAt, fromReadyMs: nowMs() - readyAt, syncMs: Number(sched.readyLine) };
    });
    const schedChild = sched!;
    const statsAfterBindOnly = await schedulerStats(schedChild);

    // --- end to end: creates while the scheduler runs -----------------------
    const createdAt = new Float64Array(o.pods);
    let firstCreate = 0;
    const e2e = await phase(`e2e: ${o.pods} pods created (${o.parallel} in flight) → all bound`, async () => {
      firstCreate = nowMs();
      const creates = closedLoop(
        o.pods,
        o.parallel,
        o.timeoutMs,
        guarded(async (i) => {
          createdAt[i] = nowMs();
          await client.create(ownedPod(NS_E2E, podName('e', i), i));
        }),
      );
      const created = mustAll('e2e creates', await creates);
      await observer.waitFor(NS_E2E, o.pods, o.timeoutMs);
      return { created, allBoundMs: nowMs() - firstCreate };
    });
    const latency = new Samples(o.pods);
    for (let i = 0; i < o.pods; i++) latency.push(observer.boundTime(NS_E2E, podName('e', i))! - createdAt[i]!);
    const statsAfterE2e = await schedulerStats(schedChild);
    await sleep(2_000);
    const rss: RssAfterGc = await phase('scheduler RSS after GC', () => rssAfterGc(schedChild));

    // --- raw baselines on the same nats-server ------------------------------
    const keelson = await Store.open(nc, { bindOnly: true });
    const pendingBytes = (await keelson.kv.get(`pods.${NS_PENDING}.${podName('p', 0)}`))!.value;
    const boundBytes = (await keelson.kv.get(`pods.${NS_E2E}.${podName('e', 0)}`))!.value;
    const raw = await Store.open(nc, { bucket: RAW_BUCKET, replicas: 1 });
    cleanup.add('raw bucket', () => raw.kv.destroy().then(() => undefined));
    const revs = new Float64Array(o.pods);
    const rawCreate = await phase('raw: kv.create', async () =>
      mustAll('raw creates', await closedLoop(o.pods, o.parallel, o.timeoutMs, guarded(async (i) => void (revs[i] = await raw.kv.create(`pods.raw.c${i}`, pendingBytes))))),
    );
    const rawCas = await phase('raw: kv.update with revision (CAS)', async () =>
      mustAll('raw CAS', await closedLoop(o.pods, o.parallel, o.timeoutMs, guarded(async (i) => void (await raw.kv.update(`pods.raw.c${i}`, boundBytes, revs[i]!))))),
    );
    const rawPair = await phase('raw: kv.create then CAS, per key', async () =>
      mustAll(
        'raw create→CAS',
        await closedLoop(
          o.pods,
          o.parallel,
          o.timeoutMs,
          guarded(async (i) => {
            const rev = await raw.kv.create(`pods.raw.p${i}`, pendingBytes);
            await raw.kv.update(`pods.raw.p${i}`, boundBytes, rev);
          }),
        ),
      ),
    );

    const results: SchedulerBenchResults = {
      nodes: { count: o.nodes, perSec: opsPerSec(nodes.done, nodes.elapsedMs) },
      pendingCreate: { count: pending.done, perSec: opsPerSec(pending.done, pending.elapsedMs), latency: pending.latencies.summary() },
      bindOnly: { ...bindOnly, pods: o.pods, perSecFromReady: opsPerSec(o.pods, bindOnly.fromReadyMs), perSecFromSpawn: opsPerSec(o.pods, bindOnly.fromSpawnMs) },
      e2e: {
        pods: o.pods,
        allBoundMs: e2e.allBoundMs,
        perSec: opsPerSec(o.pods, e2e.allBoundMs),
        createPerSec: opsPerSec(e2e.created.done, e2e.created.elapsedMs),
        latency: latency.summary(),
      },
      raw: {
        createPerSec: opsPerSec(rawCreate.done, rawCreate.elapsedMs),
        casPerSec: opsPerSec(rawCas.done, rawCas.elapsedMs),
        casLatency: rawCas.latencies.summary(),
        pairPerSec: opsPerSec(rawPair.done, rawPair.elapsedMs),
        pendingBytes: pendingBytes.length,
        boundBytes: boundBytes.length,
      },
      scheduler: { rss, statsAfterBindOnly, statsAfterE2e },
      phases,
    };
    // Children write their CPU profiles when they exit: stop them before reading.
    if (profDir) {
      await schedChild.stop();
      await apiChild.stop();
    }
    writeSchedulerReport({ options: o, results, code: source.description, machine: machine(), stamp, profDir, buildRoot: built.root });
  } finally {
    await bench.finish();
  }
}

async function schedulerStats(child: NodeChild): Promise<Record<string, unknown>> {
  const line = child.nextLine(SCHED_STATS, 10_000);
  child.send('stats');
  return JSON.parse(await line) as Record<string, unknown>;
}

const scenario: Scenario = {
  name: 'scheduler',
  description: 'scheduler: 1,000 hollow nodes, 10,000 pods end to end through the API, pods/s and latency vs raw KV CAS (~1 min)',
  usage: USAGE,
  run,
};
export default scenario;
