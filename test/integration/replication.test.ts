/**
 * The ReplicationController, ReplicaSet and Deployment controllers against a
 * real nats-server and API server, with three hollow nodes (fake runtime) and
 * a round-robin binder standing in for the scheduler. Every test works in a
 * namespace of its own and watches the pods while it acts, so what it asserts
 * about "never more than" / "never fewer than" holds at every change the store
 * saw, not only at the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { computeTemplateHash, POD_TEMPLATE_HASH, REVISION } from '../../services/controller-manager/replication/index.js';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import type { KeelsonClient } from '../../services/lib/client/index.js';
import type { Informer } from '../../services/lib/informer/index.js';
import { startTestNats, type TestNats } from '../harness/nats.js';
import { startHollowNodes, startReplicationPlane, startRoundRobinBinder, type Binder, type HollowNodes, type ReplicationPlane } from '../harness/replication.js';
import { until } from '../harness/wait.js';

type Obj = Record<string, any>;
const PODS = resourceForKind('Pod')!;
const NODES = ['node-a', 'node-b', 'node-c'];
const WAIT_MS = 20_000;

// ------------------------------------------------------------------ builders

function template(labels: Record<string, string>, image = 'busybox:1.36'): Obj {
  return { metadata: { labels }, spec: { containers: [{ name: 'main', image }] } };
}

function rc(name: string, ns: string, replicas: number): KObject {
  return { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name, namespace: ns }, spec: { replicas, selector: { app: name }, template: template({ app: name }) } };
}

function replicaSet(name: string, ns: string, replicas: number, selector: Obj, labels: Record<string, string>): KObject {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, namespace: ns }, spec: { replicas, selector, template: template(labels) } };
}

function deployment(name: string, ns: string, replicas: number, spec: Obj = {}): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: template({ app: name }), ...spec },
  };
}

function pod(name: string, ns: string, labels: Record<string, string>, nodeName?: string): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

// ------------------------------------------------------------------ pod views

const isActive = (p: Obj) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
const isReady = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
const controllerUid = (o: Obj) => (o.metadata.ownerReferences ?? []).find((r: Obj) => r.controller)?.uid;
const imageOf = (p: Obj) => p.spec.containers[0].image;

/** Records a measure of a namespace's pods at every change the watch shows. */
function record<T>(pods: Informer, ns: string, measure: (pods: Obj[]) => T): { values: T[]; stop(): void } {
  const values: T[] = [];
  const off = pods.on((ev) => {
    if (ev.object.metadata?.namespace === ns) values.push(measure(pods.list(PODS, ns) as Obj[]));
  });
  return { values, stop: () => void off() };
}

// ------------------------------------------------------------------ the suite

describe('replication controllers on hollow nodes', () => {
  let nats: TestNats;
  let api: ApiServer;
  let nodes: HollowNodes;
  let plane: ReplicationPlane;
  let binder: Binder;
  let client: KeelsonClient;
  let pods: Informer;

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0 });
    nodes = await startHollowNodes(nats.urls, NODES);
    plane = await startReplicationPlane(nats.urls);
    client = plane.client;
    binder = await startRoundRobinBinder(client, () => nodes.live());
    pods = await plane.informers.get('pods');
  });
  after(async () => {
    await binder?.stop();
    await plane?.stop();
    await nodes?.stop();
    await api?.stop();
    await nats?.stop();
  });

  const namespace = (name: string) => client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const podsIn = (ns: string) => pods.list(PODS, ns) as Obj[];
  const get = (kind: string, ns: string, name: string) => client.get(kind, ns, name) as Promise<Obj>;
  /** Active pods of `ns` selected by `app`, once there are exactly `n` and all run and are ready. */
  const running = (ns: string, app: string, n: number) =>
    until(`${n} ${app} pods running in ${ns}`, () => {
      const mine = podsIn(ns).filter((p) => p.metadata.labels?.app === app);
      const act = mine.filter(isActive);
      return act.length === n && mine.length === n && act.every((p) => p.status?.phase === 'Running' && isReady(p)) && act;
    }, WAIT_MS);

  test('an RC of 9 runs 9 pods; scaled to 12 and to 4 it never has more active pods than asked', async () => {
    await namespace('rc-scale');
    const active = record(pods, 'rc-scale', (all) => all.filter(isActive).length);
    const created = await client.create(rc('web', 'rc-scale', 9));
    const nine = await running('rc-scale', 'web', 9);
    assert.ok(nine.every((p) => controllerUid(p) === created.metadata!.uid), 'owned by the RC');
    assert.ok(nine.every((p) => p.metadata.name.startsWith('web-')), 'named after it');
    assert.deepEqual([...new Set(nine.map((p) => p.spec.nodeName))].sort(), NODES, 'spread by the binder');
    const status = (await until('RC status', async () => {
      const o = await get('rc', 'rc-scale', 'web');
      return o.status?.availableReplicas === 9 && o;
    }, WAIT_MS)).status;
    assert.deepEqual(
      [status.replicas, status.fullyLabeledReplicas, status.readyReplicas, status.availableReplicas, status.observedGeneration],
      [9, 9, 9, 9, 1],
    );
    assert.ok(Math.max(...active.values) <= 9, `at most 9 while creating, saw ${Math.max(...active.values)}`);

    active.values.length = 0;
    await client.scale('rc', 'rc-scale', 'web', 12);
    await running('rc-scale', 'web', 12);
    assert.equal(Math.max(...active.values), 12, 'at most 12 while scaling up');

    await client.scale('rc', 'rc-scale', 'web', 4);
    await running('rc-scale', 'web', 4);
    assert.ok(Math.max(...active.values) <= 12);
    active.stop();
    const o = await until('RC status after the scale-down', async () => {
      const x = await get('rc', 'rc-scale', 'web');
      return x.status?.replicas === 4 && x.status.observedGeneration === x.metadata.generation && x;
    }, WAIT_MS);
    assert.equal(o.status.readyReplicas, 4);
    const events = (await client.list('events', 'rc-scale')).items as Obj[];
    const reasons = events.filter((e) => e.involvedObject.name === 'web' && e.source.component === 'replication-controller').map((e) => e.reason);
    assert.ok(reasons.includes('SuccessfulCreate') && reasons.includes('SuccessfulDelete'), `events: ${reasons}`);
  });

  test('a deleted pod is replaced', async () => {
    await namespace('rc-replace');
    await client.create(rc('api', 'rc-replace', 3));
    const [victim] = await running('rc-replace', 'api', 3);
    await client.delete('pods', 'rc-replace', victim!.metadata.name);
    const after = await running('rc-replace', 'api', 3);
    assert.ok(!after.some((p) => p.metadata.uid === victim!.metadata.uid), 'a new pod in its place');
  });

  test("a lost node's evicted pods are replaced at once; when the node comes back the count stays at the desired number", async () => {
    await namespace('rc-lost');
    const active = record(pods, 'rc-lost', (all) => all.filter(isActive).length);
    await client.create(rc('db', 'rc-lost', 6));
    const before = await running('rc-lost', 'db', 6);
    const stranded = before.filter((p) => p.spec.nodeName === 'node-c');
    assert.equal(stranded.length, 2);
    await nodes.lose('node-c');
    // What the node lifecycle controller does to a lost node's pods: evict them. With no kubelet to
    // finish the deletion they stay, terminating, until the node is back.
    for (const p of stranded) await client.delete('pods', 'rc-lost', p.metadata.name);
    await until('replacements on the live nodes', () => {
      const act = podsIn('rc-lost').filter(isActive);
      return act.length === 6 && act.every((p) => p.spec.nodeName && p.spec.nodeName !== 'node-c' && isReady(p));
    }, WAIT_MS);
    assert.equal(podsIn('rc-lost').filter((p) => p.metadata.deletionTimestamp).length, 2, 'the stranded pods are still there, terminating');
    await nodes.restore('node-c');
    await running('rc-lost', 'db', 6);
    active.stop();
    assert.ok(Math.max(...active.values) <= 6, `never more than 6 active, saw ${Math.max(...active.values)}`);
    assert.ok(!podsIn('rc-lost').some((p) => stranded.some((s) => s.metadata.uid === p.metadata.uid)), 'the returning node finished the deletions');
  });

  test('a matching orphan beside a full RC is adopted and the extra deleted; a pod relabelled away is released and replaced', async () => {
    await namespace('rc-adopt');
    const owner = await client.create(rc('cache', 'rc-adopt', 3));
    const uid = owner.metadata!.uid;
    await running('rc-adopt', 'cache', 3);
    let adopted = false;
    const off = pods.on((ev) => {
      if (ev.object.metadata?.name === 'stray' && controllerUid(ev.object as Obj) === uid) adopted = true;
    });
    await client.create(pod('stray', 'rc-adopt', { app: 'cache' }, 'node-a'));
    const three = await running('rc-adopt', 'cache', 3);
    off();
    assert.ok(adopted, 'the orphan got the RC as its controller');
    assert.ok(three.every((p) => controllerUid(p) === uid));

    const moved = three[0]!;
    await client.patch('pods', 'rc-adopt', moved.metadata.name, 'merge', { metadata: { labels: { app: 'elsewhere' } } });
    await running('rc-adopt', 'cache', 3);
    const released = await until('the relabelled pod released', async () => {
      const p = await get('pods', 'rc-adopt', moved.metadata.name);
      return !controllerUid(p) && p;
    }, WAIT_MS);
    assert.ok(!released.metadata.deletionTimestamp, 'released, not deleted');
  });

  test('a ReplicaSet with matchExpressions adopts the orphans it selects, leaves the others, and scales', async () => {
    await namespace('rs-expr');
    const selector = { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }, { key: 'env', operator: 'NotIn', values: ['test'] }] };
    await client.create(pod('match', 'rs-expr', { tier: 'api', env: 'prod' }, 'node-b'));
    await client.create(pod('nomatch', 'rs-expr', { tier: 'web', env: 'test' }, 'node-b'));
    const rs = await client.create(replicaSet('front', 'rs-expr', 3, selector, { tier: 'web', env: 'prod' }));
    const selected = (p: Obj) => ['web', 'api'].includes(p.metadata.labels?.tier) && p.metadata.labels?.env !== 'test';
    const three = await until('3 selected pods, all owned', () => {
      const act = podsIn('rs-expr').filter((p) => isActive(p) && selected(p));
      return act.length === 3 && act.every((p) => controllerUid(p) === rs.metadata!.uid && isReady(p)) && act;
    }, WAIT_MS);
    assert.ok(three.some((p) => p.metadata.name === 'match'), 'the matching orphan was adopted, not replaced');
    assert.equal(controllerUid(await get('pods', 'rs-expr', 'nomatch')), undefined, 'the other one is left alone');

    await client.scale('replicasets', 'rs-expr', 'front', 1);
    await until('1 selected pod', () => podsIn('rs-expr').filter((p) => isActive(p) && selected(p)).length === 1, WAIT_MS);
    assert.equal(podsIn('rs-expr').filter((p) => p.metadata.name === 'nomatch').length, 1);
  });

  /** The Deployment once its rollout is complete, as `kubectl rollout status` judges it. */
  const rolledOut = (ns: string, name: string) =>
    until(`${ns}/${name} rolled out`, async () => {
      const d = await get('deployments', ns, name);
      const s = d.status ?? {};
      const n = d.spec.replicas;
      return s.observedGeneration >= d.metadata.generation && s.updatedReplicas === n && s.replicas === n && s.availableReplicas === n && d;
    }, WAIT_MS);

  const replicaSetsOf = async (ns: string) => ((await client.list('replicasets', ns)).items as Obj[]).sort((a, b) => Number(a.metadata.annotations[REVISION]) - Number(b.metadata.annotations[REVISION]));

  test('a Deployment rolls to a new image without breaking maxUnavailable=1 or maxSurge=1', async () => {
    await namespace('roll');
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } };
    await client.create(deployment('web', 'roll', 4, { strategy }));
    const d1 = await rolledOut('roll', 'web');
    await running('roll', 'web', 4);
    const counts = record(pods, 'roll', (all) => ({
      active: all.filter(isActive).length,
      available: all.filter((p) => isActive(p) && isReady(p)).length,
    }));
    await client.patch('deployments', 'roll', 'web', 'strategic', { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } } });
    const d2 = await rolledOut('roll', 'web');
    const done = await running('roll', 'web', 4);
    counts.stop();
    assert.ok(done.every((p) => imageOf(p) === 'busybox:1.37'), 'every pod runs the new image');
    const minAvailable = Math.min(...counts.values.map((c) => c.available));
    const maxActive = Math.max(...counts.values.map((c) => c.active));
    assert.ok(counts.values.length > 8, `the rollout was watched (${counts.values.length} changes)`);
    assert.ok(minAvailable >= 3, `available never below replicas - maxUnavailable: saw ${minAvailable}`);
    assert.ok(maxActive <= 5, `pods never above replicas + maxSurge: saw ${maxActive}`);

    // Status, revisions and names, as kubectl reads them.
    const s = d2.status;
    assert.deepEqual([s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas ?? 0], [4, 4, 4, 4, 0]);
    assert.equal(s.observedGeneration, d2.metadata.generation);
    assert.ok(d2.metadata.generation > d1.metadata.generation);
    const cond = Object.fromEntries(s.conditions.map((c: Obj) => [c.type, c]));
    assert.deepEqual([cond.Available.status, cond.Available.reason], ['True', 'MinimumReplicasAvailable']);
    assert.deepEqual([cond.Progressing.status, cond.Progressing.reason], ['True', 'NewReplicaSetAvailable']);
    assert.equal(d2.metadata.annotations[REVISION], '2');
    const [oldRS, newRS] = await replicaSetsOf('roll');
    const hash = computeTemplateHash(d2.spec.template);
    assert.equal(newRS!.metadata.name, `web-${hash}`);
    assert.match(cond.Progressing.message, new RegExp(`ReplicaSet "web-${hash}" has successfully progressed`));
    assert.equal(newRS!.spec.selector.matchLabels[POD_TEMPLATE_HASH], hash);
    assert.ok(done.every((p) => p.metadata.labels[POD_TEMPLATE_HASH] === hash && controllerUid(p) === newRS!.metadata.uid));
    assert.deepEqual([oldRS!.metadata.annotations[REVISION], oldRS!.spec.replicas], ['1', 0]);
    assert.equal(controllerUid(newRS!), d2.metadata.uid);
    const events = ((await client.list('events', 'roll')).items as Obj[]).filter((e) => e.involvedObject.kind === 'Deployment');
    assert.ok(events.some((e) => e.reason === 'ScalingReplicaSet' && /^Scaled down replica set web-\w+ from/.test(e.message)), 'scale events recorded');
  });

  test('Recreate: no pod of the new template exists while one of the old one is still there', async () => {
    await namespace('recreate');
    await client.create(deployment('job', 'recreate', 3, { strategy: { type: 'Recreate' } }));
    await rolledOut('recreate', 'job');
    const oldHash = (await running('recreate', 'job', 3))[0]!.metadata.labels[POD_TEMPLATE_HASH];
    const overlap = record(pods, 'recreate', (all) => {
      const olds = all.filter((p) => p.metadata.labels[POD_TEMPLATE_HASH] === oldHash).length;
      return olds > 0 && all.length > olds;
    });
    await client.patch('deployments', 'recreate', 'job', 'strategic', { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } } });
    await rolledOut('recreate', 'job');
    const done = await running('recreate', 'job', 3);
    overlap.stop();
    assert.ok(done.every((p) => imageOf(p) === 'busybox:1.37' && p.metadata.labels[POD_TEMPLATE_HASH] !== oldHash));
    assert.ok(overlap.values.length > 0);
    assert.equal(overlap.values.filter(Boolean).length, 0, 'old and new pods never at the same time');
  });

  test('revisionHistoryLimit keeps one old ReplicaSet; a paused Deployment scales but does not roll until resumed', async () => {
    await namespace('history');
    await client.create(deployment('app', 'history', 2, { revisionHistoryLimit: 1 }));
    await rolledOut('history', 'app');
    for (const image of ['busybox:1.37', 'busybox:1.38']) {
      await client.patch('deployments', 'history', 'app', 'strategic', { spec: { template: { spec: { containers: [{ name: 'main', image }] } } } });
      await rolledOut('history', 'app');
    }
    await until('one old ReplicaSet left', async () => (await replicaSetsOf('history')).length === 2, WAIT_MS);
    assert.deepEqual((await replicaSetsOf('history')).map((rs) => rs.metadata.annotations[REVISION]), ['2', '3']);

    await client.patch('deployments', 'history', 'app', 'merge', { spec: { paused: true, replicas: 4, template: { spec: { containers: [{ name: 'main', image: 'busybox:1.39' }] } } } });
    const paused = await until('the paused Deployment scaled', async () => {
      const d = await get('deployments', 'history', 'app');
      return d.status?.observedGeneration === d.metadata.generation && d.status.availableReplicas === 4 && d;
    }, WAIT_MS);
    const progressing = paused.status.conditions.find((c: Obj) => c.type === 'Progressing');
    assert.deepEqual([progressing.status, progressing.reason], ['Unknown', 'DeploymentPaused']);
    // Paused, the Deployment has no ReplicaSet of its template: both are old, and the
    // older one goes beyond revisionHistoryLimit (as in Kubernetes).
    const sets = await until('the oldest ReplicaSet cleaned up', async () => {
      const l = await replicaSetsOf('history');
      return l.length === 1 && l;
    }, WAIT_MS);
    assert.deepEqual([sets[0]!.metadata.annotations[REVISION], sets[0]!.spec.replicas], ['3', 4], 'no new ReplicaSet; the current one took the new size');
    assert.ok(podsIn('history').filter(isActive).every((p) => imageOf(p) === 'busybox:1.38'));

    await client.patch('deployments', 'history', 'app', 'merge', { spec: { paused: false } });
    await rolledOut('history', 'app');
    const done = await running('history', 'app', 4);
    assert.ok(done.every((p) => imageOf(p) === 'busybox:1.39'));
    assert.deepEqual((await replicaSetsOf('history')).map((rs) => rs.metadata.annotations[REVISION]), ['3', '4']);
  });

  test('the API server refused none of the controllers\' writes as invalid', () => {
    assert.deepEqual(plane.logs.filter((m) => /Invalid|is invalid/.test(m)), []);
  });
});

describe('expectations: controllers that see pods 300 ms late', () => {
  let nats: TestNats;
  let api: ApiServer;
  let nodes: HollowNodes;
  let plane: ReplicationPlane;
  let binder: Binder;
  let watch: Informer;

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0 });
    nodes = await startHollowNodes(nats.urls, NODES);
    plane = await startReplicationPlane(nats.urls, { podWatchLagMs: 300 });
    binder = await startRoundRobinBinder(plane.client, () => nodes.live());
    watch = await plane.client.informer('pods');
  });
  after(async () => {
    await watch?.stop();
    await binder?.stop();
    await plane?.stop();
    await nodes?.stop();
    await api?.stop();
    await nats?.stop();
  });

  test('an RC scaled up never has more active pods than asked, and scaled down never fewer', async () => {
    const client = plane.client;
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lag' } });
    const activeNow = () => (watch.list(PODS, 'lag') as Obj[]).filter(isActive);
    const settled = (n: number) =>
      until(`${n} active pods, none terminating`, () => {
        const all = watch.list(PODS, 'lag') as Obj[];
        return all.length === n && all.every((p) => isActive(p) && isReady(p));
      }, WAIT_MS);
    const active = record(watch, 'lag', (all) => all.filter(isActive).length);
    await client.create(rc('slow', 'lag', 6));
    await settled(6);
    // Longer than the lag: a second, blind round of creations would have shown by now.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(activeNow().length, 6);
    assert.equal(Math.max(...active.values), 6, 'never above 6');

    await client.scale('rc', 'lag', 'slow', 12);
    await settled(12);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(Math.max(...active.values), 12, 'never above 12');

    active.values.length = 0;
    await client.scale('rc', 'lag', 'slow', 3);
    await settled(3);
    await new Promise((r) => setTimeout(r, 600));
    active.stop();
    assert.equal(activeNow().length, 3);
    assert.equal(Math.min(...active.values), 3, 'never below 3 on the way down');
  });
});
