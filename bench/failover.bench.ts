/**
 * `npm run bench -- failover`: how fast the control plane recovers (tracker
 * issue 4), beside the raw NATS operations and the design's floors.
 *
 * Starts its own nats-server (one, or `--nats cluster`: three, R3 buckets), the
 * API server and `--nodes` kubelets on the fake runtime, all as processes of a
 * tsc build of the code measured (the real CLI), then:
 *
 *   leader  three `keelson scheduler` and three `keelson controller-manager`
 *           candidates; --rounds times per election, the leader is killed
 *           (SIGKILL) and, in turn, stopped (SIGTERM), at a random point of its
 *           renewal cycle: signal → another says "leading" → the work only a
 *           leader does is seen done. Every "leading" while another term is
 *           open is counted as an overlap.
 *           raw: a bare KV lease in a bucket with the same TTL — last put →
 *           a kv.create polled every 10 ms succeeds; kv.delete → a watcher's
 *           kv.create acknowledged.
 *   node    a ReplicaSet of --replicas pods on the kubelets; --node-rounds
 *           times the kubelet holding most of them is killed at a random point
 *           of its heartbeat cycle: signal → NotReady → first eviction → every
 *           replica Running elsewhere; then it comes back.
 *           raw: the floor (last heartbeat + grace + toleration) and the
 *           ReplicaSet scaled up by one → the new replica Running.
 *
 * Prints a table and writes it (JSON + markdown) to bench/results/. Every wait
 * is bounded; everything started is stopped at the end, on failure and on Ctrl-C.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { LEADER_TIMING } from '../statecharts/leader.machine.js';
import type { KObject } from '../services/lib/api/resources.js';
import { KeelsonClient } from '../services/lib/client/index.js';
import { EVICTION_RATE_PER_S } from '../services/controller-manager/taint-eviction.js';
import { ElectionsBucket } from '../services/lib/leader-election/index.js';
import { connectNats } from '../services/lib/nats/index.js';
import { startNatsCluster, startNatsServer } from '../services/lib/nats-server/index.js';
import { startApiServerChild } from './lib/apiserver.js';
import { startCli, type CliProcess } from './lib/cli-process.js';
import { bindProbe, Candidates, ELECTION, leaderRound, replicaProbe, RenewalWatch, type Kind, type LeaderRound } from './lib/failover-leader.js';
import { nodeRound, NodeWatch, scaleUpOne, type NodeRound } from './lib/failover-node.js';
import { writeFailoverReport, type FailoverResults } from './lib/failover-report.js';
import { sleep } from './lib/proc.js';
import { startBenchRun } from './lib/bench-run.js';
import { intFlag } from './lib/flags.js';
import type { Scenario } from './lib/scenario.js';
import { build, machine, prepareSource } from './lib/source.js';
import { nowMs } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const NS = 'bench-failover';
const RAW_BUCKET = 'bench-failover-raw';
const WATCHDOG_MS = 30 * 60_000;
/** The controller-manager's defaults (issue 4): a node is Unknown after 5 s, its pods go 5 s later. */
const GRACE_MS = 5_000;
const TOLERATION_MS = 5_000;
const HEARTBEAT_MS = 2_000;

const USAGE = `  --phase P          leader | node | both (default both)
  --rounds N         leader rounds per election and per way (crash, handoff) (default 10)
  --node-rounds N    node-death rounds (default 6)
  --nodes N          kubelets on the fake runtime (default 4)
  --replicas N       pods of the ReplicaSet the node rounds watch (default 12)
  --raw N            samples of each raw baseline (default 10)
  --nats single|cluster  one nats-server, or three clustered with R3 buckets (default single)
  --timeout S        for any one wait (default 60)
  --ref REF          measure a clean export of a git ref instead of the working tree
  --out DIR          where results go (default bench/results)`;

export type FailoverBenchOptions = {
  phase: 'leader' | 'node' | 'both';
  rounds: number;
  nodeRounds: number;
  nodes: number;
  replicas: number;
  raw: number;
  nats: 'single' | 'cluster';
  timeoutMs: number;
  ref?: string;
  out: string;
};

function parseOptions(argv: string[]): FailoverBenchOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      phase: { type: 'string' },
      rounds: { type: 'string' },
      'node-rounds': { type: 'string' },
      nodes: { type: 'string' },
      replicas: { type: 'string' },
      raw: { type: 'string' },
      nats: { type: 'string' },
      timeout: { type: 'string' },
      ref: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const phase = v.phase ?? 'both';
  if (!['leader', 'node', 'both'].includes(phase)) throw new Error(`--phase must be leader, node or both, not ${phase}`);
  const nats = v.nats ?? 'single';
  if (nats !== 'single' && nats !== 'cluster') throw new Error(`--nats must be single or cluster, not ${nats}`);
  return {
    phase: phase as FailoverBenchOptions['phase'],
    rounds: intFlag(v.rounds, 10, 'rounds', 1, 500),
    nodeRounds: intFlag(v['node-rounds'], 6, 'node-rounds', 1, 100),
    nodes: intFlag(v.nodes, 4, 'nodes', 2, 50),
    replicas: intFlag(v.replicas, 12, 'replicas', 1, 500),
    raw: intFlag(v.raw, 10, 'raw', 1, 200),
    nats,
    timeoutMs: intFlag(v.timeout, 60, 'timeout', 5, 600) * 1000,
    ref: v.ref,
    out: v.out ?? join(here, 'results'),
  };
}

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const { cleanup, stamp, log, ...bench } = startBenchRun('failover', WATCHDOG_MS);
  const dir = bench.tempDir();
  const results: FailoverResults = { leader: [], overlaps: [], node: [], raw: { expiryMs: [], handoffMs: [], replaceMs: [] } };
  try {
    const source = prepareSource(root, o.ref, dir);
    const built = build(source, join(dir, 'build'));
    log(`measuring ${source.description}; built into ${built.root}`);

    let urls: string[];
    if (o.nats === 'cluster') {
      const cluster = await startNatsCluster(join(dir, 'nats'));
      for (const s of cluster.servers) cleanup.killOnExit(s.pid);
      cleanup.add('nats cluster', () => cluster.stop());
      urls = cluster.urls;
    } else {
      const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
      cleanup.killOnExit(nats.pid);
      cleanup.add('nats-server', () => nats.stop());
      urls = [nats.url];
    }
    const replicas = o.nats === 'cluster' ? 3 : 1;
    const natsArg = urls.join(',');
    const api = await startApiServerChild({ root: source.root, natsUrl: natsArg, compiledMain: built.cliMain, args: ['--replicas', String(replicas)] });
    cleanup.killOnExit(api.pid);
    cleanup.add('API server', () => api.stop());
    log(`nats ${o.nats} (${urls.join(', ')}); API server ${api.url} (pid ${api.pid})`);

    const cli = (name: string, args: string[]) => {
      const p = startCli({ name, cliMain: built.cliMain, cwd: built.root, args: [...args, '--nats', natsArg], cleanup });
      return p;
    };
    const kubeletArgs = (name: string) => ['kubelet', '--runtime', 'fake', '--name', name, '--data-dir', join(dir, 'nodes', name), '--heartbeat-ms', String(HEARTBEAT_MS)];
    const kubelets = new Map<string, CliProcess>();
    for (let i = 1; i <= o.nodes; i++) {
      const name = `failover-node-${i}`;
      kubelets.set(name, cli(name, kubeletArgs(name)));
    }
    cleanup.add('kubelets', () => Promise.all([...kubelets.values()].map((k) => k.stop())).then(() => undefined));

    const client = await KeelsonClient.connect(urls, 'keelson-bench-failover', { timeoutMs: 30_000 });
    cleanup.add('bench client', () => client.close());
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const pods = await client.informer('pods', NS);
    const nodes = await client.informer('nodes');
    const leases = await client.informer('leases', 'kube-node-lease');
    cleanup.add('informers', () => Promise.all([pods.stop(), nodes.stop(), leases.stop()]).then(() => undefined));

    const candidates = new Map<Kind, Candidates>();
    for (const kind of ['scheduler', 'controller-manager'] as const) {
      const flags = kind === 'controller-manager' ? ['--node-grace-ms', String(GRACE_MS), '--eviction-ms', String(TOLERATION_MS)] : [];
      const c = new Candidates(kind, (id) => cli(id, [kind, '--identity', id, '--host', '127.0.0.1', '--port', '0', ...flags]));
      candidates.set(kind, c);
      cleanup.add(`${kind} candidates`, () => c.stopAll());
      for (let i = 0; i < 3; i++) await c.add();
    }
    const nc = await connectNats(urls, 'keelson-bench-failover-raw');
    cleanup.add('raw connection', () => nc.close());
    const elections = await ElectionsBucket.open(nc, { bindOnly: true });
    const renewals = new RenewalWatch();
    await renewals.start(elections.kv);
    cleanup.add('renewal watch', () => renewals.stop());
    const rs = await client.create(replicaSet(o.replicas));
    const watch = new NodeWatch(pods, nodes, leases, rs.metadata!.uid!, o.replicas);
    await watch.steady([...kubelets.keys()], o.timeoutMs);
    log(`${o.nodes} kubelets Ready, 3 + 3 candidates, ReplicaSet of ${o.replicas} Running`);

    // --- raw baselines --------------------------------------------------------
    const raw = await openRawBucket(nc, elections.leaseMs, replicas);
    cleanup.add('raw bucket', () => raw.destroy().then(() => undefined));
    for (let i = 0; i < o.raw; i++) results.raw.expiryMs.push(await rawExpiry(raw, `expiry-${i}`, o.timeoutMs));
    const watcher = await connectNats(urls, 'keelson-bench-failover-raw-2');
    cleanup.add('raw watcher connection', () => watcher.close());
    const rawOther = await new Kvm(jetstream(watcher)).open(RAW_BUCKET);
    for (let i = 0; i < o.raw; i++) results.raw.handoffMs.push(await rawHandoff(raw, rawOther, `handoff-${i}`, o.timeoutMs));
    log(`raw lease: expiry ${results.raw.expiryMs.map(Math.round).join(', ')} ms; handoff ${results.raw.handoffMs.map((x) => x.toFixed(1)).join(', ')} ms`);

    // --- leader rounds ----------------------------------------------------------
    if (o.phase !== 'node') {
      const probeRs = await client.create(replicaSet(1, 'failover-probe'));
      for (const kind of ['scheduler', 'controller-manager'] as const) {
        const c = candidates.get(kind)!;
        const work = kind === 'scheduler' ? bindProbe(client, pods, NS, o.timeoutMs) : replicaProbe(client, pods, probeRs, o.timeoutMs);
        for (let i = 0; i < 2 * o.rounds; i++) {
          const how = i % 2 === 0 ? 'crash' : 'handoff';
          const r: LeaderRound = await leaderRound({ candidates: c, how, round: i, renewals, leaseMs: elections.leaseMs, renewMs: LEADER_TIMING.renewMs, work, timeoutMs: o.timeoutMs });
          results.leader.push(r);
          log(`${kind} ${how} ${i + 1}/${2 * o.rounds}: leading after ${Math.round(r.toLeadingMs)} ms, acting after ${Math.round(r.toActingMs)} ms`);
        }
        results.overlaps.push(...c.overlaps.map((s) => `${ELECTION[kind]}: ${s}`));
      }
      await client.delete('replicasets', NS, 'failover-probe');
    }

    // --- node rounds ------------------------------------------------------------
    if (o.phase !== 'leader') {
      await watch.steady([...kubelets.keys()], o.timeoutMs);
      for (let i = 0; i < o.raw; i++) results.raw.replaceMs.push(await scaleUpOne(client, watch, rs, o.replicas, o.timeoutMs));
      watch.maxActive = 0;
      // Kubernetes' eviction limiter (0.1 nodes/s) would hold back a node emptied within 10 s of
      // the last one: each kill is spaced so that its earliest eviction (a heartbeat period
      // sooner than grace + toleration) is admitted at once, as a lone node death is.
      const spacingMs = 1000 / EVICTION_RATE_PER_S - (GRACE_MS + TOLERATION_MS - HEARTBEAT_MS) + 500;
      let previousEviction = -Infinity;
      for (let i = 0; i < o.nodeRounds; i++) {
        const r: NodeRound = await nodeRound({
          watch,
          kubelets,
          restart: (name) => cli(name, kubeletArgs(name)),
          replicas: o.replicas,
          heartbeatMs: HEARTBEAT_MS,
          graceMs: GRACE_MS,
          tolerationMs: TOLERATION_MS,
          timeoutMs: o.timeoutMs,
          notBeforeMs: previousEviction + spacingMs,
        });
        previousEviction = r.evictedAtMs;
        results.node.push(r);
        log(`node ${i + 1}/${o.nodeRounds}: ${r.node} (${r.podsOnNode} pods) killed ${Math.round(r.sinceHeartbeatAtKillMs)} ms after a heartbeat: Running elsewhere after ${(r.toRunningElsewhereMs / 1000).toFixed(2)} s`);
      }
      results.maxActive = watch.maxActive;
    }
    writeFailoverReport({ options: o, results, timing: { leaseMs: elections.leaseMs, renewMs: LEADER_TIMING.renewMs, graceMs: GRACE_MS, tolerationMs: TOLERATION_MS, heartbeatMs: HEARTBEAT_MS }, code: source.description, machine: machine(), stamp });
  } finally {
    await bench.finish();
  }
}

function replicaSet(replicas: number, name = 'failover-web'): KObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'busybox:latest', command: ['sleep', '3600'], resources: { requests: { cpu: '10m', memory: '8Mi' } } }] },
      },
    },
  };
}

async function openRawBucket(nc: NatsConnection, ttl: number, replicas: number): Promise<KV> {
  return new Kvm(jetstream(nc)).create(RAW_BUCKET, { ttl, history: 1, replicas, storage: 'file', allow_direct: false } as never);
}

/** A bare lease whose holder vanished: put acknowledged → a kv.create polled every 10 ms succeeds. */
async function rawExpiry(kv: KV, key: string, timeoutMs: number): Promise<number> {
  await kv.put(key, 'holder');
  const t0 = nowMs();
  for (;;) {
    try {
      await kv.create(key, 'next');
      return nowMs() - t0;
    } catch {
      if (nowMs() - t0 > timeoutMs) throw new Error(`raw lease ${key} never expired`);
      await sleep(10);
    }
  }
}

/** A bare lease released: kv.delete → another connection's watch sees it → its kv.create is acknowledged. */
async function rawHandoff(holder: KV, other: KV, key: string, timeoutMs: number): Promise<number> {
  await holder.create(key, 'holder');
  const iter = await other.watch({ key });
  let t0 = 0;
  const taken = (async () => {
    for await (const e of iter) {
      if (e.operation === 'DEL' || e.operation === 'PURGE') {
        await other.create(key, 'next');
        return nowMs() - t0;
      }
    }
    throw new Error('watch ended');
  })();
  await sleep(50);
  t0 = nowMs();
  await holder.delete(key);
  const timer = setTimeout(() => iter.stop(), timeoutMs);
  try {
    return await taken;
  } finally {
    clearTimeout(timer);
    iter.stop();
    await holder.purge(key).catch(() => undefined);
  }
}

const scenario: Scenario = {
  name: 'failover',
  description: 'failover: leader crash and handoff (3 + 3 candidates), node death → pods Running elsewhere, beside raw KV leases (~5 min)',
  usage: USAGE,
  run,
};
export default scenario;
