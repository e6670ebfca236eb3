/**
 * `npm run coverage:statecharts`: for each statechart, how many of its states
 * and transitions the generated paths cover (statecharts/testing/), as a
 * table; exits 1 when any is below 100 %, naming what is missed.
 */
import { STATECHARTS } from '../statecharts/index.js';
import { transitionCoverage } from '../statecharts/testing/coverage.js';
import { COVERAGE_MODELS } from '../statecharts/testing/models.js';

const pct = (a: number, b: number) => `${b === 0 ? 100 : Math.floor((1000 * a) / b) / 10} %`;
const rows: string[][] = [['machine', 'states', '%', 'transitions', '%']];
const missed: string[] = [];
for (const { name, machine } of STATECHARTS) {
  const cov = transitionCoverage(machine, COVERAGE_MODELS[name] ?? {});
  const reached = cov.states.filter((s) => cov.reached.has(s)).length;
  const taken = cov.all.length - cov.missing.length;
  rows.push([name, `${reached}/${cov.states.length}`, pct(reached, cov.states.length), `${taken}/${cov.all.length}`, pct(taken, cov.all.length)]);
  for (const s of cov.states.filter((x) => !cov.reached.has(x))) missed.push(`${name}: state ${s} not reached`);
  for (const t of cov.missing) missed.push(`${name}: transition ${t} not taken`);
  if (!COVERAGE_MODELS[name]) missed.push(`${name}: no coverage model in statecharts/testing/models.ts`);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
if (missed.length) {
  console.error(`\nbelow 100 %:\n  ${missed.join('\n  ')}`);
  process.exit(1);
}
