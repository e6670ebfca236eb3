/**
 * The iptables backend for real, inside a network namespace this test creates
 * (`keelson-test-<pid>-<family>`: loopback and a dummy interface, no way out), with
 * tiny servers in it: balancing, node ports, rejects, affinity, UDP, endpoint
 * changes, foreign rules left alone, a clean stop, and the time a 1,000-port sync
 * takes. Every packet stays inside the namespace; the namespace and every child
 * are gone at the end, pass or fail. Needs root; runs for the system `iptables`
 * and, when installed, `iptables-legacy`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { ServicePort } from '../types.js';
import { IptablesBackend } from './iptables.backend.js';
import { JUMP_COMMENT } from './jumps.js';
import type { IptablesFamily } from './options.js';
import { BUILTIN_CHAINS, parseSave } from './saved-state.js';
import { manyPorts, servicePort } from './testing/builders.js';
import { createNetns, type Netns } from './testing/netns.js';

const notRoot = process.getuid?.() !== 0 ? 'needs root: it creates a network namespace and programs iptables inside it (CI runs as root)' : false;
const installed = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

const NODE_IP = '192.0.2.1';
const SERVERS = [
  { name: 'a', ip: '192.0.2.11' },
  { name: 'b', ip: '192.0.2.12' },
  { name: 'c', ip: '192.0.2.13' },
];
const [A, B, C] = SERVERS.map((s) => s.ip) as [string, string, string];

const web = servicePort('web', '10.96.0.10', { endpoints: [A, B, C] });
const empty = servicePort('empty', '10.96.0.20', { nodePort: 30081 });
const np = servicePort('np', '10.96.0.30', { nodePort: 30080, endpoints: [A, B] });
const sticky = servicePort('sticky', '10.96.0.40', { endpoints: [A, B, C], sessionAffinity: { type: 'ClientIP', timeoutSeconds: 600 } });
const dns = servicePort('dns', '10.96.0.53', { protocol: 'UDP', port: 53, endpoints: [{ ip: A, port: 5353 }, { ip: B, port: 5353 }] });
const ALL: ServicePort[] = [web, empty, np, sticky, dns];

/** iptables-save without comments and counters: what a restore changed, line by line. */
const normalize = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'));

for (const family of ['iptables', 'iptables-legacy'] as IptablesFamily[]) {
  const skip = notRoot || (installed(`${family}-restore`) ? false : `${family}-restore is not installed`);

  describe(`IptablesBackend (${family}) in a network namespace`, { skip, timeout: 120_000 }, () => {
    let ns: Netns;
    let backend: IptablesBackend;
    let before0: string[];
    const logs: string[] = [];
    const save = async () => normalize(await ns.exec([`${family}-save`]));
    /** Who answered `n` connections to host:port (the servers answer "NAME REMOTE-ADDRESS"). */
    const answers = async (host: string, port: number, n: number) => {
      const out: { name: string; from: string }[] = [];
      for (let i = 0; i < n; i++) {
        const r = await ns.connect(host, port);
        assert.ok(r.data, `connection ${i} to ${host}:${port}: ${r.error}`);
        const [name, from] = r.data.split(' ') as [string, string];
        out.push({ name, from });
      }
      return out;
    };
    const names = (xs: { name: string }[]) => [...new Set(xs.map((x) => x.name))].sort();
    /** Connections masqueraded so far: the packet counter of the MASQUERADE rule (nat sees a connection's first packet only). */
    const masqueraded = async () => {
      const text = await ns.exec([`${family}-save`, '-c', '-t', 'nat']);
      const m = new RegExp(`^\\[(\\d+):\\d+\\] -A ${backend.names.postrouting} .*-j MASQUERADE$`, 'm').exec(text);
      assert.ok(m, 'the MASQUERADE rule is there');
      return Number(m[1]);
    };

    before(async () => {
      ns = await createNetns(`keelson-test-${process.pid}-${family.replace('iptables-', '').replace('iptables', 'default')}`, {
        addresses: [`${NODE_IP}/24`, A, B, C],
        routes: ['10.96.0.0/16'],
      });
      for (const s of SERVERS) await ns.serve(s.name, s.ip, 8080);
      for (const s of SERVERS.slice(0, 2)) await ns.serve(s.name, s.ip, 5353, 'udp');
      // Someone else's rules, including a chain with the same prefix: they must survive everything.
      await ns.exec([`${family}-restore`, '--noflush'], [
        '*nat',
        ':FOREIGN-NAT - [0:0]',
        ':KEELSON-MINE - [0:0]',
        '-A FOREIGN-NAT -d 198.51.100.7/32 -j RETURN',
        '-A KEELSON-MINE -j RETURN',
        '-A OUTPUT -j FOREIGN-NAT',
        'COMMIT',
        '*filter',
        '-A INPUT -p tcp -m tcp --dport 9 -m comment --comment "foreign rule" -j ACCEPT',
        'COMMIT',
        '',
      ].join('\n'));
      before0 = await save();
      backend = new IptablesBackend({ family, run: ns.run, resyncMs: 0, log: (m) => logs.push(m) });
    });

    after(async () => {
      await backend?.stop().catch(() => undefined);
      await ns?.close();
    });

    it('available() says yes inside the namespace', async () => {
      assert.deepEqual(await IptablesBackend.available({ family, run: ns.run }), { ok: true });
    });

    it('before any rules, the service CIDR is a blackhole (so the refusals below are the rules)', async () => {
      assert.equal((await ns.connect(web.clusterIP!, 80, { timeoutMs: 300 })).error, 'TIMEOUT');
    });

    it('a cluster IP balances over every endpoint', async () => {
      await backend.sync(ALL);
      const got = await answers(web.clusterIP!, 80, 30);
      assert.deepEqual(names(got), ['a', 'b', 'c']);
      assert.equal(await masqueraded(), 0, 'cluster IP traffic is not masqueraded (no clusterCIDR, no masqueradeAll)');
    });

    it('a node port on a local address reaches the endpoints, masqueraded; not on 127.0.0.1', async () => {
      const got = await answers(NODE_IP, 30080, 20);
      assert.deepEqual(names(got), ['a', 'b']);
      assert.equal(await masqueraded(), 20, 'every node port connection is marked and masqueraded');
      assert.equal((await ns.connect('127.0.0.1', 30080)).error, 'ECONNREFUSED');
    });

    it('a port with no endpoints, and every other address in the service CIDR, is refused at once', async () => {
      for (const [host, port] of [[empty.clusterIP!, 80], [NODE_IP, 30081], ['10.96.0.99', 80], [web.clusterIP!, 81]] as const) {
        const r = await ns.connect(host, port);
        assert.equal(r.error, 'ECONNREFUSED', `${host}:${port}`);
        assert.ok(r.ms < 1_000, `${host}:${port} refused in ${r.ms} ms`);
      }
    });

    it('ClientIP affinity keeps a client on one endpoint', async () => {
      assert.equal(names(await answers(sticky.clusterIP!, 80, 15)).length, 1);
    });

    it('UDP service ports are forwarded too', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const r = await ns.connect(dns.clusterIP!, 53, { proto: 'udp' });
        assert.ok(r.data, `datagram ${i}: ${r.error}`);
        seen.add(r.data.split(' ')[0]!);
      }
      assert.deepEqual([...seen].sort(), ['a', 'b']);
    });

    it('a UDP client that keeps its source port leaves a removed endpoint at once (its conntrack entry is deleted)', async () => {
      const ask = async () => {
        const r = await ns.connect(dns.clusterIP!, 53, { proto: 'udp', localPort: 40053 });
        assert.ok(r.data, `datagram: ${r.error}`);
        return r.data.split(' ')[0]!;
      };
      const first = await ask();
      assert.equal(await ask(), first, 'one flow, one endpoint');
      const gone = first === 'a' ? A : B;
      await backend.sync(ALL.map((p) => (p === dns ? { ...dns, endpoints: dns.endpoints.filter((e) => e.ip !== gone) } : p)));
      // Without the deletion, the flow's entry would still send it to the removed (and still running) server.
      assert.notEqual(await ask(), first);
      await backend.sync(ALL);
    });

    it('the rules are all in its own chains plus its marked jumps, added once; foreign rules untouched', async () => {
      await backend.sync(ALL);
      const now = await save();
      const left = [...now];
      for (const line of before0) {
        const i = left.indexOf(line);
        assert.ok(i >= 0, `still there: ${line}`);
        left.splice(i, 1);
      }
      assert.deepEqual(now.filter((l) => before0.includes(l)), before0, 'foreign lines in their order');
      let jumps = 0;
      for (const line of left) {
        const chain = /^:(\S+) /.exec(line)?.[1];
        if (chain) {
          assert.ok(backend.names.owns(chain), line);
          continue;
        }
        const rule = parseSave(`*t\n${line}\n`).get('t')!.rules[0];
        assert.ok(rule, `a rule: ${line}`);
        if (backend.names.owns(rule.chain)) continue;
        assert.ok(BUILTIN_CHAINS.has(rule.chain) && rule.comment?.startsWith(JUMP_COMMENT) && backend.names.owns(rule.target ?? ''), line);
        jumps++;
      }
      assert.equal(jumps, 7, 'one jump per built-in chain and target, after two syncs');
      assert.ok(now.includes(':KEELSON-MINE - [0:0]') && now.includes('-A KEELSON-MINE -j RETURN'));
    });

    it('changing endpoints takes effect at the next sync; chains no longer needed are deleted', async () => {
      const onlyB = { ...web, endpoints: web.endpoints.filter((e) => e.ip === B) };
      await backend.sync([onlyB, empty, sticky, dns]);
      assert.deepEqual(names(await answers(web.clusterIP!, 80, 10)), ['b']);
      assert.equal((await ns.connect(NODE_IP, 30080)).error, 'ECONNREFUSED', 'the removed node port is gone');
      const now = (await save()).join('\n');
      for (const gone of [backend.names.endpoint(web.key, A, 8080), backend.names.endpoint(web.key, C, 8080), backend.names.service(np.key)]) {
        assert.ok(!now.includes(gone), `${gone} deleted`);
      }
      assert.ok(now.includes(backend.names.endpoint(web.key, B, 8080)));
      assert.equal(backend.lastSync()?.deleted, 5, 'np (svc + 2 endpoints) and web -> a, web -> c');
    });

    it('partial syncs (a port moved, a node port gaining endpoints) end where a full sync would, order aside', async () => {
      const moved = { ...web, port: 81 };
      const gained = { ...empty, endpoints: [{ ip: C, port: 8080 }] };
      const ports = [moved, gained, sticky, dns];
      await backend.sync(ports);
      assert.equal(backend.lastSync()?.partial, true);
      // Random balancing: 9 connections missed one of 3 endpoints 8 % of the time, 30 miss one 1 in 60,000.
      assert.deepEqual(names(await answers(web.clusterIP!, 81, 30)), ['a', 'b', 'c']);
      assert.equal((await ns.connect(web.clusterIP!, 80)).error, 'ECONNREFUSED', 'the old port falls to the service CIDR reject');
      assert.match((await ns.connect(NODE_IP, 30081)).data ?? '', /^c /);
      const partial = await save();
      const lastOf = (table: string, chain: string) => {
        const t = parseSave(partial.join('\n')).get(table)!;
        return t.rules.filter((r) => r.chain === chain).at(-1)?.spec ?? '';
      };
      assert.match(lastOf('nat', backend.names.services), new RegExp(`-j ${backend.names.nodePorts}$`), 'the node-port jump is still last');
      assert.match(lastOf('filter', backend.names.services), /-d 10\.96\.0\.0\/16 .*-j REJECT/, 'the service CIDR reject is still last');
      // A second backend's first sync is a full one: it rewrites every own chain from scratch.
      const full = new IptablesBackend({ family, run: ns.run, resyncMs: 0 });
      await full.sync(ports);
      assert.equal(full.lastSync()?.partial, false);
      assert.deepEqual([...partial].sort(), [...(await save())].sort());
    });

    it('stop() leaves exactly what was there before', async () => {
      await backend.stop();
      assert.deepEqual(await save(), before0);
      assert.equal((await ns.connect(web.clusterIP!, 80, { timeoutMs: 300 })).error, 'TIMEOUT');
      await backend.stop();
      assert.deepEqual(logs, []);
    });

    it('a sync of 1,000 service ports (timings printed, not asserted)', async (t) => {
      const big = new IptablesBackend({ family, run: ns.run, resyncMs: 0 });
      try {
        const ports = manyPorts(1_000, 3, [A, B, C]);
        const t0 = performance.now();
        await big.sync(ports);
        const first = big.lastSync()!;
        const r = await ns.connect(ports[999]!.clusterIP!, 80);
        assert.match(r.data ?? String(r.error), /^[abc] /, 'the last port works');
        await big.sync(ports);
        const again = big.lastSync()!;
        const t1 = performance.now();
        await big.stop();
        const stopMs = performance.now() - t1;
        const f = (n: number) => n.toFixed(0);
        t.diagnostic(
          `${family}: 1,000 service ports × 3 endpoints = ${first.chains} chains, ${first.rules} rules; ` +
            `first sync ${f(first.totalMs)} ms (save ${f(first.readMs)} + generate ${f(first.generateMs)} + restore ${f(first.restoreMs)}), ` +
            `again ${f(again.totalMs)} ms (save ${f(again.readMs)} + generate ${f(again.generateMs)} + restore ${f(again.restoreMs)}), ` +
            `stop ${f(stopMs)} ms; wall ${f(t1 - t0)} ms for both syncs and a probe`,
        );
      } finally {
        await big.stop();
      }
      assert.deepEqual(await save(), before0);
    });
  });
}
