/**
 * The data-plane measurements of the proxy benchmark: one load (bulk or rr)
 * run by the client child against one target, with the cores every process
 * used meanwhile, and rounds over several targets — interleaved, the order
 * rotated each round, so that drift and warm-up hit all targets alike.
 */
import { readFileSync } from 'node:fs';
import { CLIENT_RESULT, type Load, type LoadOutcome } from './proxy-protocol.js';
import type { LineChild } from './proxy-netns.js';
import { machineBusySeconds, treeCpuSeconds } from './proc.js';
import { nowMs, percentile, Samples, type Summary } from './stats.js';

/** A place the client connects to. */
export type Target = { id: string; label: string; host: string; port: number };

/** CPU seconds per wall second, by process name; `softirq` the kernel's (network receive on loopback), `other` everything else on the machine not named. */
export type Cores = Record<string, number>;

export type Run = {
  target: string;
  kind: 'bulk' | 'rr';
  round: number;
  mbPerSec: number;
  connsPerSec: number;
  ops: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** The window on the monotonic clock (ms), for slicing CPU profiles. */
  startMs: number;
  endMs: number;
  cores: Cores;
};

export type TargetFigures = {
  id: string;
  label: string;
  /** Median over rounds, and each round's figure. */
  bulkMBps: number;
  bulkRuns: number[];
  rrPerSec: number;
  rrRuns: number[];
  /** Every exchange of every round, ms. */
  rrLatency: Summary;
  errors: number;
  firstError?: string;
  /** Mean over rounds. */
  cores: { bulk: Cores; rr: Cores };
};

export type LoadSettings = { seconds: number; bulkConnections: number; rrInFlight: number; bulkBytes: number; rounds: number; warmupSeconds: number };

const MB = 1024 * 1024;

/** One load against one target; `pids` are the processes whose cores are read (the client among them). */
export async function measure(
  client: LineChild,
  load: Load,
  pids: Record<string, number>,
  deaths: Promise<never>[],
): Promise<{ outcome: LoadOutcome; cores: Cores; startMs: number; endMs: number }> {
  const a = snapshot(pids);
  const answer = client.nextLine(CLIENT_RESULT, load.seconds * 1000 + 60_000);
  client.send(`load ${JSON.stringify(load)}`);
  const outcome = JSON.parse(await Promise.race([answer, ...deaths])) as LoadOutcome;
  const b = snapshot(pids);
  const wall = (b.t - a.t) / 1000;
  const cores: Cores = {};
  let named = 0;
  for (const name of Object.keys(pids)) {
    const used = b.cpu[name]! - a.cpu[name]!;
    cores[name] = Number.isFinite(used) ? used / wall : NaN;
    if (Number.isFinite(used)) named += used;
  }
  cores.bench = (b.bench - a.bench) / wall;
  cores.softirq = (b.softirq - a.softirq) / wall;
  cores.other = Math.max(0, (b.machine - a.machine - (b.softirq - a.softirq) - named - (b.bench - a.bench)) / wall);
  return { outcome, cores, startMs: a.t, endMs: b.t };
}

function snapshot(pids: Record<string, number>) {
  const cpu: Record<string, number> = {};
  // With descendants: the user-space proxy forwards in child processes too.
  for (const [name, pid] of Object.entries(pids)) cpu[name] = treeCpuSeconds(pid);
  const u = process.cpuUsage();
  return { t: nowMs(), cpu, bench: (u.user + u.system) / 1e6, machine: machineBusySeconds(), softirq: softirqSeconds() };
}

/**
 * Softirq time of the whole machine (/proc/stat): on loopback, the receive
 * side of TCP runs there and is charged to no process.
 */
function softirqSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  return Number(line.trim().split(/\s+/)[7]) / 100;
}

/**
 * Every target, bulk then rr, `rounds` times (after an untimed warm-up of each);
 * `pidsFor(target)` names the processes to read for it. Calls `before(round)`
 * first in each round (to change rules, for instance). Fails fast when a child dies.
 */
export async function rounds(o: {
  client: LineChild;
  targets: Target[];
  settings: LoadSettings;
  pidsFor: (t: Target) => Record<string, number>;
  deaths: Promise<never>[];
  log: (s: string) => void;
  /** Runs before the targets of `group` are measured; targets are grouped by it (default: one group). */
  groupOf?: (t: Target) => string;
  beforeGroup?: (group: string) => Promise<void>;
}): Promise<{ figures: TargetFigures[]; runs: Run[] }> {
  const s = o.settings;
  const load = (t: Target, kind: 'bulk' | 'rr', seconds: number): Load => ({
    kind,
    host: t.host,
    port: t.port,
    connections: kind === 'bulk' ? s.bulkConnections : s.rrInFlight,
    seconds,
    bulkBytes: s.bulkBytes,
  });
  const groupOf = o.groupOf ?? (() => '');
  const groups = [...new Set(o.targets.map(groupOf))];
  const runs: Run[] = [];
  const latencies = new Map(o.targets.map((t) => [t.id, new Samples(1 << 16)]));
  for (let round = -1; round < s.rounds; round++) {
    const warm = round < 0;
    for (const g of rotate(groups, Math.max(0, round))) {
      await o.beforeGroup?.(g);
      for (const t of rotate(o.targets.filter((x) => groupOf(x) === g), Math.max(0, round))) {
        for (const kind of ['bulk', 'rr'] as const) {
          const { outcome, cores, startMs, endMs } = await measure(o.client, load(t, kind, warm ? s.warmupSeconds : s.seconds), o.pidsFor(t), o.deaths);
          if (warm) {
            if (outcome.errors && !outcome.ops) throw new Error(`${t.label}: the warm-up ${kind} load failed: ${outcome.firstError}`);
            continue;
          }
          const run: Run = {
            target: t.id,
            kind,
            round,
            mbPerSec: outcome.bytes / MB / (outcome.elapsedMs / 1000),
            connsPerSec: kind === 'rr' ? (outcome.ops * 1000) / outcome.elapsedMs : NaN,
            ops: outcome.ops,
            errors: outcome.errors,
            firstError: outcome.firstError,
            elapsedMs: outcome.elapsedMs,
            startMs,
            endMs,
            cores,
          };
          runs.push(run);
          for (const us of outcome.latenciesUs) latencies.get(t.id)!.push(us / 1000);
          o.log(
            `round ${round + 1}/${s.rounds} ${t.label} ${kind}: ` +
              (kind === 'bulk' ? `${run.mbPerSec.toFixed(0)} MB/s` : `${run.connsPerSec.toFixed(0)} conns/s`) +
              (run.errors ? ` (${run.errors} errors: ${run.firstError})` : ''),
          );
        }
      }
    }
  }
  const figures = o.targets.map((t) => {
    const mine = runs.filter((r) => r.target === t.id);
    const bulk = mine.filter((r) => r.kind === 'bulk');
    const rr = mine.filter((r) => r.kind === 'rr');
    const errors = mine.reduce((n, r) => n + r.errors, 0);
    return {
      id: t.id,
      label: t.label,
      bulkMBps: median(bulk.map((r) => r.mbPerSec)),
      bulkRuns: bulk.map((r) => r.mbPerSec),
      rrPerSec: median(rr.map((r) => r.connsPerSec)),
      rrRuns: rr.map((r) => r.connsPerSec),
      rrLatency: latencies.get(t.id)!.summary(),
      errors,
      firstError: mine.find((r) => r.firstError)?.firstError,
      cores: { bulk: meanCores(bulk), rr: meanCores(rr) },
    };
  });
  return { figures, runs };
}

/** [a, b, c] rotated by k: [b, c, a] for k = 1. */
function rotate<T>(xs: T[], k: number): T[] {
  if (!xs.length) return xs;
  const n = k % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

export function median(xs: number[]): number {
  return percentile(Float64Array.from(xs).sort(), 50);
}

function meanCores(runs: Run[]): Cores {
  const out: Cores = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.cores)) out[k] = (out[k] ?? 0) + v / runs.length;
  return out;
}

