/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went in a
 * window of it: self time per function, per package or project file, and the
 * inclusive time of the project's own functions. Profile timestamps are µs on
 * CLOCK_MONOTONIC, the clock `nowMs()` reads, so benchmark phases map onto them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
export type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type ProfileSlice = {
  /** Sampled time in the window, ms (idle included). */
  totalMs: number;
  /** Of which not idle, ms. */
  busyMs: number;
  /** Self time by function, busiest first: [label, ms]. */
  topSelf: [string, number][];
  /** Self time by package / project file / V8 bucket. */
  byArea: [string, number][];
  /** Inclusive time of project functions (services/, statecharts/). */
  topProjectInclusive: [string, number][];
};

/** The largest .cpuprofile in `dir` (the main thread's; loader threads write small ones). */
export function loadLargestProfile(dir: string): { file: string; profile: CpuProfile } | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ f: join(dir, f), size: statSync(join(dir, f)).size }))
    .sort((a, b) => b.size - a.size);
  if (!files.length) return undefined;
  return { file: files[0]!.f, profile: JSON.parse(readFileSync(files[0]!.f, 'utf8')) as CpuProfile };
}

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  return u;
}

function area(url: string, root: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/builtin)';
  if (url.startsWith('node:')) return 'node: internals';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  return shortUrl(url, root);
}

export function sliceProfile(p: CpuProfile, fromUs: number, toUs: number, root: string, top = 15): ProfileSlice {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode) => {
    const cf = n.callFrame;
    const where = shortUrl(cf.url, root);
    return where ? `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}` : cf.functionName || '(anonymous)';
  };
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const weight = p.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs || weight <= 0) continue;
    const node = byId.get(p.samples[i]!)!;
    totalUs += weight;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idleUs += weight;
      continue;
    }
    const l = label(node);
    self.set(l, (self.get(l) ?? 0) + weight);
    const a = area(node.callFrame.url, root, fn);
    areas.set(a, (areas.get(a) ?? 0) + weight);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const u = n.callFrame.url;
      if (!u.includes('/services/') && !u.includes('/statecharts/')) continue;
      if (u.includes('node_modules')) continue;
      const key = label(n);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + weight);
    }
  }
  const topOf = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, v / 1000] as [string, number]);
  return { totalMs: totalUs / 1000, busyMs: (totalUs - idleUs) / 1000, topSelf: topOf(self), byArea: topOf(areas), topProjectInclusive: topOf(inclusive) };
}

/** A readable block: the busiest areas and functions of one window. */
export function formatSlice(title: string, s: ProfileSlice): string {
  const pct = (ms: number) => `${((100 * ms) / (s.busyMs || 1)).toFixed(1).padStart(5)}%`;
  const lines = [`### ${title}: ${s.busyMs.toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms sampled`];
  lines.push('self time by area:');
  for (const [k, v] of s.byArea.slice(0, 10)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('self time by function:');
  for (const [k, v] of s.topSelf) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('inclusive time of Keelson functions:');
  for (const [k, v] of s.topProjectInclusive) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}
