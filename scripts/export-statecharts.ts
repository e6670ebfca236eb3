/**
 * Writes every statechart's exports to statecharts/exports/ (run by `npm run
 * build` and `npm run statecharts`). With --check, writes nothing and exits 1
 * when a committed export differs from what the machines say.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { allExports, EXPORTS_DIR } from '../statecharts/export/index.js';

const check = process.argv.includes('--check');
const stale: string[] = [];
mkdirSync(EXPORTS_DIR, { recursive: true });
for (const e of allExports()) {
  let current: string | undefined;
  try {
    current = readFileSync(e.path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === e.text) continue;
  stale.push(relative(process.cwd(), e.path));
  if (!check) writeFileSync(e.path, e.text);
}
if (check && stale.length) {
  console.error(`stale statechart exports (run \`npm run statecharts\`):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(stale.length ? `statecharts: wrote ${stale.join(', ')}` : 'statecharts: exports up to date');
