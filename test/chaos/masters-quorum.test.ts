/**
 * Chaos: stop two of the three masters (both containers of each). With one
 * nats-server of three, JetStream has no quorum: a write must be refused with a
 * Status once the store gives up — 503 when nothing reached a log, 504 Timeout
 * when the lone server took it into its log and could not commit it (it may be
 * applied once a quorum is back, as with an etcd timeout) — and nothing answered
 * 503 may ever appear (no split brain), while reads keep being answered from the
 * surviving API server's watch cache. When the two come back, writes succeed again and all
 * three masters report in. Figures go to the test's diagnostics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { docker, masterContainers } from '../../scripts/compose/compose-cluster.js';
import { runningPods, sleeperRC, startChaosCluster, waitUntil, type ChaosCluster } from './chaos-cluster.js';

const NS = 'chaos';

/** One Lease create through haproxy: its HTTP status, the Status reason, and how long it took. */
async function write(c: ChaosCluster, name: string): Promise<{ status: number; reason?: string; ms: number }> {
  const t0 = Date.now();
  let res: Response;
  try {
    res = await fetch(`${c.api}/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'quorum-test' } }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return { status: 0, reason: `${err.message}: ${err.cause?.code ?? err.cause?.message ?? ''}`, ms: Date.now() - t0 };
  }
  const body = (await res.json().catch(() => ({}))) as { kind?: string; reason?: string };
  return { status: res.status, ...(body.kind === 'Status' ? { reason: body.reason } : {}), ms: Date.now() - t0 };
}

test('two masters stopped: writes refused with 503, reads answered, all back when they return', { timeout: 600_000 }, async (t) => {
  const c = await startChaosCluster(t, 'keelson-chaos-quorum');
  try {
    assert.equal((await c.kubectl(['create', 'namespace', NS])).code, 0);
    assert.equal((await c.kubectl(['apply', '-f', c.file('rc.json', sleeperRC('web', NS, 2))])).code, 0);
    await waitUntil('2 pods Running', 90_000, async () => (await runningPods(c, NS, 'web')).length === 2);
    assert.equal((await write(c, 'before')).status, 201);

    const stopped = [...(await masterContainers(c, 2)), ...(await masterContainers(c, 3))];
    assert.equal(stopped.length, 4, 'two containers for each of masters 2 and 3');
    await docker(['stop', '--time', '5', ...stopped]);
    c.log('stopped masters 2 and 3');

    const refused = await Promise.all(['lone-1', 'lone-2', 'lone-3'].map((n) => write(c, n)));
    t.diagnostic(`writes with one master of three: ${refused.map((r) => `${r.status} ${r.reason ?? ''} in ${(r.ms / 1000).toFixed(1)} s`).join('; ')}`);
    // 503: nothing was written. 504: the lone server took the write into its log and
    // could not commit it; it may still be applied when a quorum is back (as an etcd timeout).
    for (const r of refused) assert.ok((r.status === 503 && r.reason === 'ServiceUnavailable') || (r.status === 504 && r.reason === 'Timeout'), `refused with a Status, not ${r.status} ${r.reason}`);

    const t0 = Date.now();
    const list = await c.kubectl(['get', 'pods', '-n', NS, '-o', 'name'], { timeoutMs: 30_000 });
    const listMs = Date.now() - t0;
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 2, list.stdout);
    const one = list.stdout.trim().split('\n')[0]!.replace('pod/', '');
    const t1 = Date.now();
    const got = await c.kubectl(['get', 'pod', one, '-n', NS, '-o', 'name'], { timeoutMs: 30_000 });
    assert.equal(got.code, 0, got.stderr);
    t.diagnostic(`reads with one master: kubectl get pods ${listMs} ms, get pod ${Date.now() - t1} ms`);

    await docker(['start', ...stopped]);
    const back = Date.now();
    await waitUntil('writes to succeed again', 90_000, async () => (await write(c, `after-${Date.now()}`)).status === 201);
    const writableMs = Date.now() - back;
    await waitUntil('three masters reporting', 60_000, async () => {
      const status = await c.get<{ masters?: { items?: { hostname: string }[] } }>('/keelson/v1/status');
      return new Set(status.masters?.items?.map((m) => m.hostname)).size === 3;
    });
    const leases = await c.get<{ items: { metadata: { name: string } }[] }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`);
    const names = leases.items.map((l) => l.metadata.name);
    t.diagnostic(`masters 2 and 3 started: writes succeed ${(writableMs / 1000).toFixed(1)} s later; all three report`);
    assert.ok(names.includes('before'), 'the write from before is there');
    const refusedNames = ['lone-1', 'lone-2', 'lone-3'].filter((_, i) => refused[i]!.status === 503);
    const committedLater = ['lone-1', 'lone-2', 'lone-3'].filter((n, i) => refused[i]!.status === 504 && names.includes(n));
    t.diagnostic(`of the writes answered 504, ${committedLater.length} were committed once the quorum was back`);
    assert.deepEqual(names.filter((n) => refusedNames.includes(n)), [], 'nothing answered 503 was written (no split brain)');
    assert.equal((await runningPods(c, NS, 'web')).length, 2, 'the pods ran on');
  } catch (e) {
    for (const s of ['master-1', 'master-2', 'master-3']) t.diagnostic(`--- ${s}:\n${await c.logs(s, 25)}`);
    throw e;
  }
});
