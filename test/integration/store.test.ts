import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import { isAlreadyExists, isConflict } from '../../services/lib/errors/index.js';
import { Informer, type InformerEvent } from '../../services/lib/informer/index.js';
import { startTestNats, type TestNats, type Topology } from '../harness/nats.js';

const pods = resourceForKind('Pod')!;
const nodes = resourceForKind('Node')!;

function pod(name: string, ns = 'default', image = 'busybox'): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { containers: [{ name: 'main', image }] },
  };
}

for (const topology of ['single', 'cluster'] as Topology[]) {
  describe(`store on ${topology === 'single' ? 'one nats-server (R1)' : 'a 3-node JetStream cluster (R3)'}`, () => {
    // One server (or cluster) per topology; every test gets a bucket of its own.
    let nats: TestNats;
    let buckets = 0;
    before(async () => {
      nats = await startTestNats({ after: () => undefined }, topology);
    });
    after(() => nats?.stop());
    const freshStore = () => nats.store(`t${++buckets}`);
    test('create, get, update with CAS, delete', async (t) => {
      const store = await freshStore();
      const created = await store.create(pods, pod('a'));
      const rv = Number(created.metadata!.resourceVersion);
      assert.ok(rv > 0);
      const got = await store.get(pods, 'default', 'a');
      assert.equal(got?.metadata?.resourceVersion, String(rv));
      assert.deepEqual((got as any).spec.containers[0].image, 'busybox');

      await assert.rejects(store.create(pods, pod('a')), (e) => isAlreadyExists(e));

      const next = { ...got!, spec: { containers: [{ name: 'main', image: 'nginx' }] } };
      const updated = await store.update(pods, next, rv);
      assert.ok(Number(updated.metadata!.resourceVersion) > rv);
      await assert.rejects(store.update(pods, next, rv), (e) => isConflict(e));

      await assert.rejects(store.delete(pods, 'default', 'a', rv), (e) => isConflict(e));
      await store.delete(pods, 'default', 'a', Number(updated.metadata!.resourceVersion));
      assert.equal(await store.get(pods, 'default', 'a'), undefined);
      // A deleted name can be created again.
      await store.create(pods, pod('a'));
    });

    test('list is a consistent snapshot with its revision', async (t) => {
      const store = await freshStore();
      assert.deepEqual((await store.list(pods)).items, []);
      for (const n of ['a', 'b', 'c']) await store.create(pods, pod(n));
      await store.create(pods, pod('x', 'other'));
      await store.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
      await store.delete(pods, 'default', 'b');
      const all = await store.list(pods);
      assert.deepEqual(all.items.map((p) => p.metadata!.name).sort(), ['a', 'c', 'x']);
      assert.equal(all.revision, await store.revision());
      const inNs = await store.list(pods, 'other');
      assert.deepEqual(inNs.items.map((p) => p.metadata!.name), ['x']);
      assert.deepEqual((await store.list(nodes)).items.map((n) => n.metadata!.name), ['n1']);
    });

    test('watch from a revision streams only later changes, in order', async (t) => {
      const store = await freshStore();
      await store.create(pods, pod('old'));
      const from = await store.revision();
      const seen: string[] = [];
      const w = await store.watch({ resource: pods }, (ev) => seen.push(`${ev.object ? 'PUT' : 'DEL'} ${ev.key.name}@${ev.revision}`), {
        fromRevision: from,
      });
      t.after(() => w.stop());
      await w.synced;
      const a = await store.create(pods, pod('new'));
      await store.delete(pods, 'default', 'old');
      const deadline = Date.now() + 5000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(seen, [`PUT new@${a.metadata!.resourceVersion}`, `DEL old@${Number(a.metadata!.resourceVersion) + 1}`]);
    });

    test('informer: synced cache, then ADDED / MODIFIED / DELETED in order', async (t) => {
      const store = await freshStore();
      await store.create(pods, pod('a'));
      await store.create(pods, pod('b', 'other'));
      const inf = new Informer(store, { resource: pods });
      t.after(() => inf.stop());
      const events: InformerEvent[] = [];
      inf.on((e) => events.push(e));
      await inf.start();
      assert.equal(inf.hasSynced, true);
      assert.deepEqual(inf.list(pods).map((p) => p.metadata!.name).sort(), ['a', 'b']);
      assert.deepEqual(inf.list(pods, 'other').map((p) => p.metadata!.name), ['b']);
      assert.ok(events.every((e) => e.initial && e.type === 'ADDED'));

      const a = inf.get(pods, 'default', 'a')!;
      const upd = await store.update(pods, { ...a, metadata: { ...a.metadata, labels: { v: '2' } } }, Number(a.metadata!.resourceVersion));
      await store.delete(pods, 'other', 'b');
      await inf.waitForRevision(await store.revision());
      const live = events.filter((e) => !e.initial).map((e) => `${e.type} ${e.key.name}`);
      assert.deepEqual(live, ['MODIFIED a', 'DELETED b']);
      assert.equal(inf.get(pods, 'default', 'a')?.metadata?.resourceVersion, upd.metadata!.resourceVersion);
      const deleted = events.at(-1)!;
      assert.equal(deleted.object.metadata?.name, 'b');
      assert.equal(inf.get(pods, 'other', 'b'), undefined);
    });

    test('a filtered informer caches only what matches; an object that stops matching is DELETED', async (t) => {
      const store = await freshStore();
      await store.create(pods, pod('kept'));
      await store.create(pods, pod('other', 'default', 'nginx'));
      const inf = new Informer(store, { resource: pods, filter: (o) => (o as any).spec.containers[0].image === 'busybox' });
      t.after(() => inf.stop());
      const events: InformerEvent[] = [];
      inf.on((e) => events.push(e));
      await inf.start();
      assert.deepEqual(inf.list(pods).map((p) => p.metadata!.name), ['kept']);

      const other = await store.get(pods, 'default', 'other');
      await store.update(pods, { ...other!, spec: { containers: [{ name: 'main', image: 'busybox' }] } }, Number(other!.metadata!.resourceVersion));
      const kept = await store.get(pods, 'default', 'kept');
      await store.update(pods, { ...kept!, spec: { containers: [{ name: 'main', image: 'nginx' }] } }, Number(kept!.metadata!.resourceVersion));
      await store.create(pods, pod('ignored', 'default', 'nginx'));
      await inf.waitForRevision(await store.revision());
      assert.deepEqual(events.map((e) => `${e.type} ${e.key.name}`), ['ADDED kept', 'ADDED other', 'DELETED kept']);
      assert.deepEqual(inf.list(pods).map((p) => p.metadata!.name), ['other']);
    });

    test('informer on an empty bucket is synced at once', async (t) => {
      const store = await freshStore();
      const inf = new Informer(store);
      t.after(() => inf.stop());
      await inf.start();
      assert.equal(inf.list(pods).length, 0);
      await store.create(pods, pod('late'));
      await inf.waitForRevision(await store.revision());
      assert.equal(inf.get(pods, 'default', 'late')?.metadata?.name, 'late');
    });
  });
}
