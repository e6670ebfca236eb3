/**
 * Phase 2 of `npm run bench -- kubelet`: N hollow nodes (kubelets on the fake
 * runtime) in ONE child process against the API server, and beside them the
 * raw baseline: N leases renewed with kv.put from one process on the same
 * schedule. For each: the time until all have started and all leases are seen
 * renewing, the CPU it took, then a window of heartbeats watched from the
 * store (lease-observer.ts) with the CPU of every process, then the child's
 * RSS after a forced GC.
 */
import { join } from 'node:path';
import type { Store } from '../../services/lib/store/index.js';
import type { ApiServerChild } from './apiserver.js';
import { HEAP_WRITTEN } from './child-commands.js';
import { formatSlice, loadLargestProfile, sliceProfile } from './cpuprofile.js';
import { LeaseObserver, type HeartbeatResult } from './lease-observer.js';
import {
  HOLLOW_PROGRESS,
  HOLLOW_READY,
  HOLLOW_STATS,
  leaseNodeName,
  RAW_READY,
  RAW_STATS,
  type HollowConfig,
  type HollowStats,
  type RawLeasesConfig,
  type RawStats,
} from './lease-protocol.js';
import { rssAfterGc, startNodeChild, type NodeChild, type RssAfterGc } from './node-child.js';
import { Cleanup, cpuSeconds, machineBusySeconds, peakRssMB, rssMB, sleep, withTimeout } from './proc.js';
import { nowMs } from './stats.js';

export type HollowPhaseInput = {
  natsUrl: string;
  natsPid: number;
  api: ApiServerChild;
  /** The API server's bucket, and the raw baseline's (already created). */
  keelsonStore: Store;
  rawStore: Store;
  sourceRoot: string;
  buildRoot: string;
  cleanup: Cleanup;
  log: (s: string) => void;
  nodes: number;
  heartbeatMs: number;
  statusMs: number;
  parallel: number;
  settleMs: number;
  windowMs: number;
  startTimeoutMs: number;
  prefix: string;
  /** Run the children with --cpu-prof into this folder and slice their profiles by window. */
  profileDir?: string;
  heapDir?: string;
  /** Extra node flags for the hollow-nodes child (not the raw one). */
  nodeArgs: string[];
  aborted: () => boolean;
};

/** Cores (CPU seconds per wall second) each process used in a window. */
export type Cores = { wallSeconds: number; child: number; api: number; nats: number; bench: number; other: number };

export type HeartbeatRun = {
  kind: 'keelson' | 'raw';
  nodes: number;
  started: number;
  failed: number;
  firstError: string;
  /** Child spawned → it reported every kubelet started (every lease written once, raw). */
  readyMs: number;
  /** Child spawned → the store watch had seen a renewal from every started node. */
  allSeenMs: number;
  startupCores: Cores;
  heartbeats: HeartbeatResult;
  windowCores: Cores;
  rss: RssAfterGc;
  peakMB: number;
  apiRssMB: number;
  natsRssMB: number;
  stats?: HollowStats | RawStats;
  profile?: { startup: string; window: string };
  heapSnapshot?: string;
};

type CpuMark = { t: number; child: number; api: number; nats: number; bench: number; machine: number };

function benchCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function mark(childPid: number, input: HollowPhaseInput): CpuMark {
  const child = cpuSeconds(childPid);
  return {
    t: nowMs(),
    child: Number.isFinite(child) ? child : 0,
    api: cpuSeconds(input.api.pid),
    nats: cpuSeconds(input.natsPid),
    bench: benchCpu(),
    machine: machineBusySeconds(),
  };
}

function cores(a: CpuMark, b: CpuMark): Cores {
  const wall = (b.t - a.t) / 1000;
  const per = (x: number, y: number) => (y - x) / wall;
  const ours = b.child - a.child + (b.api - a.api) + (b.nats - a.nats) + (b.bench - a.bench);
  return {
    wallSeconds: wall,
    child: per(a.child, b.child),
    api: per(a.api, b.api),
    nats: per(a.nats, b.nats),
    bench: per(a.bench, b.bench),
    other: Math.max(0, (b.machine - a.machine - ours) / wall),
  };
}

async function runOne(input: HollowPhaseInput, kind: 'keelson' | 'raw'): Promise<HeartbeatRun> {
  const { log } = input;
  const store = kind === 'keelson' ? input.keelsonStore : input.rawStore;
  const observer = await LeaseObserver.start(store, `${input.prefix}-`);
  const profDir = input.profileDir ? join(input.profileDir, kind) : undefined;
  const script = join(input.buildRoot, 'bench', 'lib', kind === 'keelson' ? 'hollow-nodes-child.js' : 'raw-leases-child.js');
  const config: HollowConfig | RawLeasesConfig =
    kind === 'keelson'
      ? { nats: input.natsUrl, count: input.nodes, prefix: input.prefix, heartbeatMs: input.heartbeatMs, statusMs: input.statusMs, parallel: input.parallel, startDeadlineMs: input.startTimeoutMs }
      : { nats: input.natsUrl, count: input.nodes, prefix: input.prefix, heartbeatMs: input.heartbeatMs, bucket: input.rawStore.bucket };
  const name = kind === 'keelson' ? `${input.nodes} hollow nodes` : `${input.nodes} raw leases`;
  let child: NodeChild | undefined;
  try {
    const t0 = nowMs();
    child = await startNodeChild({
      name,
      cwd: input.sourceRoot,
      script,
      args: [JSON.stringify(config)],
      nodeArgs: [...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), ...(kind === 'keelson' ? input.nodeArgs : [])],
      cleanup: input.cleanup,
    });
    const c = child;
    input.cleanup.add(name, () => c.stop(75_000));
    const m0 = mark(child.pid, input);
    let lastLog = 0;
    const offProgress = child.onLine(HOLLOW_PROGRESS, (rest) => {
      if (nowMs() - lastLog < 5_000) return;
      lastLog = nowMs();
      const [ready, failed] = rest.split(' ');
      log(`  ${ready}/${input.nodes} started, ${failed} failed, ${observer.seen} seen renewing, child RSS ${rssMB(c.pid).toFixed(0)} MB`);
    });
    const readyLine = await child.nextLine(kind === 'keelson' ? HOLLOW_READY : RAW_READY, input.startTimeoutMs + 30_000);
    offProgress();
    const readyMs = nowMs() - t0;
    const parts = readyLine.split(' ');
    const started = kind === 'keelson' ? Number(parts[0]) : input.nodes;
    const failed = kind === 'keelson' ? Number(parts[1]) : 0;
    const firstError = kind === 'keelson' ? parts.slice(3).join(' ') : '';
    const seenAt = await withTimeout(observer.seenCount(started), 60_000, `a renewal from each of ${started} nodes`).catch(() => NaN);
    const allSeenMs = seenAt - t0;
    const startupCores = cores(m0, mark(child.pid, input));
    log(`${name}: ${started} started (${failed} failed) in ${(readyMs / 1000).toFixed(1)} s; all seen renewing after ${(allSeenMs / 1000).toFixed(1)} s; settling ${input.settleMs} ms`);
    if (input.aborted()) throw new Error('stopped');

    // --- the heartbeat window ------------------------------------------------
    await sleep(input.settleMs);
    child.send('reset-loop');
    observer.begin();
    const w0 = mark(child.pid, input);
    await Promise.race([sleep(input.windowMs), child.died]);
    const w1 = mark(child.pid, input);
    const expected = Array.from({ length: input.nodes }, (_, i) => leaseNodeName(input.prefix, i));
    const heartbeats = observer.end(expected, input.heartbeatMs);
    const windowCores = cores(w0, w1);
    child.send('stats');
    const statsLine = await child.nextLine(kind === 'keelson' ? HOLLOW_STATS : RAW_STATS, 30_000).catch(() => undefined);
    const stats = statsLine ? (JSON.parse(statsLine) as HollowStats | RawStats) : undefined;
    const rss = await rssAfterGc(child);
    const api = await input.api.gc(1_000).then(() => rssMB(input.api.pid));
    log(`${name}: lag p50/p99/max ${heartbeats.lag.p50.toFixed(0)}/${heartbeats.lag.p99.toFixed(0)}/${heartbeats.lag.max.toFixed(0)} ms; RSS after GC ${rss.rssMB.toFixed(1)} MB`);
    let heapSnapshot: string | undefined;
    if (input.heapDir) {
      heapSnapshot = join(input.heapDir, `${kind}-${input.nodes}-nodes.heapsnapshot`);
      child.send(`heap ${heapSnapshot}`);
      await child.nextLine(HEAP_WRITTEN, 300_000);
    }
    const peakMB = peakRssMB(child.pid);
    const natsRssMB = rssMB(input.natsPid);
    const stopStart = nowMs();
    await child.stop(75_000);
    log(`${name}: stopped in ${((nowMs() - stopStart) / 1000).toFixed(1)} s`);
    let profile: HeartbeatRun['profile'];
    const loaded = profDir ? loadLargestProfile(profDir) : undefined;
    if (loaded) {
      const root = input.buildRoot;
      profile = {
        startup: formatSlice(`${name}: start`, sliceProfile(loaded.profile, t0 * 1000, (t0 + readyMs) * 1000, root)),
        window: formatSlice(`${name}: heartbeat window`, sliceProfile(loaded.profile, w0.t * 1000, w1.t * 1000, root)),
      };
    }
    return { kind, nodes: input.nodes, started, failed, firstError, readyMs, allSeenMs, startupCores, heartbeats, windowCores, rss, peakMB, apiRssMB: api, natsRssMB, stats, profile, heapSnapshot };
  } finally {
    await child?.stop(75_000);
    await observer.stop();
  }
}

export async function hollowPhase(input: HollowPhaseInput): Promise<{ keelson: HeartbeatRun; raw: HeartbeatRun }> {
  const keelson = await runOne(input, 'keelson');
  if (input.aborted()) throw new Error('stopped');
  const raw = await runOne(input, 'raw');
  return { keelson, raw };
}
