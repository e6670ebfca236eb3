/**
 * The registry's read of one object: from the watch cache once it has caught up
 * with the store (`fresh`), and a write builds on a copy, never on the cache's
 * own object. Store and cache are stand-ins; the real ones are in
 * test/integration/apiserver-http.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import { Registry } from '../../services/apiserver/registry/index.js';

const pods = resourceForKind('Pod')!;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** A cache that holds `pending` only once `fresh()` has been awaited (it was behind the store). */
function setUp(pending: KObject) {
  const held = new Map<string, KObject>();
  const writes: KObject[] = [];
  const cache = {
    fresh: async () => {
      held.set(`${pending.metadata!.namespace}/${pending.metadata!.name}`, pending);
      return Number(pending.metadata!.resourceVersion);
    },
    // Keyed as the informer keys: `namespace/name`, a cluster-scoped object by its name.
    get: (_r: unknown, ns: string, name: string) => held.get(ns ? `${ns}/${name}` : name),
  };
  const store = {
    update: async (_r: unknown, obj: KObject, rev: number) => (writes.push(obj), { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rev + 1) } }),
  };
  return { registry: new Registry(store as never, cache as never), writes };
}

const running = (): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'a', namespace: 'default', uid: 'u1', resourceVersion: '7', creationTimestamp: '2026-11-28T00:00:00Z' },
  spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: 'n1' },
  // No qosClass yet: defaulting an update sets it, in the status an update keeps.
  status: { phase: 'Running' },
});

test('a read waits for the cache to catch up with the store', async () => {
  const { registry } = setUp(running());
  assert.equal((await registry.get(pods, 'default', 'a')).metadata?.resourceVersion, '7');
});

test('a name holding / names nothing, not another namespace\'s object', async () => {
  const { registry } = setUp(running());
  await assert.rejects(registry.get(pods, '', 'default/a'), (e: { code?: number }) => e.code === 404);
});

test('an update builds on a copy: the cache\'s object is never changed', async () => {
  const cached = deepFreeze(running());
  const { registry, writes } = setUp(cached);
  const body = { ...running(), metadata: { ...running().metadata, labels: { x: 'y' } } };
  delete (body as { status?: unknown }).status;
  const updated = await registry.update(pods, 'default', 'a', body);
  assert.equal(updated.metadata?.resourceVersion, '8');
  assert.equal(writes.length, 1);
  assert.equal((writes[0]!.status as { qosClass?: string }).qosClass, 'BestEffort');
  assert.equal((cached.status as { qosClass?: string }).qosClass, undefined);
});

test('a patch builds on a copy too', async () => {
  const cached = deepFreeze(running());
  const { registry, writes } = setUp(cached);
  const { object } = await registry.patch(pods, 'default', 'a', 'merge', { metadata: { labels: { x: 'y' } } });
  assert.deepEqual(object.metadata?.labels, { x: 'y' });
  assert.equal(writes.length, 1);
  assert.equal(cached.metadata?.labels, undefined);
});
