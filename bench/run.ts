/**
 * The benchmark front door: `npm run bench -- <name> [flags]` runs
 * bench/<name>.bench.ts; with no name it lists the scenarios. A new scenario is
 * a new `<name>.bench.ts` file beside this one whose default export is a
 * Scenario (bench/lib/scenario.ts). Benchmarks are not tests: `npm test` never
 * runs them.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Scenario } from './lib/scenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const SUFFIX = '.bench.ts';

async function load(file: string): Promise<Scenario> {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default?: Scenario };
  if (!mod.default || typeof mod.default.run !== 'function') throw new Error(`${file} has no default export with run()`);
  return mod.default;
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  const files = readdirSync(here)
    .filter((f) => f.endsWith(SUFFIX))
    .sort();
  const names = files.map((f) => f.slice(0, -SUFFIX.length));
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write('Usage: npm run bench -- <scenario> [flags]   (--help after a scenario lists its flags)\n\nScenarios:\n');
    for (const f of files) {
      const s = await load(f);
      process.stdout.write(`  ${s.name.padEnd(12)} ${s.description}\n`);
    }
    return name ? 0 : 0;
  }
  if (!names.includes(name)) {
    process.stderr.write(`unknown scenario "${name}"; there are: ${names.join(', ') || '(none)'}\n`);
    return 2;
  }
  const scenario = await load(`${name}${SUFFIX}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`npm run bench -- ${scenario.name} [flags]\n${scenario.description}\n\n${scenario.usage ?? '(no flags)'}\n`);
    return 0;
  }
  await scenario.run(rest);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
