/**
 * Chaos: kill -9 every container of one master (its nats-server and its
 * `keelson server`) under a steady load of 50 API writes per second through
 * haproxy, with an RC of 4 pods running. The master killed is the one whose
 * nats-server leads the object store's stream, so the store elects a new
 * leader. Then: no acknowledged write is lost, no client request fails
 * (latency instead), kubectl through the load balancer keeps answering, an
 * election led on the dead master moves to a standby, the RC keeps its 4 pods,
 * and the master rejoins when its containers start again. Figures go to the
 * test's diagnostics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { docker, masterContainers } from '../../scripts/compose/compose-cluster.js';
import { leaseHolder, leaseNames, runningPods, sleeperRC, startChaosCluster, waitUntil } from './chaos-cluster.js';
import { lostWrites, startWriteLoad } from './write-load.js';

const NS = 'chaos';

test('kill -9 one master under load: no acknowledged write lost, kubectl keeps working, leaders move', { timeout: 600_000 }, async (t) => {
  const c = await startChaosCluster(t, 'keelson-chaos-master');
  assert.equal((await c.kubectl(['create', 'namespace', NS])).code, 0);
  const rc = await c.kubectl(['apply', '-f', c.file('rc.json', sleeperRC('web', NS, 4))]);
  assert.equal(rc.code, 0, rc.stderr);
  await waitUntil('4 pods Running', 90_000, async () => (await runningPods(c, NS, 'web')).length === 4);
  const podsBefore = new Set((await runningPods(c, NS, 'web')).map((p) => p.metadata.uid));

  // The victim is the master whose nats-server leads the object store's stream:
  // its death costs the store a leader election (writes stall 4–6 s on 2.9.10).
  const victim = await waitUntil('the store stream leader', 30_000, async () => {
    const status = await c.get<{ nats?: { streams?: { name: string; leader?: string }[] } }>('/keelson/v1/status');
    const leader = status.nats?.streams?.find((st) => st.name === 'KV_keelson')?.leader;
    return leader ? Number(/^nats-(\d)$/.exec(leader)?.[1]) : undefined;
  });
  const leaders = {
    scheduler: await waitUntil('a scheduler leader', 30_000, () => leaseHolder(c, 'kube-scheduler')),
    cm: await waitUntil('a controller-manager leader', 30_000, () => leaseHolder(c, 'kube-controller-manager')),
  };

  const load = startWriteLoad({ api: c.http, namespace: NS, rate: 50 });
  const kubectlFailures: string[] = [];
  let kubectlCalls = 0;
  let reading = true;
  const reads = (async () => {
    while (reading) {
      kubectlCalls++;
      const r = await c.kubectl(['get', 'pods', '-n', NS, '-o', 'name'], { timeoutMs: 30_000 });
      if (r.code !== 0) kubectlFailures.push(r.stderr.trim());
      await new Promise((res) => setTimeout(res, 500));
    }
  })();
  try {
    await waitUntil('the load to flow', 20_000, async () => load.ackedCount() >= 100);
    const ids = await masterContainers(c, victim);
    assert.equal(ids.length, 2, `master-${victim} has two containers`);
    const killedAt = load.elapsedMs();
    const killedAtWall = Date.now();
    await docker(['kill', '-s', 'KILL', ...ids]);
    c.log(`killed master-${victim} (${ids.length} containers) at ${(killedAt / 1000).toFixed(1)} s into the load`);

    // A leader on the dead master gives way to a standby; a leader elsewhere stays.
    const moved = async (election: 'kube-scheduler' | 'kube-controller-manager', before: string) =>
      waitUntil(`${election} led by a live master`, 30_000, async () => {
        const h = await leaseHolder(c, election);
        return h && h !== `master-${victim}` ? { holder: h, afterMs: Date.now() - killedAtWall, moved: h !== before } : undefined;
      });
    const scheduler = await moved('kube-scheduler', leaders.scheduler);
    const cm = await moved('kube-controller-manager', leaders.cm);
    // Keep the load on past the store's leader election (5–6 s on nats-server 2.9.10).
    await new Promise((r) => setTimeout(r, 15_000));
    reading = false;
    await reads;
    const report = await load.stop();

    const lost = lostWrites(report, await leaseNames(c, NS));
    const failedAfterKill = report.failed.filter((f) => f.atMs >= killedAt - 1_000);
    t.diagnostic(
      `writes: ${report.sent} sent, ${report.acked.size} acknowledged, ${report.failed.length} failed ` +
        `(${failedAfterKill.length} around the kill), ${lost.length} acknowledged but lost; ` +
        `write stall ${(report.stall.ms / 1000).toFixed(2)} s from ${(report.stall.fromMs / 1000).toFixed(1)} s (kill at ${(killedAt / 1000).toFixed(1)} s); ` +
        `latency p50/p99/max ${report.latencyMs.p50.toFixed(0)}/${report.latencyMs.p99.toFixed(0)}/${report.latencyMs.max.toFixed(0)} ms; ` +
        `kubectl get: ${kubectlCalls} calls, ${kubectlFailures.length} failed; ` +
        `killed master-${victim} (store stream leader); scheduler ${leaders.scheduler} → ${scheduler.holder}` +
        `${scheduler.moved ? ` (moved, seen ${(scheduler.afterMs / 1000).toFixed(1)} s after the kill)` : ''}; ` +
        `controller-manager ${leaders.cm} → ${cm.holder}${cm.moved ? ` (moved, seen ${(cm.afterMs / 1000).toFixed(1)} s after the kill)` : ''}`,
    );
    for (const f of report.failed.slice(0, 5)) t.diagnostic(`failed write ${f.name} at ${(f.atMs / 1000).toFixed(2)} s: ${f.error}`);
    for (const f of kubectlFailures.slice(0, 3)) t.diagnostic(`failed kubectl: ${f}`);

    assert.deepEqual(lost, [], 'no acknowledged write is lost');
    assert.ok(report.acked.size > 0.9 * report.sent, `most writes succeed (${report.acked.size} of ${report.sent})`);
    assert.deepEqual(kubectlFailures, [], 'kubectl through the load balancer keeps working');
    assert.deepEqual(report.failed, [], 'no client request failed: the load balancer replays what the dead master did not answer');
    await waitUntil('the RC to have 4 Running pods', 60_000, async () => (await runningPods(c, NS, 'web')).length === 4);
    const podsAfter = (await runningPods(c, NS, 'web')).map((p) => p.metadata.uid);
    assert.deepEqual(podsAfter.filter((u) => !podsBefore.has(u)), [], 'the pods were not replaced: the workers did not die');

    await docker(['start', ...ids]);
    await waitUntil(`master-${victim} back behind haproxy`, 60_000, async () => {
      const status = await c.get<{ masters?: { items?: { hostname: string }[] } }>('/keelson/v1/status').catch(() => undefined);
      return new Set(status?.masters?.items?.map((m) => m.hostname)).size === 3;
    });
  } catch (e) {
    for (const m of ['master-1', 'master-2', 'master-3', 'haproxy']) t.diagnostic(`--- ${m}:\n${await c.logs(m)}`);
    throw e;
  } finally {
    reading = false;
    await reads.catch(() => undefined);
    await load.stop();
  }
});
