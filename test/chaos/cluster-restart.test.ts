/**
 * Chaos: restart the whole compose cluster (every master, haproxy and both
 * workers stopped, then started) while an RC's pods run. The pods are sibling
 * containers and run on through it; when the cluster is back every object is
 * there and every pod is adopted by its kubelet — the same containers, never
 * restarted. Figures go to the test's diagnostics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compose, docker, podContainers, waitServing } from '../../scripts/compose/compose-cluster.js';
import { leaseNames, runningPods, sleeperRC, startChaosCluster, waitUntil } from './chaos-cluster.js';
import { createLease, lostWrites, startWriteLoad, type LoadReport } from './write-load.js';

const NS = 'chaos';

test('the whole cluster restarted: every object back, running pods adopted, not restarted', { timeout: 600_000 }, async (t) => {
  const c = await startChaosCluster(t, 'keelson-chaos-restart');
  try {
    assert.equal((await c.kubectl(['create', 'namespace', NS])).code, 0);
    assert.equal((await c.kubectl(['apply', '-f', c.file('rc.json', sleeperRC('web', NS, 4))])).code, 0);
    const before = await waitUntil('4 pods Running', 90_000, async () => {
      const pods = await runningPods(c, NS, 'web');
      return pods.length === 4 ? pods : undefined;
    });
    const leases = Array.from({ length: 20 }, (_, i) => `kept-${i}`);
    for (const name of leases) {
      const res = await createLease(c.http, NS, name, 'restart-test');
      assert.equal(res.status, 201, res.text);
    }
    const containersBefore = (await podContainers(c)).sort();
    const startedAt = async (ids: string[]) => docker(['inspect', '--format', '{{.Id}} {{.State.StartedAt}} {{.RestartCount}}', ...ids]);
    const stateBefore = await startedAt(containersBefore);

    // The load runs through the restart: writes fail while no API server is up,
    // and every one acknowledged before or after must be there at the end.
    const load = startWriteLoad({ api: c.http, namespace: NS, rate: 50, timeoutMs: 15_000 });
    let report: LoadReport;
    let stoppedMs: number;
    let servingMs: number;
    try {
      await waitUntil('the load to flow', 20_000, async () => load.ackedCount() >= 50);
      const t0 = Date.now();
      await compose(c, ['stop', '--timeout', '10']);
      stoppedMs = Date.now() - t0;
      const t1 = Date.now();
      await compose(c, ['start']);
      await waitServing(c, 120_000, c.log);
      servingMs = Date.now() - t1;
      await waitUntil('writes to succeed again', 30_000, async () => load.ackedCount() > 0 && load.elapsedMs() - load.lastAckMs() < 1_000);
    } finally {
      report = await load.stop();
    }
    const after = await waitUntil('the same 4 pods Running', 60_000, async () => {
      const pods = await runningPods(c, NS, 'web');
      return pods.length === 4 ? pods : undefined;
    });
    const allAfter = await c.get<{ items: { metadata: { uid: string } }[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`);
    const lost = lostWrites(report, await leaseNames(c, NS));
    t.diagnostic(`cluster stopped in ${(stoppedMs / 1000).toFixed(1)} s, serving again ${(servingMs / 1000).toFixed(1)} s after start (API through haproxy, 3 masters, nodes Ready)`);
    t.diagnostic(`load through it: ${report.sent} sent, ${report.acked.size} acknowledged, ${report.failed.length} failed (the cluster was down), ${lost.length} acknowledged but lost`);
    assert.deepEqual(lost, [], 'no acknowledged write is lost');

    assert.deepEqual(after.map((p) => p.metadata.uid).sort(), before.map((p) => p.metadata.uid).sort(), 'the same pods');
    assert.equal(allAfter.items.length, 4, 'and no others');
    assert.deepEqual((await podContainers(c)).sort(), containersBefore, 'the same containers');
    assert.equal(await startedAt(containersBefore), stateBefore, 'never restarted');
    const names = await leaseNames(c, NS);
    assert.deepEqual(leases.filter((n) => !names.has(n)), [], 'every object is back');
  } catch (e) {
    for (const s of ['master-1', 'worker-1']) t.diagnostic(`--- ${s}:\n${await c.logs(s, 25)}`);
    throw e;
  }
});
