/**
 * The backend's own logic with a fake command runner (no iptables): what it runs
 * and in which order, how it fails, retries, logs and stops. The real thing, in a
 * network namespace, is iptables.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IptablesBackend, isIptablesError } from './iptables.backend.js';
import type { CommandResult, CommandRunner } from './runner.js';
import { servicePort } from './testing/builders.js';

type Call = { argv: string[]; input?: string };

/** Answers iptables-save with `saved` (per table) and iptables-restore with `restoreResult()`; records every call. */
function fakeIptables(opts: { saved?: Record<string, string>; restore?: (input: string) => CommandResult; delayMs?: number } = {}) {
  const calls: Call[] = [];
  const run: CommandRunner = async (argv, input) => {
    calls.push({ argv: [...argv], ...(input !== undefined ? { input } : {}) });
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (argv[0]!.endsWith('-save')) return { code: 0, stdout: opts.saved?.[argv[2]!] ?? '', stderr: '' };
    return opts.restore?.(input ?? '') ?? { code: 0, stdout: '', stderr: '' };
  };
  return { run, calls, restores: () => calls.filter((c) => c.argv[0]!.endsWith('-restore')) };
}

const web = servicePort('web', '10.96.0.10', { endpoints: ['192.0.2.11'] });

test('a sync reads both tables, then writes its chains in one iptables-restore --noflush', async () => {
  const fake = fakeIptables();
  const b = new IptablesBackend({ run: fake.run, family: 'iptables-legacy', resyncMs: 0 });
  await b.sync([web]);
  assert.deepEqual(fake.calls.map((c) => c.argv.join(' ')), ['iptables-legacy-save -t nat', 'iptables-legacy-save -t filter', 'iptables-legacy-restore -w 5 --noflush']);
  assert.match(fake.calls[2]!.input!, /^\*nat\n:KEELSON-SERVICES - \[0:0\]\n/);
  assert.match(fake.calls[2]!.input!, /--to-destination 192\.0\.2\.11:8080/);
  const report = b.lastSync()!;
  assert.equal(report.ports, 1);
  assert.equal(report.chains, 8);
  assert.ok(report.totalMs >= report.restoreMs);
});

test('iptables refusing the input rejects with the line it refused, and is retried', async () => {
  let n = 0;
  const fake = fakeIptables({ restore: () => (n++ === 0 ? { code: 2, stdout: '', stderr: 'iptables-restore: line 2 failed: No chain/target/match by that name.\n' } : { code: 0, stdout: '', stderr: '' }) });
  const b = new IptablesBackend({ run: fake.run, resyncMs: 0, retryMs: 20 });
  await assert.rejects(b.sync([web]), (e) => isIptablesError(e) && /line 2 failed.*the line was: :KEELSON-SERVICES - \[0:0\]/.test(e.message) && e.exitCode === 2);
  const deadline = Date.now() + 2_000;
  while (fake.restores().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(fake.restores().length, 2, 'retried after retryMs');
  await b.stop();
});

test('a missing binary is an IptablesError too, not a crash', async () => {
  const b = new IptablesBackend({ family: 'iptables-nft', run: async () => ({ code: 127, stdout: '', stderr: 'cannot run iptables-nft-save: spawn ENOENT' }), resyncMs: 0, retryMs: 0 });
  await assert.rejects(b.sync([web]), /iptables-nft-save failed \(exit 127\): cannot run/);
});

test('syncs run one at a time in call order; stop waits for them and then removes everything', async () => {
  const fake = fakeIptables({ delayMs: 5, saved: { nat: '*nat\n:KEELSON-SERVICES - [0:0]\n:KEELSON-MINE - [0:0]\nCOMMIT\n' } });
  const b = new IptablesBackend({ run: fake.run, resyncMs: 0 });
  const db = servicePort('db', '10.96.0.11', { endpoints: ['192.0.2.12'] });
  const done = Promise.all([b.sync([web]), b.sync([web, db])]);
  const stopped = b.stop();
  await done;
  await stopped;
  const kinds = fake.calls.map((c) => c.argv[0]!.replace('iptables-', ''));
  // The first sync is full (it reads what is there); the second rewrites only what changed.
  assert.deepEqual(kinds, ['save', 'save', 'restore', 'restore', 'save', 'save', 'restore']);
  assert.ok(!fake.restores()[0]!.input!.includes('10.96.0.11') && fake.restores()[1]!.input!.includes('10.96.0.11'));
  assert.ok(!fake.restores()[1]!.input!.includes('192.0.2.11'), `the second restore leaves web's unchanged chains alone:\n${fake.restores()[1]!.input}`);
  assert.equal(fake.restores()[2]!.input, '*nat\n:KEELSON-SERVICES - [0:0]\n-X KEELSON-SERVICES\nCOMMIT\n', 'only its own chain, not KEELSON-MINE');
  await b.sync([web]);
  assert.equal(fake.calls.length, 7, 'a sync after stop does nothing');
});

test('a left-out port is logged once, not at every sync', async () => {
  const logs: string[] = [];
  const b = new IptablesBackend({ run: fakeIptables().run, resyncMs: 0, log: (m) => logs.push(m) });
  const v6 = servicePort('v6', 'fd00::1', { endpoints: ['192.0.2.11'] });
  await b.sync([web, v6]);
  await b.sync([web, v6]);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /default\/v6:http\/TCP: cluster IP fd00::1 is not IPv4/);
});

test('resync re-applies the latest ports after resyncMs', async () => {
  const fake = fakeIptables();
  const b = new IptablesBackend({ run: fake.run, resyncMs: 20 });
  await b.sync([web]);
  const deadline = Date.now() + 2_000;
  while (fake.restores().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await b.stop();
  assert.ok(fake.restores().length >= 2);
  assert.equal(fake.restores()[1]!.input, fake.restores()[0]!.input);
});

test('available() is a dry run, and says why not', async () => {
  const calls: Call[] = [];
  const ok = await IptablesBackend.available({ run: async (argv, input) => (calls.push({ argv: [...argv], input: input! }), { code: 0, stdout: '', stderr: '' }) });
  assert.deepEqual(ok, { ok: true });
  assert.deepEqual(calls[0]!.argv, ['iptables-restore', '-w', '5', '--test', '--noflush']);
  for (const needed of ['statistic', 'recent', 'addrtype', 'comment', 'DNAT', 'MASQUERADE', 'MARK', 'REJECT']) assert.ok(calls[0]!.input!.includes(needed), needed);
  const no = await IptablesBackend.available({ family: 'iptables-legacy', run: async () => ({ code: 4, stdout: '', stderr: "iptables-restore v1.8.9 (legacy): can't initialize iptables table `nat': Permission denied (you must be root)\n" }) });
  assert.equal(no.ok, false);
  assert.match(!no.ok ? no.reason : '', /iptables-legacy-restore --test failed \(exit 4\): .*Permission denied.*needs root or CAP_NET_ADMIN/);
});

test('bad options fail at construction, with what to do', () => {
  assert.throws(() => new IptablesBackend({ prefix: 'keelson' }), /upper-case/);
  assert.throws(() => new IptablesBackend({ clusterCIDR: '10.244.0.0/33' }), /clusterCIDR .* is not an IPv4 CIDR/);
});
