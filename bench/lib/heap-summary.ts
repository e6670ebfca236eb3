/**
 * What a V8 heap snapshot holds, by self size: per node type (code, strings,
 * arrays, objects...) and per constructor / string / code name. No retained
 * sizes (no dominator tree): enough to see where the bytes are, not who holds
 * them. As a command:
 *
 *   node --import tsx bench/lib/heap-summary.ts <file.heapsnapshot> [top]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Snapshot = {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
};

export type HeapSummary = {
  totalMB: number;
  byType: [string, number, number][];
  byName: [string, number, number][];
};

/** [label, MB, count] rows, largest first. */
export function summarizeHeap(file: string, top = 25): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const byType = new Map<string, [number, number]>();
  const byName = new Map<string, [number, number]>();
  let total = 0;
  const add = (m: Map<string, [number, number]>, k: string, size: number) => {
    const e = m.get(k) ?? [0, 0];
    e[0] += size;
    e[1]++;
    m.set(k, e);
  };
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    const size = s.nodes[i + iSize]!;
    total += size;
    add(byType, type, size);
    const raw = s.strings[s.nodes[i + iName]!] ?? '';
    // Strings are named by their text: group them by type and a short prefix.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? `${type}: ${raw.slice(0, 60).replace(/\s+/g, ' ')}` : `${type}: ${raw.slice(0, 80)}`;
    add(byName, name, size);
  }
  const rows = (m: Map<string, [number, number]>) =>
    [...m.entries()]
      .sort((a, b) => b[1][0] - a[1][0])
      .slice(0, top)
      .map(([k, [size, count]]) => [k, size / 1048576, count] as [string, number, number]);
  return { totalMB: total / 1048576, byType: rows(byType), byName: rows(byName) };
}

export function formatHeapSummary(title: string, h: HeapSummary): string {
  const line = ([k, mb, n]: [string, number, number]) => `  ${mb.toFixed(2).padStart(7)} MB  ${String(n).padStart(8)}×  ${k}`;
  return [`### ${title}: ${h.totalMB.toFixed(1)} MB in the snapshot (self sizes)`, 'by node type:', ...h.byType.map(line), 'by name:', ...h.byName.map(line)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/heap-summary.ts <file.heapsnapshot> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatHeapSummary(file, summarizeHeap(file, Number(top ?? 25)))}\n`);
}
