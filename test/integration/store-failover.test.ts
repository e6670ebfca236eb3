/**
 * The object store through a lost acknowledgement and through the death of the
 * server leading its stream: writes are retried inside the store's deadline,
 * never applied twice, never answered with a false conflict, never lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/nats-core';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import { startNatsCluster } from '../../services/lib/nats-server/index.js';
import { connectNats, type NatsConnection } from '../../services/lib/nats/index.js';
import { Bucket, type Written } from '../../services/lib/store/bucket.js';
import { DEFAULT_RETRY_POLICY } from '../../services/lib/store/retry.js';
import { Informer } from '../../services/lib/informer/index.js';
import { Store, withRequestId } from '../../services/lib/store/index.js';
import { isAlreadyExists, isConflict } from '../../services/lib/errors/index.js';
import { startTestNats, type Topology } from '../harness/nats.js';

const pods = resourceForKind('Pod')!;

function pod(name: string, image: string): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'main', image }] } };
}

const imageOf = (o: KObject | undefined) => (o as { spec?: { containers?: { image?: string }[] } } | undefined)?.spec?.containers?.[0]?.image;

async function openStore(nc: NatsConnection, bucket: string, replicas: number, onRetry?: (e: unknown) => void): Promise<Store> {
  // A new cluster elects its JetStream meta leader first: retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      return await Store.open(nc, { bucket, replicas, onRetry });
    } catch (e) {
      if (attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

for (const topology of ['single', 'cluster'] as Topology[]) {
  describe(`a write whose acknowledgement is lost (${topology === 'single' ? 'R1' : 'R3'})`, () => {
    /** A bucket whose next `lose` publishes are stored but answered with a timeout. */
    async function lossyBucket(t: TestContext) {
      const nats = await startTestNats(t, topology);
      const store = await nats.store('lossy');
      const nc = await nats.connect('lossy');
      const real = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      let lose = 0;
      const js = {
        publish: async (...args: Parameters<JetStreamClient['publish']>) => {
          const ack = await real.publish(...args);
          if (lose > 0) {
            lose--;
            throw new TimeoutError();
          }
          return ack;
        },
      } as unknown as JetStreamClient;
      const bucket = new Bucket({ bucket: 'lossy', js, jsm, policy: { ...DEFAULT_RETRY_POLICY, deadlineMs: 5_000 } });
      const lastSeq = async () => Number((await jsm.streams.info('KV_lossy')).state.last_seq);
      return { store, bucket, lastSeq, loseNext: () => void (lose = 1) };
    }

    test('create, update, delete and create over the deletion each store once and return their revision', async (t) => {
      const { bucket, lastSeq, loseNext } = await lossyBucket(t);
      const bytes = (s: string) => new TextEncoder().encode(s);
      const expectOneWrite = async (what: string, write: () => Promise<number | Written>) => {
        const before = await lastSeq();
        loseNext();
        const w = await write();
        const rev = typeof w === 'number' ? w : w.revision;
        assert.equal(await lastSeq(), before + 1, `${what}: stored exactly once`);
        assert.equal(rev, before + 1, `${what}: answered with the stored revision`);
        return rev;
      };
      const created = await expectOneWrite('create', () => bucket.create('pods.default.a', bytes('v1')));
      const updated = await expectOneWrite('update', () => bucket.update('pods.default.a', bytes('v2'), created));
      assert.equal(new TextDecoder().decode((await bucket.get('pods.default.a'))!.value), 'v2');
      const deleted = await expectOneWrite('delete', () => bucket.delete('pods.default.a', updated));
      assert.equal((await bucket.get('pods.default.a'))!.deleted, true);
      await expectOneWrite('create over a deletion', () => bucket.create('pods.default.a', bytes('v3')));
      assert.ok(deleted > updated);
      // A real conflict stays a conflict.
      await assert.rejects(bucket.update('pods.default.a', bytes('v4'), created), (e: { code?: number }) => e.code === 10071);
      await assert.rejects(bucket.create('pods.default.a', bytes('v5')), (e: { code?: number }) => e.code === 10071);
    });

    test('a request replayed on another API server (same request id) is answered as its first attempt, once stored', async (t) => {
      const { store, lastSeq } = await lossyBucket(t);
      const nats2 = await Store.open(store.connection, { bucket: 'lossy', bindOnly: true });
      const first = await withRequestId('haproxy-req-0001', () => store.create(pods, { ...pod('r', 'img-1'), metadata: { name: 'r', namespace: 'default', uid: 'uid-first' } }));
      const before = await lastSeq();
      // The replay builds its object anew (another uid), as a second API server would.
      const replay = await withRequestId('haproxy-req-0001', () => nats2.create(pods, { ...pod('r', 'img-1'), metadata: { name: 'r', namespace: 'default', uid: 'uid-replay' } }));
      assert.equal(await lastSeq(), before, 'nothing stored twice');
      assert.equal(replay.metadata?.resourceVersion, first.metadata?.resourceVersion);
      assert.equal(replay.metadata?.uid, 'uid-first', 'the answer is what is stored');
      await assert.rejects(
        withRequestId('haproxy-req-0002', () => nats2.create(pods, pod('r', 'img-1'))),
        (e) => isAlreadyExists(e),
        'another request is a conflict',
      );
    });
  });
}

/** A 3-server cluster of this test's own (the harness's cannot have a server killed), and connections to it, all gone at the end. */
async function killableCluster(t: TestContext, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cluster = await startNatsCluster(dir, 3);
  const conns: NatsConnection[] = [];
  t.after(async () => {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const connect = async (name: string, urls = cluster.urls) => {
    const nc = await connectNats(urls, name);
    conns.push(nc);
    return nc;
  };
  return { cluster, connect };
}

describe('racing compare-and-swaps on R3 (nats-server#4320)', () => {
  test('of writes from one revision through three servers, exactly one is acknowledged', async (t) => {
    const { cluster, connect } = await killableCluster(t, 'keelson-race-');
    const stores: Store[] = [];
    for (const url of cluster.urls) {
      const nc = await connect('race', [url]);
      stores.push(stores.length === 0 ? await openStore(nc, 'race', 3) : await Store.open(nc, { bucket: 'race', bindOnly: true }));
    }
    const ROUNDS = 100;
    let doubled = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const name = `p${r}`;
      const rv = Number((await stores[0]!.create(pods, pod(name, 'v0'))).metadata!.resourceVersion);
      const results = await Promise.allSettled(stores.map((s, i) => s.update(pods, pod(name, `v${i + 1}`), rv)));
      const won = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
      for (const x of results) if (x.status === 'rejected') assert.ok(isConflict(x.reason), String(x.reason));
      if (won.length !== 1) doubled++;
      const stored = await stores[0]!.get(pods, 'default', name);
      if (won.length === 1) {
        assert.equal(stored?.metadata?.resourceVersion, won[0]!.metadata!.resourceVersion);
        assert.equal(imageOf(stored), imageOf(won[0]));
      }
    }
    t.diagnostic(`${ROUNDS} rounds of 3 racing updates: ${doubled} rounds without exactly one acknowledged`);
    assert.equal(doubled, 0);
  });
});

describe('reads of one object on R3', () => {
  test('see a write at once, whichever server they go through, on new buckets', async (t) => {
    const { cluster, connect } = await killableCluster(t, 'keelson-reads-');
    const conns = await Promise.all(cluster.urls.map((url) => connect('reads', [url])));
    // A new bucket's replicas may not have its first write when the create is
    // acknowledged: a replica's direct get missed it in 1 of 120 new buckets
    // here (and failed store.test.ts's R3 'create, get' in CI). Rare, so this is the
    // real path's check; that only the stream leader answers is unit-tested
    // (test/unit/store-retry.test.ts, "a read of one key").
    const BUCKETS = 20;
    const missed: string[] = [];
    for (let b = 0; b < BUCKETS; b++) {
      const writer = await openStore(conns[b % 3]!, `reads${b}`, 3);
      const readers = await Promise.all([1, 2].map((k) => Store.open(conns[(b + k) % 3]!, { bucket: `reads${b}`, bindOnly: true })));
      const created = await writer.create(pods, pod('a', 'v0'));
      const got = await Promise.all(readers.map((r) => r.get(pods, 'default', 'a')));
      for (const g of got) if (g?.metadata?.resourceVersion !== created.metadata!.resourceVersion) missed.push(`reads${b}: ${g?.metadata?.resourceVersion ?? 'nothing'}`);
    }
    t.diagnostic(`${BUCKETS * 2} reads right after the first write to a new bucket, through another server: ${missed.length} stale`);
    assert.deepEqual(missed, []);
  });
});

describe('the store when the server leading its stream is killed (R3)', () => {
  test('a steady load of writes sees latency, not errors, and no acknowledged write is lost', async (t) => {
    const { cluster, connect } = await killableCluster(t, 'keelson-failover-');
    const retried = new Map<string, number>();
    const onRetry = (e: unknown) => {
      const k = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      retried.set(k, (retried.get(k) ?? 0) + 1);
    };
    const first = await openStore(await connect('store-0'), 'failover', 3, onRetry);
    const info = await jetstreamManager(first.connection).then((m) => m.streams.info('KV_failover'));
    const leader = cluster.servers.find((s) => s.serverName === info.cluster?.leader);
    assert.ok(leader, `stream leader ${info.cluster?.leader} is one of ours`);
    // Two stores, as two API servers would be: one connected to the leader
    // (its requests in flight die with it), one to another server.
    const stores = [first];
    for (let i = 0; stores.length < 2 || !stores.some((s) => s.connection.info?.server_name === leader.serverName); i++) {
      assert.ok(i < 30, 'a connection to the stream leader');
      const s = await Store.open(await connect(`store-${i + 1}`), { bucket: 'failover', bindOnly: true, onRetry });
      stores.push(s);
    }

    // A watch on each store, as each API server's watch cache has: it must follow the stream's new leader.
    const informers = stores.map((s) => new Informer(s, { resource: pods }));
    await Promise.all(informers.map((i) => i.start()));
    t.after(() => Promise.all(informers.map((i) => i.stop())));

    const KEYS = 24;
    const RATE_PER_S = 40;
    const RUN_MS = 15_000;
    const KILL_AT_MS = 4_000;
    type Acked = { op: 'create' | 'update' | 'delete'; rev: number; image?: string };
    const acked = new Map<number, Acked[]>();
    const failed: string[] = [];
    const latencies: { at: number; ms: number }[] = [];
    const busy = new Set<number>();
    let readFailures = 0;
    let reads = 0;
    let writes = 0;
    const start = Date.now();
    let killedAt = 0;

    const step = async (k: number, n: number) => {
      const store = stores[k % stores.length]!;
      const name = `p${k}`;
      const last = acked.get(k)?.at(-1);
      const image = `img-${n}`;
      const t0 = Date.now();
      let done: Acked;
      if (!last || last.op === 'delete') {
        done = { op: 'create', rev: Number((await store.create(pods, pod(name, image))).metadata!.resourceVersion), image };
      } else if (n % 10 === 9) {
        await store.delete(pods, 'default', name, last.rev);
        done = { op: 'delete', rev: 0 };
      } else {
        done = { op: 'update', rev: Number((await store.update(pods, pod(name, image), last.rev)).metadata!.resourceVersion), image };
      }
      latencies.push({ at: t0, ms: Date.now() - t0 });
      acked.set(k, [...(acked.get(k) ?? []), done]);
    };

    const inflight: Promise<void>[] = [];
    let n = 0;
    while (Date.now() - start < RUN_MS) {
      if (!killedAt && Date.now() - start >= KILL_AT_MS) {
        killedAt = Date.now();
        void leader.kill();
      }
      const k = n % KEYS;
      if (!busy.has(k)) {
        busy.add(k);
        const i = n;
        writes++;
        inflight.push(
          step(k, i)
            .catch((e) => void failed.push(`p${k} write ${i}: ${(e as Error).message}`))
            .finally(() => busy.delete(k)),
        );
      }
      // Reads of single objects go to the KV too (not the watch cache).
      if (n % 4 === 0) {
        reads++;
        inflight.push(
          stores[n % stores.length]!.get(pods, 'default', `p${(n + 7) % KEYS}`).then(
            () => undefined,
            () => void readFailures++,
          ),
        );
      }
      n++;
      await new Promise((r) => setTimeout(r, 1000 / RATE_PER_S));
    }
    await Promise.all(inflight);

    const afterKill = latencies.filter((l) => l.at + l.ms >= killedAt);
    const stall = Math.max(0, ...afterKill.map((l) => l.ms));
    const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
    t.diagnostic(`${writes} writes (${RATE_PER_S}/s on ${KEYS} keys, 2 stores), ${failed.length} failed; ${reads} reads, ${readFailures} failed`);
    t.diagnostic(`killed stream leader ${leader.serverName} at +${killedAt - start} ms; longest write stall ${stall} ms; p50 ${sorted[sorted.length >> 1]} ms`);
    for (const [k, count] of retried) t.diagnostic(`retried ${count}x: ${k}`);

    assert.deepEqual(failed, [], 'no write failed');
    assert.equal(readFailures, 0, 'no read failed');
    assert.ok(stall < DEFAULT_RETRY_POLICY.deadlineMs, `longest stall ${stall} ms`);

    // Every key holds its last acknowledged write, at its acknowledged revision.
    // Earlier ones are proven by the chain: each update's compare-and-swap on the
    // previous acknowledged revision succeeded, so that write was in place.
    const reader = stores.find((s) => s.connection.info?.server_name !== leader.serverName)!;
    let lost = 0;
    for (const [k, history] of acked) {
      const want = history.at(-1)!;
      const got = await reader.get(pods, 'default', `p${k}`);
      const ok = want.op === 'delete' ? got === undefined : got?.metadata?.resourceVersion === String(want.rev) && imageOf(got) === want.image;
      if (!ok) {
        lost++;
        t.diagnostic(`p${k}: acknowledged ${JSON.stringify(want)}, store holds rv ${got?.metadata?.resourceVersion} ${imageOf(got)}`);
      }
    }
    t.diagnostic(`${[...acked.values()].reduce((a, h) => a + h.length, 0)} acknowledged writes, ${lost} keys not at their last acknowledged write`);
    assert.equal(lost, 0, 'no acknowledged write lost');

    // The watches caught up: a watch whose consumer died with the server, or that
    // its consumer left silent after the election, is resumed by the store's watchdog.
    const head = Math.max(...[...acked.values()].map((h) => h.at(-1)!.rev));
    await t.test('both watches catch up with the last acknowledged write', async (st) => {
      const caughtUp = Date.now();
      // The election (4–9 s, now and then a second round), then the watchdog (a check every 2 s) and a resume —
      // twice when the new consumer is placed on the dead server, as nats-server 2.9.10 sometimes does.
      await Promise.all(informers.map((i) => i.waitForRevision(head, 30_000)));
      st.diagnostic(`both watches reached the last acknowledged revision ${head} ${Date.now() - caughtUp} ms after the load ended`);
    });
  });
});
