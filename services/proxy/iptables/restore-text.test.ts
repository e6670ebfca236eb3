/**
 * The restore input against what is already there: jumps added once, stale own
 * chains deleted, and nothing anyone else made ever named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainNames } from './chain-names.js';
import { jumpsOf } from './jumps.js';
import { ruleOptions } from './options.js';
import { generateRestore, noRules, partialRestore, stopRestore, syncRestore } from './restore-text.js';
import { buildRules } from './rules.js';
import { emptyTable, parseSave, tokenize, type SavedState } from './saved-state.js';
import { servicePort } from './testing/builders.js';

const opts = ruleOptions();
const names = chainNames();
const web = servicePort('web', '10.96.0.10', { endpoints: ['192.0.2.11', '192.0.2.12'] });
const db = servicePort('db', '10.96.0.11', { endpoints: ['192.0.2.13'] });
const JUMPS = jumpsOf(names);

/** What iptables-save prints for `table` after the given lines (its own canonical order is irrelevant here). */
function saved(nat: string[], filter: string[] = []): SavedState {
  const text = ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
  const tables = parseSave(text);
  return { nat: tables.get('nat') ?? emptyTable(), filter: tables.get('filter') ?? emptyTable() };
}

/** The state after a restore of `text` into an empty netns, as iptables-save would show it. */
function applied(text: string): SavedState {
  const out: Record<'nat' | 'filter', string[]> = { nat: [], filter: [] };
  let table: 'nat' | 'filter' = 'nat';
  for (const line of text.split('\n')) {
    if (line === '*nat' || line === '*filter') table = line.slice(1) as 'nat' | 'filter';
    else if (line.startsWith(':')) out[table].push(line);
    else if (line.startsWith('-A ')) out[table].push(line);
    else if (line.startsWith('-I ')) out[table].push(line.replace(/^-I (\S+) 1 /, '-A $1 '));
  }
  return saved(out.nat, out.filter);
}

const lines = (text: string, start: string) => text.split('\n').filter((l) => l.startsWith(start));
/** One table's part of a restore text. */
const section = (text: string, table: 'nat' | 'filter') => {
  const start = text.indexOf(`*${table}\n`);
  return start < 0 ? '' : text.slice(start, text.indexOf('COMMIT\n', start) + 'COMMIT\n'.length);
};

test('iptables-save lines are tokenized as iptables reads them', () => {
  assert.deepEqual(tokenize('-m comment --comment "a \\"quoted\\" b" -j X'), ['-m', 'comment', '--comment', 'a "quoted" b', '-j', 'X']);
  assert.deepEqual(tokenize('--comment ""  -j  Y'), ['--comment', '', '-j', 'Y']);
  const t = parseSave('# c\n*nat\n:PREROUTING ACCEPT [0:0]\n:FOO - [0:0]\n-A PREROUTING -m comment --comment "x y" -g FOO\nCOMMIT\n').get('nat')!;
  assert.deepEqual([...t.chains], ['PREROUTING', 'FOO']);
  assert.deepEqual(t.rules[0], { chain: 'PREROUTING', spec: '-m comment --comment "x y" -g FOO', tokens: ['-m', 'comment', '--comment', 'x y', '-g', 'FOO'], target: 'FOO', comment: 'x y' });
});

test('into an empty netns: every own chain declared, every jump inserted once, nothing deleted', () => {
  const plan = generateRestore([web], opts);
  assert.deepEqual(lines(plan.text, '*'), ['*nat', '*filter']);
  assert.equal(lines(plan.text, 'COMMIT').length, 2);
  assert.deepEqual(
    lines(plan.text, '-I '),
    JUMPS.map((j) => `-I ${j.chain} 1 ${j.spec}`),
  );
  assert.equal(plan.jumpsAdded, 7);
  assert.deepEqual([lines(plan.text, '-X '), lines(plan.text, '-D ')], [[], []]);
  assert.equal(lines(plan.text, ':').length, 4 + 1 + 2 + 2);
  assert.match(JUMPS[0]!.spec, /^-m comment --comment "keelson-proxy iptables backend: service portals" -j KEELSON-SERVICES$/);
});

test('the next sync rewrites the own chains but leaves the jumps alone', () => {
  const first = generateRestore([web], opts);
  const second = syncRestore(buildRules([web], opts), applied(first.text), names);
  assert.deepEqual([lines(second.text, '-I '), lines(second.text, '-D '), lines(second.text, '-X ')], [[], [], []]);
  assert.deepEqual(lines(second.text, '-A '), lines(first.text, '-A '));
  assert.equal(second.jumpsAdded + second.jumpsRemoved, 0);
});

test('chains no longer needed are flushed and deleted in the same restore', () => {
  const before = applied(generateRestore([web, db], opts).text);
  const plan = syncRestore(buildRules([web], opts), before, names);
  const gone = [names.service(db.key), names.endpoint(db.key, '192.0.2.13', 8080)];
  assert.deepEqual(lines(plan.text, '-X '), gone.map((c) => `-X ${c}`));
  for (const c of gone) assert.ok(plan.text.includes(`\n:${c} - [0:0]\n`), `${c} is flushed first`);
  assert.deepEqual(plan.deleted, gone.map((c) => `nat/${c}`));
  const text = section(plan.text, 'nat');
  assert.ok(text.indexOf('-X ') > text.lastIndexOf('-A '), 'deletions come after the rules that used to jump there');
});

test('foreign chains and rules are never named, even with the same prefix', () => {
  const state = saved(
    [':KEELSON-MINE - [0:0]', ':DOCKER - [0:0]', '-A KEELSON-MINE -j RETURN', '-A OUTPUT -m comment --comment "keelson-proxy iptables backend: fake" -j DOCKER', '-A PREROUTING -j KEELSON-MINE'],
    [':FOREIGN - [0:0]', '-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT', '-A OUTPUT -j FOREIGN'],
  );
  for (const text of [syncRestore(buildRules([web], opts), state, names).text, stopRestore(state, names).text]) {
    for (const line of text.split('\n')) {
      assert.doesNotMatch(line, /KEELSON-MINE|DOCKER|FOREIGN|--dport 9 /, line);
      const chain = /^(?::|-[ADIX] )(\S+)/.exec(line)?.[1];
      if (chain) assert.ok(names.owns(chain) || ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD'].includes(chain), line);
    }
  }
  assert.equal(stopRestore(state, names).text, '', 'nothing of ours: nothing to do');
});

test('a stale own chain that a foreign rule jumps to is flushed but kept', () => {
  const old = names.service('default/old:http/TCP');
  const state = saved([`:${old} - [0:0]`, `-A ${old} -j RETURN`, ':THEIRS - [0:0]', `-A THEIRS -j ${old}`]);
  const plan = syncRestore(buildRules([], opts), state, names);
  assert.ok(plan.text.includes(`:${old} - [0:0]`));
  assert.ok(!plan.text.includes(`-X ${old}`));
  assert.deepEqual(plan.kept, [`nat/${old}`]);
});

test('doubled or outdated own jumps are removed; a missing one is put back', () => {
  const portal = JUMPS[0]!;
  const state = saved([
    ':KEELSON-SERVICES - [0:0]',
    ':KEELSON-POSTROUTING - [0:0]',
    `-A PREROUTING ${portal.spec}`,
    `-A PREROUTING ${portal.spec}`,
    '-A OUTPUT -m comment --comment "keelson-proxy iptables backend: old style" -j KEELSON-SERVICES',
  ]);
  const plan = syncRestore(buildRules([], opts), state, names);
  assert.deepEqual(lines(plan.text, '-D '), [
    `-D PREROUTING ${portal.spec}`,
    '-D OUTPUT -m comment --comment "keelson-proxy iptables backend: old style" -j KEELSON-SERVICES',
  ]);
  assert.deepEqual(
    lines(section(plan.text, 'nat'), '-I '),
    [`-I OUTPUT 1 ${portal.spec}`, `-I POSTROUTING 1 ${JUMPS[2]!.spec}`],
  );
});

test('stop: remove the jumps, flush and delete every own chain', () => {
  const state = applied(generateRestore([web, db], opts).text);
  const plan = stopRestore(state, names);
  assert.equal(lines(plan.text, '-D ').length, 7);
  assert.equal(lines(plan.text, '-A ').length, 0);
  const own = [...state.nat.chains].map((c) => `nat/${c}`).concat([...state.filter.chains].map((c) => `filter/${c}`));
  assert.deepEqual(plan.deleted.sort(), own.sort());
  assert.equal(lines(plan.text, '-X ').length, own.length);
  assert.equal(stopRestore(noRules(), names).text, '');
});

test('a partial restore rewrites only the chains that changed and deletes the ones gone', () => {
  const db = servicePort('db', '10.96.0.11', { endpoints: ['192.0.2.21'] });
  const before = buildRules([web, db], opts);
  const after = buildRules([{ ...web, endpoints: web.endpoints.slice(0, 1) }, db], opts);
  const { text, deleted } = partialRestore(before, after);
  const declared = text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]);
  // web's service chain changes and its second endpoint chain goes; db and the fixed chains stay untouched.
  assert.ok(declared.includes(names.service(web.key)), text);
  assert.ok(!declared.includes(names.service(db.key)) && !declared.includes(names.endpoint(db.key, '192.0.2.21', 8080)), text);
  assert.ok(!declared.includes(names.services), `KEELSON-SERVICES did not change:\n${text}`);
  assert.deepEqual(deleted, [`nat/${names.endpoint(web.key, '192.0.2.12', 8080)}`]);
  assert.match(text, new RegExp(`-X ${names.endpoint(web.key, '192.0.2.12', 8080)}\\n`));
  assert.equal(partialRestore(after, after).text, '', 'nothing changed, nothing to restore');
});

test('a partial restore swaps a changed port\'s rules in the shared chains with -D and -I at the top, naming nothing else', () => {
  const np = servicePort('np', '10.96.0.12', { nodePort: 30080, endpoints: ['192.0.2.14'] });
  const before = buildRules([web, db, np], opts);
  const after = buildRules([{ ...web, port: 81 }, db, { ...np, endpoints: [] }], opts, before);
  assert.equal(after.ports.get(db.key), before.ports.get(db.key), 'an unchanged port reuses its rules');
  const { text, deleted } = partialRestore(before, after);
  assert.deepEqual(lines(text, ':').map((l) => l.slice(1).split(' ')[0]), [names.service(np.key), names.endpoint(np.key, '192.0.2.14', 8080)], 'only np\'s own chains, to be deleted');
  assert.deepEqual(deleted, [`nat/${names.service(np.key)}`, `nat/${names.endpoint(np.key, '192.0.2.14', 8080)}`]);
  const nat = section(text, 'nat');
  assert.match(nat, /-D KEELSON-SERVICES -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 /);
  assert.match(nat, /-I KEELSON-SERVICES 1 -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 81 /);
  const np30080 = lines(nat, '-D KEELSON-NODEPORTS');
  assert.equal(np30080.length, 2, 'both node-port rules of np go');
  assert.ok(nat.indexOf('-D ') < nat.indexOf(`-X ${names.service(np.key)}`), 'rules that jump to a chain go before the chain');
  assert.ok(!text.includes(db.clusterIP!), 'db is not named');
  const filter = lines(section(text, 'filter'), '-I ');
  assert.equal(filter.length, 2, filter.join('\n'));
  assert.ok(filter.every((l) => / 1 .*np:http\/TCP has no endpoints/.test(l)), 'np is now rejected, above the service CIDR reject');
});

test('a port with a node port inserts its two node-port rules in order (mark first)', () => {
  const np = servicePort('np', '10.96.0.12', { nodePort: 30080, endpoints: ['192.0.2.14'] });
  const { text } = partialRestore(buildRules([web], opts), buildRules([web, np], opts));
  const inserted = lines(text, '-I KEELSON-NODEPORTS 1 ');
  // Each lands at the top, so the one meant to be first is inserted last.
  assert.deepEqual(inserted.map((l) => l.split(' -j ')[1]), [names.service(np.key), names.markMasq]);
});
