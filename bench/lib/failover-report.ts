/**
 * The table of `npm run bench -- failover`: printed, and written to
 * bench/results/failover-<date>.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { FailoverBenchOptions } from '../failover.bench.js';
import type { Kind, LeaderRound } from './failover-leader.js';
import type { NodeRound } from './failover-node.js';
import { summarize } from './stats.js';
import { fmt, markdownTable, textTable, type Row } from './table.js';

/** Issue 4's targets. */
export const TARGET = { crashP99Ms: 2_000, handoffMs: 500, nodeMs: 10_000 } as const;

export type FailoverResults = {
  leader: LeaderRound[];
  overlaps: string[];
  node: NodeRound[];
  /** Most active replicas seen at once during the node rounds. */
  maxActive?: number;
  raw: { expiryMs: number[]; handoffMs: number[]; replaceMs: number[] };
};

export type Timing = { leaseMs: number; renewMs: number; graceMs: number; tolerationMs: number; heartbeatMs: number };

const COLUMNS = ['measure', 'Keelson p50 / p99 / max', 'raw baseline p50 / p99 / max', 'target', 'met?'];

function spread(values: number[], unit: 'ms' | 's' = 'ms'): string {
  if (!values.length) return 'n/a';
  const s = summarize(values);
  const f = (v: number) => (unit === 's' ? fmt(v / 1000, 2) : fmt(v, v < 10 ? 1 : 0));
  return `${f(s.p50)} / ${f(s.p99)} / ${f(s.max)} ${unit} (${s.count})`;
}

const p99 = (values: number[]) => (values.length ? summarize(values).p99 : NaN);
const max = (values: number[]) => (values.length ? summarize(values).max : NaN);
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

function leaderRows(r: FailoverResults, t: Timing): Row[] {
  const rows: Row[] = [];
  const raw = { expiry: spread(r.raw.expiryMs), handoff: spread(r.raw.handoffMs) };
  for (const kind of ['scheduler', 'controller-manager'] as Kind[]) {
    const rounds = (how: 'crash' | 'handoff') => r.leader.filter((x) => x.kind === kind && x.how === how);
    const crash = rounds('crash');
    const handoff = rounds('handoff');
    if (!crash.length && !handoff.length) continue;
    const acting = kind === 'scheduler' ? 'a pod created after the signal is bound' : 'a ReplicaSet scaled up after the signal gets its pod';
    rows.push(
      {
        measure: `${kind}: kill -9 of the leader → a standby says "leading"`,
        'Keelson p50 / p99 / max': spread(crash.map((x) => x.toLeadingMs)),
        'raw baseline p50 / p99 / max': `lease left at the kill: ${spread(crash.map((x) => x.leaseLeftAtKillMs ?? NaN).filter(Number.isFinite))}`,
      },
      {
        measure: `${kind}: kill -9 → standby acting (${acting})`,
        'Keelson p50 / p99 / max': spread(crash.map((x) => x.toActingMs)),
        target: `p99 ≤ ${fmt(TARGET.crashP99Ms)} ms`,
        'met?': yes(p99(crash.map((x) => x.toActingMs)) <= TARGET.crashP99Ms),
      },
      {
        measure: `${kind}: lease could be taken (last renewal seen + ${fmt(t.leaseMs)} ms) → a standby says "leading"`,
        'Keelson p50 / p99 / max': spread(crash.map((x) => x.takeableToLeadingMs ?? NaN).filter(Number.isFinite)),
        'raw baseline p50 / p99 / max': `kv.put acked → kv.create (every 10 ms) succeeds, − TTL: ${spread(r.raw.expiryMs.map((x) => x - t.leaseMs))}`,
      },
      {
        measure: `${kind}: SIGTERM of the leader → a standby acting`,
        'Keelson p50 / p99 / max': spread(handoff.map((x) => x.toActingMs)),
        'raw baseline p50 / p99 / max': `kv.delete → a watcher's kv.create acked: ${raw.handoff}`,
        target: `≤ ${fmt(TARGET.handoffMs)} ms`,
        'met?': yes(max(handoff.map((x) => x.toActingMs)) <= TARGET.handoffMs),
      },
      { measure: `${kind}: SIGTERM → a standby says "leading"`, 'Keelson p50 / p99 / max': spread(handoff.map((x) => x.toLeadingMs)) },
    );
  }
  if (r.leader.length) {
    rows.push({
      measure: 'terms that overlapped ("leading" while another term was open)',
      'Keelson p50 / p99 / max': `${r.overlaps.length} in ${r.leader.length} rounds`,
      target: '0 in every run',
      'met?': yes(r.overlaps.length === 0),
    });
  }
  return rows;
}

function nodeRows(r: FailoverResults, t: Timing, o: FailoverBenchOptions): Row[] {
  if (!r.node.length) return [];
  const n = r.node;
  const running = n.map((x) => x.toRunningElsewhereMs);
  return [
    {
      measure: `node killed (kubelet kill -9) → all ${o.replicas} replicas Running, none on it`,
      'Keelson p50 / p99 / max': spread(running, 's'),
      'raw baseline p50 / p99 / max': `floor, last heartbeat + grace + toleration: ${spread(
        n.map((x) => t.graceMs + t.tolerationMs - x.sinceHeartbeatAtKillMs),
        's',
      )}`,
      target: `≤ ${fmt(TARGET.nodeMs / 1000, 0)} s`,
      'met?': yes(max(running) <= TARGET.nodeMs),
    },
    {
      measure: 'the same, beyond the floor (detection + eviction + new pod created, scheduled, started)',
      'Keelson p50 / p99 / max': spread(n.map((x) => x.overFloorMs)),
      'raw baseline p50 / p99 / max': `ReplicaSet +1 → the new replica Running: ${spread(r.raw.replaceMs)}`,
    },
    { measure: 'kill → node Ready seen not True', 'Keelson p50 / p99 / max': spread(n.map((x) => x.toNotReadyMs), 's') },
    { measure: 'kill → first of its pods evicted', 'Keelson p50 / p99 / max': spread(n.map((x) => x.toFirstEvictionMs), 's') },
    { measure: 'kubelet back → node Ready, taints gone, ReplicaSet whole', 'Keelson p50 / p99 / max': spread(n.map((x) => x.returnMs), 's') },
    {
      measure: 'most active replicas seen at once (desired count)',
      'Keelson p50 / p99 / max': `${r.maxActive ?? 'n/a'} (${o.replicas})`,
      target: `≤ ${o.replicas}`,
      'met?': yes((r.maxActive ?? Infinity) <= o.replicas),
    },
  ];
}

function notes(o: FailoverBenchOptions, r: FailoverResults, t: Timing, code: string, machine: string): string[] {
  return [
    `Code measured: ${code}. Machine: ${machine}. NATS: ${o.nats === 'cluster' ? 'three clustered nats-servers, R3 buckets' : 'one nats-server, R1'}.`,
    `Processes: the API server, ${o.nodes} \`keelson kubelet --runtime fake\` (heartbeat ${t.heartbeatMs} ms), 3 \`keelson scheduler\` and 3 \`keelson controller-manager\` (grace ${t.graceMs} ms, toleration ${t.tolerationMs} ms), all compiled; a killed one is started again after each round so three candidates always stand.`,
    `Leader election: lease ${t.leaseMs} ms, renewal every ${t.renewMs} ms; the signal is sent at a random point of the renewal cycle. "Leading" and "stopped leading" are the candidates' own log lines, stamped when they reach the bench.`,
    `Node rounds: the kubelet holding most replicas is killed at a random point of its heartbeat cycle; "last heartbeat" is when the bench last saw its Lease renewed (a renewal in flight at the kill counts). Kills are spaced so that the eviction limiter (0.1 nodes/s, as Kubernetes') admits each node at once, as it does a lone node death.`,
    `Raw baselines: @nats-io/kv from the bench process, a bucket with the elections bucket's TTL and replicas. Expiry (${r.raw.expiryMs.length} samples) includes up to 10 ms of polling.`,
    ...(r.overlaps.length ? [`Overlaps: ${r.overlaps.join('; ')}`] : []),
  ];
}

export function writeFailoverReport(a: { options: FailoverBenchOptions; results: FailoverResults; timing: Timing; code: string; machine: string; stamp: string }): void {
  const { options: o, results: r, timing: t } = a;
  const rows = [...leaderRows(r, t), ...nodeRows(r, t, o)];
  const noteLines = notes(o, r, t, a.code, a.machine).map((n) => `- ${n}`);
  process.stdout.write(['', textTable(COLUMNS, rows), '', ...noteLines, ''].join('\n'));
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `failover-${a.stamp}`);
  writeFileSync(`${base}.md`, [`# Failover benchmark, ${new Date().toISOString()}`, '', markdownTable(COLUMNS, rows), '', ...noteLines, ''].join('\n'));
  writeFileSync(`${base}.json`, JSON.stringify({ options: o, timing: t, results: r, code: a.code, machine: a.machine }, null, 2));
  process.stdout.write(`results: ${relative(process.cwd(), base)}.{md,json}\n`);
}
