#!/usr/bin/env node
// Runs every test file with Node's own test runner (Node 20 does not expand
// globs itself). `npm test -- unit` runs only the files whose path contains
// "unit"; the TAP summary (# pass / # fail) is what CI reads, and below it every
// failed test once more with its error (scripts/test-failures-reporter.mjs).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('test')
  .concat(walk('statecharts'))
  .concat(walk('services'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const reporters = [
  '--test-reporter=tap', '--test-reporter-destination=stdout',
  `--test-reporter=${new URL('./test-failures-reporter.mjs', import.meta.url).href}`, '--test-reporter-destination=stdout',
];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
