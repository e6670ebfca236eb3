/**
 * The tables of `npm run bench -- scheduler`: printed, and written to
 * bench/results/scheduler-<date>.{json,md}; with --profile, where the
 * scheduler's and the API server's CPU went in each phase.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SchedulerBenchOptions } from '../scheduler.bench.js';
import { formatSlice, loadLargestProfile, sliceProfile } from './cpuprofile.js';
import type { RssAfterGc } from './node-child.js';
import type { Summary } from './stats.js';
import { fmt, markdownTable, ratio, textTable, type Row } from './table.js';

/** Issue 4's target. */
export const TARGET_PODS_PER_SEC = 1_000;

export type Phase = {
  name: string;
  startMs: number;
  endMs: number;
  cores: { scheduler: number; api: number; nats: number; bench: number; other: number };
};

type Latency = { count: number; p50Ms: number; p99Ms: number; maxMs: number; sumMs: number };
type Stats = Record<string, unknown> & {
  scheduled?: number;
  attempts?: number;
  unschedulableAttempts?: number;
  bindErrors?: number;
  eventsDropped?: number;
  bindingLatency?: Latency;
  algorithmLatency?: Latency;
  loopDelayMs?: { p50: number; p99: number; max: number };
  log?: Record<string, number>;
};

export type SchedulerBenchResults = {
  nodes: { count: number; perSec: number };
  pendingCreate: { count: number; perSec: number; latency: Summary };
  bindOnly: { pods: number; syncMs: number; fromSpawnMs: number; fromReadyMs: number; perSecFromReady: number; perSecFromSpawn: number };
  e2e: { pods: number; allBoundMs: number; perSec: number; createPerSec: number; latency: Summary };
  raw: { createPerSec: number; casPerSec: number; casLatency: Summary; pairPerSec: number; pendingBytes: number; boundBytes: number };
  scheduler: { rss: RssAfterGc; statsAfterBindOnly: Stats; statsAfterE2e: Stats };
  phases: Phase[];
};

const COLUMNS = ['measure', 'Keelson', 'raw baseline', 'ratio', 'target', 'met?'];
const lat = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} ms`;
const statLat = (l: Latency | undefined) => (l ? `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)} ms (max ${fmt(l.maxMs)})` : 'n/a');

function rows(o: SchedulerBenchOptions, r: SchedulerBenchResults): Row[] {
  const s = r.scheduler.statsAfterE2e;
  const met = (v: number) => (v >= TARGET_PODS_PER_SEC ? 'yes' : 'NO');
  return [
    {
      measure: `end to end: ${fmt(r.e2e.pods)} pods created (${o.parallel} in flight) → all bound, pods/s`,
      Keelson: `${fmt(r.e2e.perSec)} (${fmt(r.e2e.allBoundMs / 1000, 1)} s)`,
      'raw baseline': `${fmt(r.raw.pairPerSec)} (kv.create then CAS per key)`,
      ratio: ratio(r.e2e.perSec, r.raw.pairPerSec),
      target: `≥ ${fmt(TARGET_PODS_PER_SEC)} pods/s`,
      'met?': met(r.e2e.perSec),
    },
    { measure: 'end to end: create call → bound seen on a watch, p50 / p99', Keelson: lat(r.e2e.latency), 'raw baseline': `${lat(r.raw.casLatency)} (one CAS)` },
    {
      measure: `bind-only: ${fmt(r.bindOnly.pods)} pending pods, scheduler synced → all bound, pods/s`,
      Keelson: `${fmt(r.bindOnly.perSecFromReady)} (${fmt(r.bindOnly.fromReadyMs / 1000, 1)} s)`,
      'raw baseline': `${fmt(r.raw.casPerSec)} (kv.update with revision)`,
      ratio: ratio(r.bindOnly.perSecFromReady, r.raw.casPerSec),
      target: `≥ ${fmt(TARGET_PODS_PER_SEC)} pods/s`,
      'met?': met(r.bindOnly.perSecFromReady),
    },
    {
      measure: 'bind-only from the scheduler process start (sync of nodes + pods included)',
      Keelson: `${fmt(r.bindOnly.perSecFromSpawn)} pods/s (${fmt(r.bindOnly.fromSpawnMs / 1000, 1)} s; ready after ${fmt(r.bindOnly.syncMs / 1000, 1)} s)`,
    },
    {
      measure: 'API creates alone (no scheduler), pods/s',
      Keelson: fmt(r.pendingCreate.perSec),
      'raw baseline': `${fmt(r.raw.createPerSec)} (kv.create)`,
      ratio: ratio(r.pendingCreate.perSec, r.raw.createPerSec),
    },
    { measure: `scheduling decision per pod (filter + score, ${fmt(o.nodes)} nodes), p50 / p99`, Keelson: statLat(s.algorithmLatency) },
    { measure: `binding round trip (${o.bindParallelism} in flight), p50 / p99`, Keelson: statLat(s.bindingLatency) },
    {
      measure: `scheduler RSS after GC, holding ${fmt(o.nodes)} nodes and ${fmt(2 * o.pods)} pods`,
      Keelson: `${fmt(r.scheduler.rss.rssMB, 1)} MB (V8 heap ${fmt(r.scheduler.rss.memory.heapUsed, 1)} MB used of ${fmt(r.scheduler.rss.memory.heapTotal, 1)} MB)`,
    },
  ];
}

function phaseRows(phases: Phase[]): Row[] {
  return phases.map((p) => ({
    phase: p.name,
    'wall s': fmt((p.endMs - p.startMs) / 1000, 1),
    scheduler: fmt(p.cores.scheduler, 2),
    'API server': fmt(p.cores.api, 2),
    'nats-server': fmt(p.cores.nats, 2),
    bench: fmt(p.cores.bench, 2),
    other: fmt(p.cores.other, 2),
  }));
}

function notes(o: SchedulerBenchOptions, r: SchedulerBenchResults, code: string, machine: string): string[] {
  const s = r.scheduler.statsAfterE2e;
  const logs = Object.entries(s.log ?? {}).map(([k, n]) => `${n}× "${k}"`);
  return [
    `Code measured: ${code}. Machine: ${machine}. One nats-server (JetStream, file storage, R1).`,
    `Nodes: ${fmt(o.nodes)} Node objects created through the API (${fmt(r.nodes.perSec)}/s), hollow: Ready, 32 cpu / 128Gi / 110 pods, 3 zones, no kubelet behind them.`,
    `Pods: bench/lib/pods.ts's Deployment-like pod (100m / 128Mi, nodeSelector kubernetes.io/os) owned by one of 10 ReplicaSets; created over NATS with the Keelson client (protobuf), ${o.parallel} in flight; ${fmt(r.raw.pendingBytes)} B stored pending, ${fmt(r.raw.boundBytes)} B bound.`,
    `Scheduler: a child process (compiled), bindParallelism ${o.bindParallelism}, percentageOfNodesToScore ${o.percentage || 'adaptive'}, Event writes in flight ${o.eventsInFlight ?? 'default'}; a Scheduled Event for every pod bound, through the same API — ${fmt(s.eventsDropped ?? NaN, 0)} of ${fmt(s.scheduled ?? NaN, 0)} dropped because too many were in flight.`,
    `Scheduler counters after e2e: ${s.scheduled} scheduled, ${s.attempts} attempts, ${s.unschedulableAttempts} unschedulable, ${s.bindErrors} binding errors; event-loop delay p99 ${fmt(s.loopDelayMs?.p99 ?? NaN)} ms.`,
    `Scheduler log: ${logs.length ? logs.join('; ') : 'nothing'}.`,
    `Raw baselines: @nats-io/kv from the bench process, on the same nats-server, own bucket, ${o.parallel} in flight, the exact stored bytes of a pending and of a bound pod.`,
    `Latency: bench clock from the create call to the first store-watch event showing the pod bound (a byte search for the node name in the raw value).`,
  ];
}

export function writeSchedulerReport(a: {
  options: SchedulerBenchOptions;
  results: SchedulerBenchResults;
  code: string;
  machine: string;
  stamp: string;
  profDir?: string;
  buildRoot: string;
}): void {
  const { options: o, results: r } = a;
  const main = rows(o, r);
  const phases = phaseRows(r.phases);
  const phaseCols = ['phase', 'wall s', 'scheduler', 'API server', 'nats-server', 'bench', 'other'];
  const profiles: string[] = [];
  if (a.profDir) {
    for (const who of ['scheduler', 'api']) {
      const dir = join(a.profDir, who);
      const loaded = existsSync(dir) ? loadLargestProfile(dir) : undefined;
      if (!loaded) continue;
      for (const p of r.phases) {
        if (!/bind-only|e2e/.test(p.name)) continue;
        profiles.push(formatSlice(`${who === 'api' ? 'API server' : 'scheduler'} — ${p.name}`, sliceProfile(loaded.profile, p.startMs * 1000, p.endMs * 1000, a.buildRoot)));
      }
    }
  }
  const text = [
    '',
    textTable(COLUMNS, main),
    '',
    ...notes(o, r, a.code, a.machine).map((n) => `- ${n}`),
    '',
    'Cores per phase:',
    textTable(phaseCols, phases),
    ...(profiles.length ? ['', ...profiles] : []),
    '',
  ].join('\n');
  process.stdout.write(text);
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `scheduler-${a.stamp}`);
  const md = [
    `# Scheduler benchmark, ${new Date().toISOString()}`,
    '',
    markdownTable(COLUMNS, main),
    '',
    ...notes(o, r, a.code, a.machine).map((n) => `- ${n}`),
    '',
    '## Cores per phase',
    '',
    markdownTable(phaseCols, phases),
    ...(profiles.length ? ['', '## CPU profiles', '', '```', ...profiles, '```'] : []),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ options: o, results: r, code: a.code, machine: a.machine }, null, 2));
  process.stdout.write(`results: ${relative(process.cwd(), base)}.{md,json}\n`);
}
