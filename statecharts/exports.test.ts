/**
 * The committed exports (statecharts/exports/) are what the machines say, and
 * each format carries the whole machine: the JSON reads back into XState with
 * the same transitions, the SCXML and Mermaid name every state and transition.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { test } from 'node:test';
import { createMachine } from 'xstate';
import { runStatechart } from '../services/cli/statechart-command.js';
import { allExports, allStates, chartOf, exportChart, mermaidId } from './export/index.js';
import { STATECHARTS } from './index.js';
import { allTransitions } from './testing/coverage.js';

test('every committed export is current (else: npm run statecharts, and commit)', () => {
  const stale = allExports().filter((e) => {
    try {
      return readFileSync(e.path, 'utf8') !== e.text;
    } catch {
      return true;
    }
  });
  assert.deepEqual(stale.map((e) => relative(process.cwd(), e.path)), []);
});

for (const { name, machine } of STATECHARTS) {
  test(`${name}: the JSON export reads back into XState with the same transitions`, () => {
    const back = createMachine(JSON.parse(exportChart(name, 'json')));
    assert.deepEqual(allTransitions(back).sort(), allTransitions(machine).sort());
  });

  test(`${name}: SCXML names every state and has one <transition> per transition`, () => {
    const scxml = exportChart(name, 'scxml');
    const chart = chartOf(name);
    for (const s of allStates(chart)) assert.match(scxml, new RegExp(`<(state|parallel|final|history) id="${s.id.replace(/\./g, '\\.')}"`), s.id);
    const count = allStates(chart).reduce((n, s) => n + s.transitions.length, 0);
    assert.equal(scxml.match(/<transition[ >/]/g)?.length ?? 0, count);
    assert.match(scxml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/);
  });

  test(`${name}: Mermaid declares every state and draws every transition`, () => {
    const mmd = exportChart(name, 'mermaid');
    const chart = chartOf(name);
    for (const s of allStates(chart).slice(1)) assert.match(mmd, new RegExp(`state "${s.key}" as ${mermaidId(s.id)}\\n`), s.id);
    const edges = mmd.split('\n').filter((l) => / --> /.test(l) && !l.includes('[*]'));
    for (const s of allStates(chart).slice(1)) {
      for (const t of s.transitions) {
        for (const target of t.targets.length ? t.targets : [s.id]) {
          assert.ok(edges.some((l) => l.trim().startsWith(`${mermaidId(s.id)} --> ${mermaidId(target)} : `)), `${s.id} --${t.event}--> ${target}`);
        }
      }
    }
    assert.ok(!/;/.test(mmd.split('\n').filter((l) => l.includes(' : ')).join('\n')), 'no ";" in labels (Mermaid ends a statement there)');
  });
}

test('keelson statechart prints the committed export; --list names them all; mistakes exit 2 with a reason', () => {
  let out = '';
  let err = '';
  const run = (...argv: string[]) => {
    out = '';
    err = '';
    return runStatechart(argv, (s) => void (out += s), (s) => void (err += s));
  };
  assert.equal(run('pod', '--format', 'mermaid'), 0);
  assert.equal(out, readFileSync(new URL('./exports/pod.mmd', import.meta.url), 'utf8'));
  assert.equal(run('leader'), 0);
  assert.deepEqual(JSON.parse(out), JSON.parse(exportChart('leader', 'json')), 'json by default');
  assert.equal(run('--list'), 0);
  assert.deepEqual(out.trim().split('\n').map((l) => l.split(/\s+/)[0]), STATECHARTS.map((s) => s.name));
  assert.equal(run('nope'), 2);
  assert.match(err, /no statechart "nope"; there are: pod, /);
  assert.equal(run('pod', '--format', 'png'), 2);
  assert.match(err, /unknown format "png"/);
  assert.equal(run(), 2);
  assert.match(err, /which statechart/);
});
