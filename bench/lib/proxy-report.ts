/**
 * The tables of `npm run bench -- proxy`: printed, and written to
 * bench/results/proxy-<date>.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ProxyBenchOptions } from '../proxy.bench.js';
import type { DataPhaseResult } from './proxy-data-phase.js';
import type { IptablesPhaseResult } from './proxy-iptables-phase.js';
import { median, type Cores, type TargetFigures } from './proxy-load.js';
import { NODE_PORT_RANGE, type SyncPhaseResult, type SyncVariant } from './proxy-sync-phase.js';
import type { Summary } from './stats.js';
import { fmt, markdownTable, ratio, textTable, type Row } from './table.js';

/** Tracker issue 5's targets. */
export const TARGET = { userspaceVsHaproxy: 0.8, iptablesVsDirect: 0.95, syncP99Ms: 100 } as const;

export type ProxyResults = {
  data?: DataPhaseResult;
  iptables?: IptablesPhaseResult;
  sync?: SyncPhaseResult;
  skipped: string[];
};

const COLUMNS = ['measure', 'Keelson', 'baseline (same run)', 'ratio', 'target', 'met?'];
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
const mbps = (f: TargetFigures) => `${fmt(f.bulkMBps)} MB/s`;
const cps = (f: TargetFigures) => `${fmt(f.rrPerSec)}/s`;
const lat = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} ms`;
const spread = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} ms`;
/**
 * a/b per round (each round measures both back to back), their median — the
 * figure the verdict uses, steadier than a ratio of medians when the machine
 * drifts — and the rounds' values.
 */
function paired(a: number[], b: number[]): { value: number; text: string } {
  const per = a.map((x, i) => x / b[i]!);
  const value = median(per);
  return { value, text: `${ratio(value, 1)} (${per.map((r) => r.toFixed(2)).join(', ')})` };
}
const errs = (f: TargetFigures) => (f.errors ? ` (${f.errors} errors: ${f.firstError})` : '');

function dataRows(o: ProxyBenchOptions, d: DataPhaseResult): Row[] {
  const by = (id: string) => d.figures.find((f) => f.id === id)!;
  const k = by('keelson');
  const direct = by('direct');
  const haproxies = d.haproxy.instances.map((i) => ({ ...i, f: by(i.id), name: `haproxy ${i.threads}T` }));
  const rows: Row[] = [];
  for (const h of haproxies) {
    const bulk = paired(k.bulkRuns, h.f.bulkRuns);
    rows.push({
      measure: `user space: bulk throughput, ${o.connections} connections (median of ${o.rounds} × ${o.seconds} s), vs haproxy with ${h.threads} thread${h.threads > 1 ? 's' : ''}`,
      Keelson: mbps(k) + errs(k),
      'baseline (same run)': `${h.name} ${mbps(h.f)}${errs(h.f)}; direct ${mbps(direct)}`,
      ratio: bulk.text,
      target: `≥ ${TARGET.userspaceVsHaproxy}× haproxy`,
      'met?': yes(bulk.value >= TARGET.userspaceVsHaproxy),
    });
  }
  for (const h of haproxies) {
    const rr = paired(k.rrRuns, h.f.rrRuns);
    rows.push({
      measure: `user space: new connections (connect, 2 B request, 64 B answer, close), ${o.inFlight} in flight, vs haproxy with ${h.threads} thread${h.threads > 1 ? 's' : ''}`,
      Keelson: cps(k) + errs(k),
      'baseline (same run)': `${h.name} ${cps(h.f)}${errs(h.f)}; direct ${cps(direct)}`,
      ratio: rr.text,
      target: `≥ ${TARGET.userspaceVsHaproxy}× haproxy`,
      'met?': yes(rr.value >= TARGET.userspaceVsHaproxy),
    });
  }
  const one = by('keelson1');
  const fwdBulk = paired(k.bulkRuns, one.bulkRuns);
  const fwdRr = paired(k.rrRuns, one.rrRuns);
  rows.push(
    {
      measure: `user space: what its ${d.keelson.processes - 1} forwarder process(es) add: bulk, vs the same proxy in one process (--forwarders 0)`,
      Keelson: mbps(k),
      'baseline (same run)': `one process ${mbps(one)}${errs(one)}`,
      ratio: fwdBulk.text,
    },
    {
      measure: 'user space: the same for new connections',
      Keelson: cps(k),
      'baseline (same run)': `one process ${cps(one)}${errs(one)}`,
      ratio: fwdRr.text,
    },
  );
  const each = (fn: (h: (typeof haproxies)[number]) => string) => haproxies.map((h) => `${h.name} ${fn(h)}`).join('; ');
  rows.push(
    { measure: 'user space: the same, latency p50 / p99', Keelson: lat(k.rrLatency), 'baseline (same run)': `${each((h) => lat(h.f.rrLatency))}; direct ${lat(direct.rrLatency)}` },
    {
      measure: 'user space: cores used by the proxy, bulk / new connections',
      Keelson: `${fmt(k.cores.bulk.keelson ?? NaN)} / ${fmt(k.cores.rr.keelson ?? NaN)}`,
      'baseline (same run)': `${each((h) => `${fmt(h.f.cores.bulk[h.id] ?? NaN)} / ${fmt(h.f.cores.rr[h.id] ?? NaN)}`)}; one process ${fmt(one.cores.bulk.keelson1 ?? NaN)} / ${fmt(one.cores.rr.keelson1 ?? NaN)}`,
    },
    {
      measure: 'user space: proxy RSS at the end of the loads / after a forced GC',
      Keelson: `${fmt(d.keelson.rssMB, 1)} MB (peak ${fmt(d.keelson.peakRssMB, 1)}) / ${fmt(d.keelson.afterGc.rssMB, 1)} MB (V8 heap ${fmt(d.keelson.afterGc.memory.heapUsed, 1)} MB used, young generation ${fmt(d.keelson.afterGc.memory.spaces?.new_space?.[0] ?? NaN, 0)} MB kept)`,
      'baseline (same run)': `${each((h) => `${fmt(h.rssMB, 1)} MB`)}; one process ${fmt(d.oneProcessRssMB, 1)} MB`,
    },
  );
  return rows;
}

function iptablesRows(o: ProxyBenchOptions, r: IptablesPhaseResult): Row[] {
  if ('skipped' in r) return [{ measure: 'iptables: skipped', Keelson: r.skipped }];
  const by = (id: string) => r.figures.find((f) => f.id === id)!;
  const rows: Row[] = [];
  for (const [set, label] of [
    ['one', '1 service port'],
    ['many', `${o.services} service ports, the measured one last`],
  ] as const) {
    const c = by(`cluster-${set}`);
    const d = by(`direct-${set}`);
    const bulk = paired(c.bulkRuns, d.bulkRuns);
    const rr = paired(c.rrRuns, d.rrRuns);
    rows.push(
      {
        measure: `iptables: bulk throughput to the cluster IP, ${label}`,
        Keelson: mbps(c) + errs(c),
        'baseline (same run)': `direct to an endpoint ${mbps(d)}${errs(d)}`,
        ratio: bulk.text,
        target: `≥ ${TARGET.iptablesVsDirect}× direct`,
        'met?': yes(bulk.value >= TARGET.iptablesVsDirect),
      },
      {
        measure: `iptables: new connections to the cluster IP, ${label}`,
        Keelson: `${cps(c)}${errs(c)}, p50 / p99 ${lat(c.rrLatency)}`,
        'baseline (same run)': `direct ${cps(d)}${errs(d)}, ${lat(d.rrLatency)}`,
        ratio: rr.text,
        target: `≥ ${TARGET.iptablesVsDirect}× direct`,
        'met?': yes(rr.value >= TARGET.iptablesVsDirect),
      },
    );
  }
  return rows;
}

function syncRows(o: ProxyBenchOptions, s: SyncPhaseResult): Row[] {
  const rows: Row[] = [];
  for (const v of s.variants) {
    const what = v.backend === 'userspace' ? 'user space (node ports on 127.0.0.1)' : 'iptables (in a network namespace)';
    rows.push(
      {
        measure: `sync, ${what}: write call → synced, p50 / p99 / max (${v.samples.length} changes, ${fmt(o.services, 0)} Services)`,
        Keelson: spread(v.synced),
        'baseline (same run)': `write call → a bare store watch saw it: ${spread(v.seen)}`,
        ratio: ratio(v.synced.p99, v.seen.p99),
        target: `p99 ≤ ${TARGET.syncP99Ms} ms`,
        'met?': yes(v.synced.p99 <= TARGET.syncP99Ms),
      },
      {
        measure: `sync, ${what}: Endpoints changes / Service changes, p50 / p99`,
        Keelson: `${lat(v.syncedByResource.endpoints)}; ${lat(v.syncedByResource.services)}`,
        'baseline (same run)': `the write's own round trip ${lat(v.write)}`,
      },
      { measure: `sync, ${what}: the proxy's own figure (change seen → sync done), p50 / p99`, Keelson: lat(v.proxy) },
      ...(v.backend === 'iptables' ? [iptablesSyncParts(v)] : []),
      {
        measure: `sync, ${what}: first full sync (informers synced + first sync of ${fmt(v.first.servicePorts)} service ports)`,
        Keelson: `${fmt(v.first.proxyStartMs)} ms (the backend's part ${fmt(v.first.backendFirstSyncMs)} ms${firstDetail(v)})`,
        'baseline (same run)': `bare watches replayed all ${fmt(v.first.rawObjects)} objects in ${fmt(v.first.rawWatchSyncMs)} ms`,
      },
    );
  }
  for (const why of s.skipped) rows.push({ measure: `sync: ${why.split(':')[0]} skipped`, Keelson: why });
  return rows;
}

/** The last sync's parts: a partial sync writes only the changed ports' rules and reads nothing; a full one reads both tables and rewrites all. */
function iptablesSyncParts(v: SyncVariant): Row {
  const r = (v.stats as { backend?: { partial: boolean; readMs: number; generateMs: number; restoreMs: number; totalMs: number; chains: number; rules: number } }).backend;
  if (!r) return { measure: 'sync, iptables: the last sync (no report)' };
  return {
    measure: 'sync, iptables: the last sync, iptables-save + generate + iptables-restore',
    Keelson: `${fmt(r.readMs, 0)} + ${fmt(r.generateMs, 0)} + ${fmt(r.restoreMs, 0)} = ${fmt(r.totalMs, 0)} ms (${r.partial ? 'partial: only the changed port\'s rules written, of' : 'full: all of'} ${fmt(r.chains, 0)} chains, ${fmt(r.rules, 0)} rules)`,
  };
}

function firstDetail(v: SyncVariant): string {
  if (v.backend === 'userspace') return `; ${fmt(v.first.listeners ?? NaN, 0)} sockets listening, ${fmt(v.first.pendingListeners ?? NaN, 0)} not`;
  return `; ${fmt(v.first.chains ?? NaN, 0)} chains, ${fmt(v.first.rules ?? NaN, 0)} rules`;
}

const CORE_COLS = ['phase', 'target', 'load', 'client', 'servers', 'proxy', 'softirq', 'other', 'bench'];

function coreRows(phase: string, figures: TargetFigures[]): Row[] {
  const rows: Row[] = [];
  for (const f of figures) {
    for (const kind of ['bulk', 'rr'] as const) {
      const c: Cores = f.cores[kind];
      const proxy = f.id === 'keelson' || f.id === 'keelson1' || f.id.startsWith('haproxy') ? c[f.id] : undefined;
      rows.push({
        phase,
        target: f.label,
        load: kind === 'bulk' ? 'bulk' : 'new conns',
        client: fmt(c.client ?? NaN),
        servers: fmt(c.servers ?? NaN),
        proxy: proxy === undefined ? '—' : fmt(proxy),
        softirq: fmt(c.softirq ?? NaN),
        other: fmt(c.other ?? NaN),
        bench: fmt(c.bench ?? NaN),
      });
    }
  }
  return rows;
}

function syncCoreLines(s: SyncPhaseResult): string[] {
  return s.variants.map(
    (v) =>
      `Sync ${v.backend}: cores during the changes — ${Object.entries(v.cores)
        .map(([k, c]) => `${k} ${fmt(c)}`)
        .join(', ')}; proxy RSS ${fmt(v.rssMB, 1)} MB; ${JSON.stringify((v.stats as { proxy?: unknown }).proxy)}; log: ${JSON.stringify((v.stats as { log?: unknown }).log)}.`,
  );
}

function notes(o: ProxyBenchOptions, r: ProxyResults, code: string, machine: string): string[] {
  const out = [`Code measured: ${code}. Machine: ${machine}.`];
  if (r.data) {
    out.push(
      `User space: three backend servers in one child; Keelson's UserspaceBackend (compiled) in its own child with its forwarder processes (as \`keelson proxy\` runs it: one per core beyond the first, accepting while bulk traffic keeps the proxy busy), one service port whose node port listens on 127.0.0.1, round robin over the three; the same in one process (--forwarders 0) as a second child; ${r.data.haproxy.version}, mode tcp, balance roundrobin, same backends, one instance per nbthread (${r.data.haproxy.instances.map((i) => i.threads).join(', ')}; "haproxy NT" = N threads); direct = the first backend. All on 127.0.0.1.`,
      `Load (a client child of its own, Node.js, one reused read buffer per connection): bulk = ${o.connections} connections each asking for ${o.bulkMB} MB (the next one when done), bytes received in ${o.seconds} s; new connections = a closed loop, ${o.inFlight} in flight, for ${o.seconds} s. ${o.rounds} rounds after a ${WARMUP_S} s warm-up of each target, targets interleaved, the order rotated each round; figures are the median round, latencies over all rounds; a ratio is the median of the rounds' own ratios (both targets measured back to back), the rounds' values in brackets.`,
      `Keelson's proxy after the run: ${JSON.stringify(r.data.keelson.stats)}.`,
    );
  }
  if (r.iptables && !('skipped' in r.iptables)) {
    const i = r.iptables;
    out.push(
      `iptables: ${i.family}; network namespace ${i.netns} (deleted): veth pair with both ends inside (MTU 65535, like lo's), 192.0.2.1/24 + endpoints 192.0.2.11-13:8080, route 10.96.0.0/16 to it; cluster IP 10.96.0.10:80. Servers and client run inside (ip netns exec); rules by IptablesBackend through netnsRunner. Rule sets: 1 service port (${i.syncOne?.rules} rules) and ${o.services} (${i.syncMany?.chains} chains, ${i.syncMany?.rules} rules, written in ${fmt(i.syncMany?.totalMs ?? NaN, 0)} ms).`,
    );
  }
  if (r.sync) {
    out.push(
      `Sync: own nats-server and API server (compiled); ${fmt(o.services)} selector-less NodePort Services (node ports ${NODE_PORT_RANGE}) + Endpoints (2-3 addresses in 192.0.2.0/24, never connected to) created in ${fmt(r.sync.createMs / 1000, 1)} s. The front door (startProxy) in a child; ${o.changes} changes, one at a time, alternating Endpoints (2 ↔ 3 new addresses) and Service (port 80 ↔ 81), ${o.gapMs}-${2 * o.gapMs} ms apart after each was synced. "Synced": the first onSync after which the service port carries the change; "bare watch": store watches on services and endpoints in the same child, same NATS connection. Clock: CLOCK_MONOTONIC in both processes.`,
      ...syncCoreLines(r.sync),
    );
  }
  out.push(...r.skipped.map((s) => `Skipped: ${s}.`));
  out.push(
    'On this 2-core machine client, servers and proxy share the CPU: the cores table says what each used per load; softirq is the kernel receiving on loopback; "other" is every other process (another session\'s tests: above ~0.2 the run is disturbed).',
  );
  return out;
}

export const WARMUP_S = 1;

export function writeProxyReport(a: { options: ProxyBenchOptions; results: ProxyResults; code: string; machine: string; stamp: string }): void {
  const { options: o, results: r } = a;
  const rows = [...(r.data ? dataRows(o, r.data) : []), ...(r.iptables ? iptablesRows(o, r.iptables) : []), ...(r.sync ? syncRows(o, r.sync) : [])];
  const cores = [...(r.data ? coreRows('user space', r.data.figures) : []), ...(r.iptables && !('skipped' in r.iptables) ? coreRows('iptables', r.iptables.figures) : [])];
  const noteLines = notes(o, r, a.code, a.machine).map((n) => `- ${n}`);
  const profile = r.data?.profile ?? [];
  process.stdout.write(['', textTable(COLUMNS, rows), '', ...noteLines, '', 'Cores per load (mean over rounds):', textTable(CORE_COLS, cores), '', ...profile, ''].join('\n'));
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `proxy-${a.stamp}`);
  writeFileSync(
    `${base}.md`,
    [
      `# Proxy benchmark, ${new Date().toISOString()}`,
      '',
      markdownTable(COLUMNS, rows),
      '',
      ...noteLines,
      '',
      '## Cores per load (mean over rounds)',
      '',
      markdownTable(CORE_COLS, cores),
      ...(profile.length ? ['', '## CPU profile of the user-space proxy', '', '```', ...profile, '```'] : []),
      '',
    ].join('\n'),
  );
  writeFileSync(`${base}.json`, JSON.stringify({ options: o, results: r, code: a.code, machine: a.machine }, null, 2));
  process.stdout.write(`results: ${relative(process.cwd(), base)}.{md,json}\n`);
}
