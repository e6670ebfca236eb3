/**
 * The front door of the statechart exports: a machine by name, in a format,
 * and where its committed export lives (statecharts/exports/NAME.EXT).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { statechart, STATECHARTS } from '../index.js';
import { readChart, type Chart } from './chart.js';
import { EXTENSIONS, FORMATS, render, type Format } from './formats.js';

export { FORMATS, type Format } from './formats.js';
export { readChart, allStates, type Chart, type ChartState, type ChartTransition } from './chart.js';
export { mermaidId } from './formats.js';

export const EXPORTS_DIR = fileURLToPath(new URL('../exports/', import.meta.url));

export function chartOf(name: string): Chart {
  const s = statechart(name);
  if (!s) throw new Error(`no statechart "${name}"; there are: ${STATECHARTS.map((c) => c.name).join(', ')}`);
  return readChart(s.machine, s.description);
}

export function exportChart(name: string, format: Format): string {
  if (!FORMATS.includes(format)) throw new Error(`unknown format "${format}"; use one of ${FORMATS.join(', ')}`);
  return render(chartOf(name), format);
}

/** Every committed export: its path and what it must hold. */
export function allExports(): { name: string; format: Format; path: string; text: string }[] {
  return STATECHARTS.flatMap(({ name }) =>
    FORMATS.map((format) => ({ name, format, path: join(EXPORTS_DIR, `${name}.${EXTENSIONS[format]}`), text: exportChart(name, format) })),
  );
}
