/**
 * The API server's NATS edge, through Keelson's own client (services/lib/client):
 * protobuf request/reply on the API servers' queue group, errors as ApiErrors,
 * and watches and informers that see what HTTP clients change. One nats-server
 * for the file; every API server here shares one bucket, as the servers of one
 * cluster do (they all answer the same request subject).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Svcm } from '@nats-io/services';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { API_SERVICE_NAME } from '../../services/lib/api/nats-api.js';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { ApiError } from '../../services/lib/errors/index.js';
import type { InformerEvent } from '../../services/lib/informer/index.js';
import type { StoreEvent } from '../../services/lib/store/index.js';
import { until } from '../harness/wait.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

type Json = any;

const BUCKET = 'nats-api';
const PODS = resourceForKind('Pod')!;

function pod(name: string, ns: string, opts: { labels?: Record<string, string>; nodeName?: string } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36', ports: [{ containerPort: 80 }] }], ...(opts.nodeName ? { nodeName: opts.nodeName } : {}) },
  };
}

function template(app: string): Json {
  return { metadata: { labels: { app } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

/** One valid object of every kind the API serves, in namespace `ns`. */
function oneOfEach(ns: string): KObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${ns}-extra` } },
    pod('p', ns, { labels: { app: 'p' } }),
    { apiVersion: 'v1', kind: 'Node', metadata: { name: `${ns}-node`, labels: { zone: 'a' } }, spec: { podCIDR: '10.1.0.0/24' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: ns }, spec: { selector: { app: 'p' }, ports: [{ port: 80, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'svc', namespace: ns }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 8080 }] }] },
    { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc', namespace: ns }, spec: { replicas: 2, selector: { app: 'rc' }, template: template('rc') } },
    {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'ev', namespace: ns },
      involvedObject: { kind: 'Pod', name: 'p', namespace: ns },
      reason: 'Created',
      message: 'made',
      type: 'Normal',
      source: { component: 'test' },
      count: 1,
    },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dep', namespace: ns }, spec: { replicas: 2, selector: { matchLabels: { app: 'dep' } }, template: template('dep') } },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs', namespace: ns }, spec: { replicas: 2, selector: { matchLabels: { app: 'rs' } }, template: template('rs') } },
    { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lease', namespace: ns }, spec: { holderIdentity: 'me', leaseDurationSeconds: 15 } },
  ];
}

/** Asserts an ApiError as the client raises it from a failure Status. */
async function rejectsWith(p: Promise<unknown>, reason: string, code: number, message?: RegExp): Promise<ApiError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ApiError, `expected an ApiError ${reason}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, code);
  if (message) assert.match(caught.message, message);
  return caught;
}


describe('API server over NATS (KeelsonClient)', () => {
  let nats: TestNats;
  let server: ApiServer;
  let client: KeelsonClient;
  let namespaces = 0;
  const extra: ApiServer[] = [];

  before(async () => {
    nats = await startTestNats({ after: () => undefined });
    server = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    client = await KeelsonClient.connect(nats.urls, 'test-client', { bucket: BUCKET, timeoutMs: 5000 });
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    for (const s of extra) await s.stop();
    await server?.stop();
    await nats?.stop();
  });

  async function freshNamespace(): Promise<string> {
    const name = `n${++namespaces}`;
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return name;
  }

  async function http(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Json> {
    const res = await fetch(server.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const out = await res.json();
    assert.ok(res.status < 300, `${method} ${path} → ${res.status}: ${JSON.stringify(out)}`);
    return out;
  }

  test('create, get, list and delete every kind', async () => {
    const ns = await freshNamespace();
    for (const obj of oneOfEach(ns)) {
      const kind = obj.kind!;
      const created = await client.create(obj);
      assert.equal(created.kind, kind);
      assert.equal(created.apiVersion, obj.apiVersion);
      assert.match(created.metadata!.uid!, /^[0-9a-f-]{36}$/, kind);
      assert.match(created.metadata!.resourceVersion!, /^[1-9]\d*$/, kind);
      assert.equal(created.metadata!.generation, 1, kind);
      const got = await client.get(kind, obj.metadata!.namespace, obj.metadata!.name!);
      assert.deepEqual(got, created, `${kind}: get returns what create answered`);
      // The same object over HTTP.
      const scope = kind === 'Namespace' || kind === 'Node' ? '' : ns;
      const list = await client.list(kind, scope);
      const found = list.items.find((o) => o.metadata!.name === obj.metadata!.name);
      assert.deepEqual(found, created, `${kind} is listed`);
      assert.ok(Number(list.resourceVersion) >= Number(created.metadata!.resourceVersion), `${kind}: the list revision`);
    }
    // Defaults were applied on the way in.
    const p = await client.get('pods', ns, 'p');
    assert.equal((p.spec as Json).restartPolicy, 'Always');
    assert.equal((p.status as Json).phase, 'Pending');
    const svc = await client.get('svc', ns, 'svc');
    assert.equal((svc.spec as Json).type, 'ClusterIP');
    assert.equal((svc.spec as Json).ports[0].protocol, 'TCP');
    const dep = await client.get('deploy', ns, 'dep');
    assert.equal((dep.spec as Json).strategy.type, 'RollingUpdate');

    for (const obj of oneOfEach(ns).reverse()) {
      await client.delete(obj.kind!, obj.metadata!.namespace, obj.metadata!.name!);
      if (obj.kind === 'Namespace') {
        await until('the extra namespace to go', async () => (await client.get('ns', undefined, obj.metadata!.name!).catch((e) => e)) instanceof ApiError || undefined);
        continue;
      }
      await rejectsWith(client.get(obj.kind!, obj.metadata!.namespace, obj.metadata!.name!), 'NotFound', 404);
    }
  });

  test('list with selectors, limits and across namespaces', async () => {
    const ns = await freshNamespace();
    const other = await freshNamespace();
    await client.create(pod('a', ns, { labels: { app: 'web' } }));
    await client.create(pod('b', ns, { labels: { app: 'db' }, nodeName: 'node-1' }));
    await client.create(pod('c', other, { labels: { app: 'web' } }));
    const names = (l: { items: KObject[] }) => l.items.map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`);
    assert.deepEqual(names(await client.list('pods', ns)), [`${ns}/a`, `${ns}/b`]);
    assert.deepEqual(names(await client.list('pods', ns, { labelSelector: 'app in (web)' })), [`${ns}/a`]);
    assert.deepEqual(names(await client.list('pods', ns, { fieldSelector: 'spec.nodeName=node-1' })), [`${ns}/b`]);
    const page1 = await client.list('pods', ns, { limit: 1 });
    assert.deepEqual(names(page1), [`${ns}/a`]);
    assert.equal(page1.remainingItemCount, 1);
    assert.ok(page1.continue, 'a page says where the next one starts');
    const page2 = await client.list('pods', ns, { limit: 1, continue: page1.continue });
    assert.deepEqual(names(page2), [`${ns}/b`]);
    assert.equal(page2.continue, undefined);
    const everywhere = names(await client.list('pods', '', { labelSelector: 'app=web' })).filter((n) => n.startsWith(`${ns}/`) || n.startsWith(`${other}/`));
    assert.deepEqual(everywhere, [`${ns}/a`, `${other}/c`]);
    await rejectsWith(client.list('pods', ns, { labelSelector: 'app in web' }), 'BadRequest', 400);
    await rejectsWith(client.list('pods', ns, { fieldSelector: 'spec.nope=x' }), 'BadRequest', 400);
  });

  test('update and updateStatus', async () => {
    const ns = await freshNamespace();
    const created = await client.create(pod('p', ns));
    const labelled = await client.update({ ...created, metadata: { ...created.metadata, labels: { v: '2' } } });
    assert.deepEqual(labelled.metadata!.labels, { v: '2' });
    assert.ok(Number(labelled.metadata!.resourceVersion) > Number(created.metadata!.resourceVersion));
    // A stale resourceVersion loses.
    const stale = await rejectsWith(client.update({ ...created, metadata: { ...created.metadata, labels: { v: '3' } } }), 'Conflict', 409, /the object has been modified/);
    assert.equal(stale.details?.name, 'p');
    assert.equal(stale.details?.kind, 'pods');
    // The status goes through /status only.
    const running = await client.updateStatus({ ...labelled, metadata: { ...labelled.metadata, labels: { v: 'ignored' } }, status: { phase: 'Running', podIP: '10.0.0.9' } });
    assert.equal((running.status as Json).phase, 'Running');
    assert.deepEqual(running.metadata!.labels, { v: '2' });
    const main = await client.update({ ...running, status: { phase: 'Failed' } });
    assert.equal((main.status as Json).phase, 'Running');
    assert.equal((await client.get('Pod', ns, 'p')).metadata!.resourceVersion, main.metadata!.resourceVersion);
    const badStatus = await rejectsWith(client.updateStatus({ ...main, status: { phase: 'Running', podIP: 'not-an-ip' } }), 'Invalid', 422);
    assert.equal(badStatus.details?.causes?.[0]?.field, 'status.podIP');
    await rejectsWith(client.update({ ...pod('ghost', ns) }), 'NotFound', 404);
    // The generation of a workload moves with its spec only.
    const rc = await client.create({ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc', namespace: ns }, spec: { replicas: 1, selector: { app: 'rc' }, template: template('rc') } });
    const rc2 = await client.update({ ...rc, spec: { ...(rc.spec as Json), replicas: 3 } });
    assert.equal(rc2.metadata!.generation, 2);
    const rc3 = await client.updateStatus({ ...rc2, status: { replicas: 3, observedGeneration: 2 } });
    assert.equal(rc3.metadata!.generation, 2);
    assert.equal((rc3.status as Json).replicas, 3);
  });

  test('patch: json, merge, strategic and apply', async () => {
    const ns = await freshNamespace();
    await client.create(pod('p', ns, { labels: { app: 'p' } }));
    const json = await client.patch('pods', ns, 'p', 'json', [{ op: 'add', path: '/metadata/labels/tier', value: 'front' }]);
    assert.deepEqual(json.metadata!.labels, { app: 'p', tier: 'front' });
    const merge = await client.patch('pods', ns, 'p', 'merge', { metadata: { labels: { tier: null, x: 'y' } } });
    assert.deepEqual(merge.metadata!.labels, { app: 'p', x: 'y' });
    const strategic = await client.patch('pods', ns, 'p', 'strategic', { spec: { containers: [{ name: 'main', image: 'nginx:1.25' }] } });
    const c = (strategic.spec as Json).containers[0];
    assert.equal(c.image, 'nginx:1.25');
    assert.deepEqual(c.ports, [{ containerPort: 80, protocol: 'TCP' }], 'a strategic merge keeps the ports');
    const status = await client.patch('pods', ns, 'p', 'merge', { status: { phase: 'Running' } }, 'status');
    assert.equal((status.status as Json).phase, 'Running');
    assert.deepEqual(await client.get('pods', ns, 'p'), status);

    const applied = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web, namespace: ' + ns + '}',
      'spec:',
      '  replicas: 1',
      '  selector: {matchLabels: {app: web}}',
      '  template:',
      '    metadata: {labels: {app: web}}',
      '    spec: {containers: [{name: main, image: "busybox:1.36"}]}',
    ].join('\n');
    const created = await client.patch('deployments', ns, 'web', 'apply', applied);
    assert.equal(created.metadata!.name, 'web');
    assert.equal((created.spec as Json).replicas, 1);
    const reapplied = await client.patch('deployments', ns, 'web', 'apply', applied.replace('replicas: 1', 'replicas: 4'));
    assert.equal(reapplied.metadata!.uid, created.metadata!.uid);
    assert.equal((reapplied.spec as Json).replicas, 4);
    assert.equal(reapplied.metadata!.generation, 2);

    await rejectsWith(client.patch('pods', ns, 'ghost', 'merge', { metadata: { labels: { a: 'b' } } }), 'NotFound', 404);
    await rejectsWith(client.patch('pods', ns, 'p', 'merge', '{not json'), 'BadRequest', 400);
    const invalid = await rejectsWith(client.patch('pods', ns, 'p', 'json', [{ op: 'replace', path: '/spec/containers/0/image', value: '' }]), 'Invalid', 422);
    assert.equal(invalid.details?.causes?.[0]?.field, 'spec.containers[0].image');
    assert.equal(((await client.get('pods', ns, 'p')).spec as Json).containers[0].image, 'nginx:1.25');
  });

  test('errors come back as ApiErrors with their reason', async () => {
    const ns = await freshNamespace();
    await client.create(pod('p', ns));
    await rejectsWith(client.get('pods', ns, 'nope'), 'NotFound', 404, /^pods "nope" not found$/);
    const dup = await rejectsWith(client.create(pod('p', ns)), 'AlreadyExists', 409, /^pods "p" already exists$/);
    assert.deepEqual(dup.details, { name: 'p', group: '', kind: 'pods' });
    const invalid = await rejectsWith(
      client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name', namespace: ns }, spec: { containers: [{ name: 'main', image: '' }] } }),
      'Invalid',
      422,
      /^Pod "Bad_Name" is invalid: /,
    );
    const fields = invalid.details!.causes!.map((c) => c.field);
    assert.ok(fields.includes('metadata.name'), JSON.stringify(fields));
    assert.ok(fields.includes('spec.containers[0].image'), JSON.stringify(fields));
    for (const cause of invalid.details!.causes!) {
      assert.equal(typeof cause.reason, 'string');
      assert.ok(cause.message.length > 0);
    }
    assert.equal(invalid.details!.kind, 'Pod');
    await rejectsWith(client.create(pod('p', 'no-such-namespace')), 'NotFound', 404, /^namespaces "no-such-namespace" not found$/);
    await rejectsWith(client.delete('pods', ns, 'nope'), 'NotFound', 404);
    await rejectsWith(client.request({ verb: 'get', version: 'v1', resource: 'widgets', namespace: ns, name: 'x' }), 'NotFound', 404);
    await rejectsWith(client.request({ verb: 'get', version: 'v1', resource: 'pods', namespace: ns }), 'BadRequest', 400);
    await rejectsWith(client.request({ verb: 'create', version: 'v1', resource: 'pods', namespace: ns }), 'BadRequest', 400);
    await rejectsWith(client.request({ verb: 'patch', version: 'v1', resource: 'pods', namespace: ns, name: 'p', patchType: 'text/plain', body: new TextEncoder().encode('{}') }), 'UnsupportedMediaType', 415);
    await rejectsWith(client.scale('rc', ns, 'nope', 1), 'NotFound', 404);
    // Subresources a resource does not have are not there (not writes to the object).
    await rejectsWith(client.scale('pods', ns, 'p', 3), 'NotFound', 404, /pods\/scale/);
    const p = await client.get('pods', ns, 'p');
    await rejectsWith(client.update({ ...p, metadata: { ...p.metadata, labels: { via: 'widgets' } } }, { subresource: 'widgets' as 'status' }), 'NotFound', 404);
    await rejectsWith(client.updateStatus({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: ns } }), 'NotFound', 404, /events\/status/);
    assert.deepEqual(await client.get('pods', ns, 'p'), p);
    // Nothing of that was written.
    assert.deepEqual((await client.list('pods', ns)).items.map((o) => o.metadata!.name), ['p']);
  });

  test('dryRun creates nothing', async () => {
    const ns = await freshNamespace();
    const dry = await client.create(pod('dry', ns), { dryRun: true });
    assert.equal(dry.metadata!.name, 'dry');
    assert.equal((dry.spec as Json).restartPolicy, 'Always');
    await rejectsWith(client.get('pods', ns, 'dry'), 'NotFound', 404);
  });

  test('bind, then graceful and immediate deletion', async () => {
    const ns = await freshNamespace();
    await client.create(pod('p', ns));
    const bound = await client.bind(ns, 'p', 'node-1');
    assert.equal((bound.spec as Json).nodeName, 'node-1');
    const got = await client.get('pods', ns, 'p');
    assert.equal((got.spec as Json).nodeName, 'node-1');
    const scheduled = (got.status as Json).conditions.find((c: Json) => c.type === 'PodScheduled');
    assert.equal(scheduled.status, 'True');
    await rejectsWith(client.bind(ns, 'p', 'node-2'), 'Conflict', 409, /already assigned to node "node-1"/);
    await rejectsWith(client.bind(ns, 'ghost', 'node-1'), 'NotFound', 404);

    const marked = await client.delete('pods', ns, 'p');
    assert.ok(marked.metadata!.deletionTimestamp, 'a bound pod is only marked');
    assert.equal(marked.metadata!.deletionGracePeriodSeconds, 30);
    assert.ok((await client.get('pods', ns, 'p')).metadata!.deletionTimestamp);
    await client.delete('pods', ns, 'p', { gracePeriodSeconds: 0 });
    await rejectsWith(client.get('pods', ns, 'p'), 'NotFound', 404);

    const q = await client.create(pod('q', ns));
    // Preconditions and dry runs keep the object.
    await rejectsWith(client.delete('pods', ns, 'q', { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }), 'Conflict', 409, /Precondition failed: UID/);
    await rejectsWith(client.delete('pods', ns, 'q', { preconditions: { resourceVersion: '1' } }), 'Conflict', 409, /Precondition failed: ResourceVersion/);
    await client.delete('pods', ns, 'q', { dryRun: true });
    await client.request({ verb: 'delete', version: 'v1', resource: 'pods', namespace: ns, name: 'q', deleteOptions: { dryRun: ['All'] } });
    assert.equal((await client.get('pods', ns, 'q')).metadata!.uid, q.metadata!.uid);
    // An empty dryRun list is no dry run.
    await client.create(pod('r', ns));
    await client.request({ verb: 'delete', version: 'v1', resource: 'pods', namespace: ns, name: 'r', deleteOptions: { dryRun: [] } });
    await rejectsWith(client.get('pods', ns, 'r'), 'NotFound', 404);
    const gone = await client.delete('pods', ns, 'q', { preconditions: { uid: q.metadata!.uid, resourceVersion: q.metadata!.resourceVersion } });
    assert.equal(gone.metadata!.name, 'q');
    await rejectsWith(client.get('pods', ns, 'q'), 'NotFound', 404);
  });

  test('scale ReplicationControllers, ReplicaSets and Deployments', async () => {
    const ns = await freshNamespace();
    const objs = oneOfEach(ns).filter((o) => ['ReplicationController', 'ReplicaSet', 'Deployment'].includes(o.kind!));
    for (const obj of objs) {
      await client.create(obj);
      const scale = await client.scale(obj.kind!, ns, obj.metadata!.name!, 5);
      assert.equal(scale.kind, 'Scale', obj.kind);
      assert.equal(scale.apiVersion, 'autoscaling/v1');
      assert.equal((scale.spec as Json).replicas, 5);
      assert.equal((scale.status as Json).selector, `app=${obj.metadata!.name}`);
      const owner = await client.get(obj.kind!, ns, obj.metadata!.name!);
      assert.equal((owner.spec as Json).replicas, 5, obj.kind);
      assert.equal(owner.metadata!.resourceVersion, scale.metadata!.resourceVersion);
      const res = await client.request({ verb: 'get', group: owner.apiVersion === 'v1' ? '' : 'apps', version: 'v1', resource: obj.kind === 'Deployment' ? 'deployments' : obj.kind === 'ReplicaSet' ? 'replicasets' : 'replicationcontrollers', namespace: ns, name: obj.metadata!.name!, subresource: 'scale' });
      assert.equal(res.code, 200);
      assert.equal(res.kind, 'Scale');
      const invalid = await rejectsWith(client.scale(obj.kind!, ns, obj.metadata!.name!, -1), 'Invalid', 422);
      assert.equal(invalid.details?.causes?.[0]?.field, 'spec.replicas');
    }
  });

  test('client.watch and client.informer see what HTTP changes', async () => {
    const ns = await freshNamespace();
    await http('POST', `/api/v1/namespaces/${ns}/pods`, pod('before', ns));
    const inf = await client.informer('pods', ns);
    const informed: InformerEvent[] = [];
    inf.on((e) => informed.push(e));
    assert.deepEqual(inf.list(PODS).map((p) => p.metadata!.name), ['before']);

    const seen: StoreEvent[] = [];
    const from = Number((await client.list('pods', ns)).resourceVersion);
    const watch = await client.watch('pods', ns, (e) => seen.push(e), from);
    // A watch without a revision starts with the current objects.
    const current: StoreEvent[] = [];
    const all = await client.watch('pods', ns, (e) => current.push(e));
    try {
      await watch.synced;
      await all.synced;
      assert.deepEqual(current.map((e) => e.key.name), ['before']);
      const a = await http('POST', `/api/v1/namespaces/${ns}/pods`, pod('a', ns));
      const a2 = await http('PATCH', `/api/v1/namespaces/${ns}/pods/a`, { metadata: { labels: { v: '2' } } }, 'application/merge-patch+json');
      await http('DELETE', `/api/v1/namespaces/${ns}/pods/before`);
      const other = await freshNamespace();
      await http('POST', `/api/v1/namespaces/${other}/pods`, pod('elsewhere', other));
      await until('three watch events', () => seen.length >= 3 || undefined);
      assert.deepEqual(
        seen.map((e) => `${e.object ? 'PUT' : 'DEL'} ${e.key.namespace}/${e.key.name}`),
        [`PUT ${ns}/a`, `PUT ${ns}/a`, `DEL ${ns}/before`],
      );
      assert.equal(String(seen[0]!.revision), a.metadata.resourceVersion);
      assert.equal(String(seen[1]!.revision), a2.metadata.resourceVersion);
      assert.deepEqual(seen[1]!.object, a2, 'the watched object is what HTTP answered');

      await inf.waitForRevision(Number(a2.metadata.resourceVersion) + 1);
      const live = informed.filter((e) => !e.initial).map((e) => `${e.type} ${e.key.name}`);
      assert.deepEqual(live, ['ADDED a', 'MODIFIED a', 'DELETED before']);
      assert.deepEqual(inf.get(PODS, ns, 'a'), a2);
      assert.equal(informed.find((e) => e.type === 'MODIFIED')!.old?.metadata?.labels, undefined);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(seen.length, 3, 'nothing from other namespaces');
    } finally {
      await watch.stop();
      await all.stop();
      await inf.stop();
    }
  });

  test('an informer started on an empty resource misses nothing written meanwhile', async () => {
    // The informer's sync point races the writes: every pod created while it
    // starts must reach its cache, none dropped as "already seen".
    for (let round = 0; round < 40; round++) {
      const ns = await freshNamespace();
      const writer = async (w: number) => {
        for (let i = 0; i < 6; i++) await client.create(pod(`w${w}-${i}`, ns));
      };
      const writes = Promise.all([0, 1, 2].map(writer));
      const inf = await client.informer('pods', ns);
      try {
        await writes;
        await until(`round ${round}: all 18 pods in the informer (has ${inf.list(PODS, ns).length})`, () => inf.list(PODS, ns).length === 18 || undefined, 2000);
      } finally {
        await inf.stop();
      }
    }
  });

  test('creating in a namespace while it is deleted leaves no orphan behind', async () => {
    let created = 0;
    for (let round = 0; round < 40; round++) {
      const ns = await freshNamespace();
      const results = await Promise.allSettled([
        client.delete('ns', undefined, ns),
        ...Array.from({ length: 8 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i / 2));
          return client.create(pod(`p${i}`, ns));
        }),
      ]);
      assert.equal(results[0]!.status, 'fulfilled');
      for (const r of results.slice(1)) {
        if (r.status === 'fulfilled') created++;
        else assert.ok(r.reason instanceof ApiError && (r.reason.reason === 'Forbidden' || r.reason.reason === 'NotFound'), String(r.reason));
      }
    }
    await until('every test namespace to be gone', async () => {
      const left = (await client.list('ns', '')).items.filter((n) => n.metadata!.deletionTimestamp);
      return left.length === 0 || undefined;
    });
    const names = new Set((await client.list('ns', '')).items.map((n) => n.metadata!.name));
    const orphans = (await client.list('pods', '')).items.filter((p) => !names.has(p.metadata!.namespace!));
    assert.deepEqual(orphans.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`), [], `no pod outlives its namespace (${created} creates succeeded)`);
  });

  test('two API servers share the requests (queue group) and both answer', async () => {
    const second = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    extra.push(second);
    const ns = await freshNamespace();
    const svc = new Svcm(client.nc).client({ strategy: 'stall', stall: 300, maxWait: 3000 });
    const counts = async () => {
      const out = new Map<string, number>();
      for await (const s of await svc.stats(API_SERVICE_NAME)) out.set(s.id, s.endpoints?.reduce((n, e) => n + e.num_requests, 0) ?? 0);
      return out;
    };
    const before = await counts();
    assert.equal(before.size, 2, 'two API servers in the queue group');
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => client.create(pod(`p${i}`, ns))));
    for (let i = 0; i < 20; i++) assert.deepEqual(await client.get('pods', ns, `p${i}`), made[i]);
    const afterCounts = await counts();
    const served = [...afterCounts].map(([id, n]) => n - (before.get(id) ?? 0));
    assert.equal(served.length, 2);
    assert.equal(served[0]! + served[1]!, 40, `every request answered once (${served})`);
    assert.ok(served.every((n) => n > 0), `both servers answered (${served})`);
    // Both serve the same store over HTTP too.
    const viaSecond = await fetch(`${second.url}/api/v1/namespaces/${ns}/pods/p7`).then((r) => r.json());
    assert.deepEqual(viaSecond, made[7]);
    // With one gone, the other answers everything.
    await second.stop();
    for (let i = 0; i < 10; i++) assert.equal((await client.get('pods', ns, `p${i}`)).metadata!.uid, made[i]!.metadata!.uid);
  });
});
