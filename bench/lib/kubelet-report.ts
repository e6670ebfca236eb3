/**
 * The tables of `npm run bench -- kubelet`: printed, and written to
 * bench/results/kubelet-<date>.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { KubeletBenchOptions } from '../kubelet.bench.js';
import { DOCKER_NS, type DockerPhaseResult, type KubeletRun } from './kubelet-docker-phase.js';
import type { Cores, HeartbeatRun } from './kubelet-hollow-phase.js';
import type { HollowStats, RawStats } from './lease-protocol.js';
import type { RssAfterGc } from './node-child.js';
import type { Summary } from './stats.js';
import { fmt, markdownTable, ratio, textTable, type Row } from './table.js';

/** Issue 3's targets. */
export const TARGETS = { kubeletRssMB: 80, kubeletPods: 100, hollowRssMB: 1024, hollowNodes: 1000 } as const;

const COLUMNS = ['measure', 'Keelson', 'raw baseline', 'ratio', 'target', 'met?'];

const mb = (r: RssAfterGc) => `${fmt(r.rssMB, 1)} MB (${fmt(r.anonMB, 1)} anon + ${fmt(r.fileMB, 1)} file)`;
const heap = (r: RssAfterGc) => `heap ${fmt(r.memory.heapUsed, 1)} used / ${fmt(r.memory.heapTotal, 1)} total, external ${fmt(r.memory.external, 1)} MB`;
/** V8 heap spaces after GC, committed / used: where heapTotal went. */
const spaces = (r: RssAfterGc) => {
  const sp = r.memory.spaces;
  if (!sp) return '';
  const short: Record<string, string> = { new_space: 'new', old_space: 'old', code_space: 'code', large_object_space: 'large' };
  return Object.entries(short)
    .filter(([k]) => sp[k])
    .map(([k, label]) => `${label} ${fmt(sp[k]![0], 1)}/${fmt(sp[k]![1], 1)}`)
    .join(', ');
};
const trio = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} ms`;
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

function dockerRows(d: DockerPhaseResult, o: KubeletBenchOptions): Row[] {
  const rows: Row[] = [];
  const base = (r: KubeletRun) => (r.loader === 'tsx' ? d.baselines.bareNodeTsx : d.baselines.bareNode);
  const baseName = (r: KubeletRun) => (r.loader === 'tsx' ? 'bare node + tsx loader' : 'bare node');
  for (const r of d.runs) {
    const b = base(r);
    const applies = r.pods >= TARGETS.kubeletPods;
    rows.push({
      measure: `kubelet (${r.loader}) RSS after GC, idle, 0 pods`,
      Keelson: mb(r.idle),
      'raw baseline': `${mb(b)} (${baseName(r)})`,
      ratio: ratio(r.idle.rssMB, b.rssMB),
      target: '',
      'met?': '',
    });
    rows.push({
      measure: `kubelet (${r.loader}) RSS after GC, ${r.pods} pods Running`,
      Keelson: mb(r.holding),
      'raw baseline': `${mb(b)} (${baseName(r)})`,
      ratio: ratio(r.holding.rssMB, b.rssMB),
      target: applies ? `≤ ${TARGETS.kubeletRssMB} MB at ${TARGETS.kubeletPods} pods` : '',
      'met?': applies ? yes(r.holding.rssMB <= TARGETS.kubeletRssMB) : '',
    });
    rows.push({
      measure: `  (${r.loader}) heap after GC: idle → ${r.pods} pods; peak RSS`,
      Keelson: `${fmt(r.idle.memory.heapUsed, 1)} → ${fmt(r.holding.memory.heapUsed, 1)} MB used; peak ${fmt(r.peakMB, 1)} MB`,
      'raw baseline': `${fmt(b.memory.heapUsed, 1)} MB used`,
      ratio: '',
      target: '',
      'met?': '',
    });
    rows.push({
      measure: `  (${r.loader}) V8 spaces after GC, ${r.pods} pods, committed/used MB`,
      Keelson: spaces(r.holding),
      'raw baseline': spaces(b),
      ratio: '',
      target: '',
      'met?': '',
    });
  }
  const last = d.runs[d.runs.length - 1];
  if (last) {
    rows.push({
      measure: `${o.pods} pods, ${o.podParallel} creates in flight: first create → all Running`,
      Keelson: d.runs.map((r) => `${fmt(r.allRunningMs / 1000, 1)} s (${r.loader})`).join(', '),
      'raw baseline': '—',
      ratio: '',
      target: '',
      'met?': '',
    });
    rows.push({
      measure: `kubelet cores with ${o.pods} pods, nothing changing`,
      Keelson: d.runs.map((r) => `${fmt(r.steadyCores, 3)} (${r.loader})`).join(', '),
      'raw baseline': '—',
      ratio: '',
      target: '',
      'met?': '',
    });
  }
  return rows;
}

function nodeRows(n: { keelson: HeartbeatRun; raw: HeartbeatRun }, o: KubeletBenchOptions, bareMB?: number): Row[] {
  const k = n.keelson;
  const r = n.raw;
  const hb = o.heartbeatMs;
  const applies = k.nodes >= TARGETS.hollowNodes;
  const onTime = k.heartbeats.nodesOver2Periods === 0 && k.heartbeats.silentNodes === 0 && k.started === k.nodes;
  const perNode = (run: HeartbeatRun) => (bareMB !== undefined ? `; ${fmt(((run.rss.rssMB - bareMB) * 1024) / run.nodes, 0)} KB per node over bare node` : '');
  const stats = k.stats as HollowStats | undefined;
  const rawStats = r.stats as RawStats | undefined;
  return [
    {
      measure: `${k.nodes} nodes started (failed)`,
      Keelson: `${k.started} (${k.failed}) in ${fmt(k.readyMs / 1000, 1)} s, ${o.startParallel} at a time`,
      'raw baseline': `${r.nodes} leases written once in ${fmt(r.readyMs / 1000, 1)} s`,
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: '  all seen renewing by the store watch after',
      Keelson: `${fmt(k.allSeenMs / 1000, 1)} s`,
      'raw baseline': `${fmt(r.allSeenMs / 1000, 1)} s`,
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: '  cores while starting: child / API server / nats-server',
      Keelson: `${fmt(k.startupCores.child)} / ${fmt(k.startupCores.api)} / ${fmt(k.startupCores.nats)}`,
      'raw baseline': `${fmt(r.startupCores.child)} / — / ${fmt(r.startupCores.nats)}`,
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: `RSS after GC of the one process, ${k.nodes} nodes${o.clusterPods ? ` (${o.clusterPods} pods in the cluster)` : ''}`,
      Keelson: `${mb(k.rss)}${perNode(k)}`,
      'raw baseline': `${mb(r.rss)}${perNode(r)}`,
      ratio: ratio(k.rss.rssMB, r.rss.rssMB),
      target: applies ? `≤ 1 GiB at ${TARGETS.hollowNodes} nodes` : '',
      'met?': applies ? yes(k.rss.rssMB <= TARGETS.hollowRssMB) : '',
    },
    { measure: '  heap after GC; peak RSS', Keelson: `${heap(k.rss)}; peak ${fmt(k.peakMB, 0)} MB`, 'raw baseline': `${heap(r.rss)}; peak ${fmt(r.peakMB, 0)} MB`, ratio: '', target: '', 'met?': '' },
    { measure: '  V8 spaces after GC, committed/used MB', Keelson: spaces(k.rss), 'raw baseline': spaces(r.rss), ratio: '', target: '', 'met?': '' },
    {
      measure: `heartbeat interval seen by the watch: p50 / p99 / max (period ${hb} ms)`,
      Keelson: trio(k.heartbeats.interval),
      'raw baseline': trio(r.heartbeats.interval),
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: 'heartbeat lag (interval − period): p50 / p99 / max',
      Keelson: trio(k.heartbeats.lag),
      'raw baseline': trio(r.heartbeats.lag),
      ratio: `${ratio(k.heartbeats.lag.p99, r.heartbeats.lag.p99)} (p99)`,
      target: applies ? `every node renews within 2 periods (${2 * hb} ms)` : '',
      'met?': applies ? yes(onTime) : '',
    },
    {
      measure: '  renewTime → seen by the watch: p50 / p99 / max',
      Keelson: trio(k.heartbeats.delivery),
      'raw baseline': trio(r.heartbeats.delivery),
      ratio: `${ratio(k.heartbeats.delivery.p99, r.heartbeats.delivery.p99)} (p99)`,
      target: '',
      'met?': '',
    },
    {
      measure: '  worst gap per node (open gap at the end included): p50 / p99 / max',
      Keelson: trio(k.heartbeats.worstGapPerNode),
      'raw baseline': trio(r.heartbeats.worstGapPerNode),
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: `  renewals in ${fmt(k.heartbeats.windowMs / 1000, 1)} s (one per period would be); nodes > 2 periods / silent`,
      Keelson: `${k.heartbeats.renewals} (${fmt(k.heartbeats.renewalsAtPeriod, 0)}); ${k.heartbeats.nodesOver2Periods} / ${k.heartbeats.silentNodes}`,
      'raw baseline': `${r.heartbeats.renewals} (${fmt(r.heartbeats.renewalsAtPeriod, 0)}); ${r.heartbeats.nodesOver2Periods} / ${r.heartbeats.silentNodes}`,
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: 'cores in the window: child / API server / nats-server / others',
      Keelson: coresText(k.windowCores),
      'raw baseline': `${fmt(r.windowCores.child)} / — / ${fmt(r.windowCores.nats)} / ${fmt(r.windowCores.other)}`,
      ratio: ratio(k.windowCores.child + k.windowCores.api + k.windowCores.nats, r.windowCores.child + r.windowCores.nats),
      target: '',
      'met?': '',
    },
    {
      measure: '  event loop delay in the child: p50 / p99 / max',
      Keelson: stats ? `${fmt(stats.eventLoopDelayMs.p50)} / ${fmt(stats.eventLoopDelayMs.p99)} / ${fmt(stats.eventLoopDelayMs.max)} ms` : 'n/a',
      'raw baseline': rawStats ? `${fmt(rawStats.eventLoopDelayMs.p50)} / ${fmt(rawStats.eventLoopDelayMs.p99)} / ${fmt(rawStats.eventLoopDelayMs.max)} ms` : 'n/a',
      ratio: '',
      target: '',
      'met?': '',
    },
    {
      measure: '  API server RSS after GC / nats-server RSS',
      Keelson: `${fmt(k.apiRssMB, 1)} / ${fmt(k.natsRssMB, 1)} MB`,
      'raw baseline': `— / ${fmt(r.natsRssMB, 1)} MB`,
      ratio: '',
      target: '',
      'met?': '',
    },
  ];
}

const IMPORT_COLUMNS = ['a bare node that imported', 'RSS after GC', 'over bare node', 'heap used / total', 'external'];

function importRows(d: DockerPhaseResult): Row[] {
  const bare = d.baselines.bareNode;
  return [{ label: 'nothing (bare node)', rss: bare }, ...d.imports].map(({ label, rss }) => ({
    'a bare node that imported': label,
    'RSS after GC': mb(rss),
    'over bare node': `+${fmt(rss.rssMB - bare.rssMB, 1)} MB`,
    'heap used / total': `${fmt(rss.memory.heapUsed, 1)} / ${fmt(rss.memory.heapTotal, 1)} MB`,
    external: `${fmt(rss.memory.external, 1)} MB`,
  }));
}

function coresText(c: Cores): string {
  return `${fmt(c.child)} / ${fmt(c.api)} / ${fmt(c.nats)} / ${fmt(c.other)}`;
}

export function writeKubeletReport(input: {
  options: KubeletBenchOptions;
  docker?: DockerPhaseResult;
  nodes?: { keelson: HeartbeatRun; raw: HeartbeatRun };
  code: string;
  machine: string;
  stamp: string;
}): void {
  const { options: o, docker: d, nodes: n } = input;
  const rows: Row[] = [...(d ? dockerRows(d, o) : []), ...(n ? nodeRows(n, o, d?.baselines.bareNode.rssMB) : [])];
  const notes: string[] = [`Code measured: ${input.code}, from a temporary tsc build (the API server too). Machine: ${input.machine}. One nats-server (JetStream, file storage, R1).`];
  if (o.nodeArgs.length) notes.push(`Extra node flags for the kubelet and hollow-node children (not the baselines): ${o.nodeArgs.join(' ')}.`);
  if (d) {
    notes.push(
      `Docker kubelet: \`bench/lib/kubelet-child.ts\` (startKubelet + DockerRuntime on a private bridge network) as a child process, compiled (\`node <build>/bench/lib/kubelet-child.js\`) and/or through tsx (\`node --import tsx\`). Pods: busybox \`sleep 3600\`, IfNotPresent, spec.nodeName set, grace 1 s, ${o.podParallel} creates in flight; "Running" as seen by a store watch.`,
      `"RSS after GC": --expose-gc and a one-line preload that runs gc() on SIGUSR2 (bench/lib/child-memory.ts), then VmRSS after 1 s; ${o.settleMs / 1000} s of quiet before. anon = RssAnon (the process's own pages), file = RssFile + RssShmem (mostly the node binary's code, shared with every node process). Raw baseline: bench/lib/idle-child.ts, a Node.js process doing nothing, with the same preload (compiled, and through tsx for the tsx rows).`,
      `Cleanup: pods deleted through the API (${d.leftovers.pods} left listed), kubelets stopped, every container labelled io.keelson.namespace=${DOCKER_NS} force-removed (${d.leftovers.containers} were there before that), network removed.`,
    );
  }
  if (n) {
    const k = n.keelson;
    notes.push(
      `${o.clusterPods ? `${o.clusterPods} pending pods (no nodeName, ~1 KiB of JSON each) exist in the cluster before the hollow nodes start: each kubelet's pod informer receives all of them (one store watch per kubelet) and caches only the pods bound to its node. ` : 'The cluster holds no pods during this phase. '}Hollow nodes: bench/lib/hollow-nodes-child.ts (compiled) starts ${k.nodes} kubelets with \`startKubelet\` + \`new FakeRuntime()\` each (so ${k.nodes} NATS connections, pod informers and lifecycle actors), heartbeat ${o.heartbeatMs} ms, status ${o.statusMs} ms. Raw baseline: bench/lib/raw-leases-child.ts, ${n.raw.nodes} leases renewed with \`kv.put\` of a protobuf Lease on one NATS connection, each ${o.heartbeatMs} ms after its previous put finished (the kubelet's schedule), first puts spread over one period; its own bucket on the same nats-server.`,
      `Heartbeats are watched as the node controller would: a store watch (the informers' ordered consumer) on leases in kube-node-lease, in the bench process. Interval = time between two consecutive renewals of one node as they arrive; lag = interval − ${o.heartbeatMs} ms (the kubelet waits one period after each renewal finished, so the API round trip is part of the lag). "On time" = no node went more than 2 periods without a renewal (the lease lasts 40 s, Kubernetes' node-monitor-grace-period is 40 s). Window: ${o.windowMs / 1000} s, after ${o.settleMs / 1000} s of quiet.`,
    );
    const s = k.stats as HollowStats | undefined;
    if (s) notes.push(`Hollow kubelets after the window: ${s.ready} of ${s.kubelets} Ready, ${s.leaseFailuresNow} failing renewals now${s.errors.length ? `; last errors: ${s.errors.map(([e, c]) => `${c}× ${e}`).join('; ')}` : ''}.${k.firstError ? ` First start failure: ${k.firstError}.` : ''}`);
    notes.push(`Cores are CPU seconds per wall second from /proc; "others" is every other process on the machine (the bench process left out) — anything above ~0.15 outside the bench means a noisy run.`);
  }
  const imports = d?.imports.length ? importRows(d) : [];
  const text = textTable(COLUMNS, rows) + (imports.length ? `\n\n${textTable(IMPORT_COLUMNS, imports)}` : '');
  process.stdout.write(`\n${text}\n\n${notes.map((x) => `- ${x}`).join('\n')}\n`);
  const profiles = n ? [n.keelson.profile, n.raw.profile].filter((p) => p !== undefined) : [];
  const profileText = profiles.map((p) => `${p.startup}\n\n${p.window}`).join('\n\n');
  if (profileText) process.stdout.write(`\n${profileText}\n`);
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `kubelet-${input.stamp}`);
  writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), options: o, code: input.code, machine: input.machine, docker: d, nodes: n, table: rows, notes }, null, 2) + '\n');
  const md = [
    `# Kubelet benchmark, ${new Date().toISOString()}`,
    '',
    markdownTable(COLUMNS, rows),
    ...(imports.length ? ['', '## What loading the code costs', '', markdownTable(IMPORT_COLUMNS, imports)] : []),
    '',
    ...notes.map((x) => `- ${x}`),
    ...(profileText ? ['', '## Profiles', '', '```', profileText, '```'] : []),
    '',
  ];
  writeFileSync(`${base}.md`, md.join('\n'));
  process.stdout.write(`\nwrote ${relative(process.cwd(), base)}.json and .md\n`);
}
