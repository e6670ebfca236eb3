/**
 * `keelson statechart`: Keelson's statecharts as XState JSON, SCXML or Mermaid
 * (the same text as the committed exports in statecharts/exports/).
 */
import { parseArgs } from 'node:util';
import { STATECHARTS } from '../../statecharts/index.js';
import { exportChart, FORMATS, type Format } from '../../statecharts/export/index.js';

export const STATECHART_HELP = `  statechart NAME    Print a statechart: pod, container, node, leader, kubelet, apiserver
      --format F         json (an XState machine config) | scxml | mermaid (default json)
      --list             the statecharts there are, one per line with what each models
`;

type Write = (text: string) => void;

/** Returns the exit code: 0, or 2 for a usage error (said on `err`). */
export function runStatechart(argv: string[], out: Write = (s) => void process.stdout.write(s), err: Write = (s) => void process.stderr.write(s)): number {
  let values: { format?: string; list?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: 'string', short: 'f' }, list: { type: 'boolean' } } }));
  } catch (e) {
    err(`error: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.list) {
    const width = Math.max(...STATECHARTS.map((s) => s.name.length));
    for (const s of STATECHARTS) out(`${s.name.padEnd(width)}  ${s.description}\n`);
    return 0;
  }
  const [name, extra] = positionals;
  const format = (values.format ?? 'json') as Format;
  const problem =
    name === undefined ? 'which statechart? (`keelson statechart --list` lists them)'
    : extra !== undefined ? `one statechart at a time (got "${name}" and "${extra}")`
    : !STATECHARTS.some((s) => s.name === name) ? `no statechart "${name}"; there are: ${STATECHARTS.map((s) => s.name).join(', ')}`
    : !FORMATS.includes(format) ? `unknown format "${format}"; use one of ${FORMATS.join(', ')}`
    : undefined;
  if (problem) {
    err(`error: ${problem}\n`);
    return 2;
  }
  out(exportChart(name!, format));
  return 0;
}
