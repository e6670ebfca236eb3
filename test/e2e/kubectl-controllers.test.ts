/**
 * End to end: the real kubectl against a `keelson up` control plane with the
 * replication controllers running in this process, three hollow nodes and the
 * round-robin binder in place of the scheduler (test/harness/replication.ts).
 * What kubectl prints is what a user relies on: `rollout status` finishing,
 * `get deploy` / `get rs` / `get rc` columns, `scale`, `set image`, `rollout
 * history` and `rollout undo`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHollowNodes, startReplicationPlane, startRoundRobinBinder, type Binder, type HollowNodes, type ReplicationPlane } from '../harness/replication.js';
import { until } from '../harness/wait.js';
import { parseTable, startCluster, type PrintedTable, type TestCluster } from './kubectl.js';

type Obj = Record<string, any>;
const NS = 'e2e-rollout';

function deployment(name: string, replicas: number, image = 'busybox:1.36'): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image }] } },
    },
  };
}

function rc(name: string, replicas: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: NS },
    spec: { replicas, selector: { app: name }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
  };
}

function row(t: PrintedTable, name: string): Record<string, string> {
  const r = t.rows.find((x) => x.NAME === name);
  assert.ok(r, `no row ${name} in ${JSON.stringify(t.rows)}`);
  return r;
}

describe('kubectl with the replication controllers', () => {
  let c: TestCluster;
  let nodes: HollowNodes;
  let plane: ReplicationPlane;
  let binder: Binder;

  before(async () => {
    c = await startCluster();
    nodes = await startHollowNodes(c.node, ['e2e-a', 'e2e-b', 'e2e-c']);
    plane = await startReplicationPlane(c.admin);
    binder = await startRoundRobinBinder(plane.client, () => nodes.live());
    await c.ok(['create', 'namespace', NS]);
  });
  after(async () => {
    await binder?.stop();
    await plane?.stop();
    await nodes?.stop();
    await c?.stop();
  });

  const apply = (obj: Obj) => c.ok(['apply', '-f', '-'], { stdin: JSON.stringify(obj) });
  const rolloutStatus = (name: string) => c.ok(['rollout', 'status', `deployment/${name}`, '-n', NS, '--timeout=12s']);
  const getDeploy = async (name: string) => row(parseTable(await c.ok(['get', 'deploy', name, '-n', NS])), name);
  const imagesOfPods = async (app: string) => {
    const pods = (await c.json(['get', 'pods', '-n', NS, '-l', `app=${app}`])).items as Obj[];
    return pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0].image);
  };

  test('rollout status waits until the Deployment is rolled out; get deploy shows READY, UP-TO-DATE and AVAILABLE', async () => {
    await apply(deployment('web', 3));
    assert.match(await rolloutStatus('web'), /deployment "web" successfully rolled out/);
    const r = await getDeploy('web');
    assert.deepEqual([r.READY, r['UP-TO-DATE'], r.AVAILABLE], ['3/3', '3', '3']);
    const rs = parseTable(await c.ok(['get', 'rs', '-n', NS]));
    assert.equal(rs.rows.length, 1);
    assert.match(rs.rows[0]!.NAME!, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.deepEqual([rs.rows[0]!.DESIRED, rs.rows[0]!.CURRENT, rs.rows[0]!.READY], ['3', '3', '3']);
  });

  test('set image rolls to a new ReplicaSet, rollout history lists both revisions, rollout undo goes back', async () => {
    assert.equal((await c.ok(['set', 'image', 'deployment/web', 'main=busybox:1.37', '-n', NS])).trim(), 'deployment.apps/web image updated');
    assert.match(await rolloutStatus('web'), /successfully rolled out/);
    assert.deepEqual(await imagesOfPods('web'), ['busybox:1.37', 'busybox:1.37', 'busybox:1.37']);
    const sets = parseTable(await c.ok(['get', 'rs', '-n', NS])).rows;
    assert.deepEqual(sets.map((s) => s.DESIRED).sort(), ['0', '3'], 'the old ReplicaSet kept at 0, the new one at 3');

    const history = await c.ok(['rollout', 'history', 'deployment/web', '-n', NS]);
    assert.deepEqual(
      history.split('\n').filter((l) => /^\d+\s/.test(l)).map((l) => l.split(/\s+/)[0]),
      ['1', '2'],
      history,
    );

    assert.match(await c.ok(['rollout', 'undo', 'deployment/web', '-n', NS]), /rolled back/);
    assert.match(await rolloutStatus('web'), /successfully rolled out/);
    assert.deepEqual(await imagesOfPods('web'), ['busybox:1.36', 'busybox:1.36', 'busybox:1.36']);
    const d = await c.json(['get', 'deploy', 'web', '-n', NS]);
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3', 'the first ReplicaSet came back as revision 3');
    assert.equal(parseTable(await c.ok(['get', 'rs', '-n', NS])).rows.length, 2, 'no third ReplicaSet: the old one was reused');
  });

  test('kubectl scale: a Deployment and a ReplicationController reach the new size', async () => {
    assert.equal((await c.ok(['scale', 'deployment/web', '--replicas=5', '-n', NS])).trim(), 'deployment.apps/web scaled');
    assert.match(await rolloutStatus('web'), /successfully rolled out/);
    const r = await getDeploy('web');
    assert.deepEqual([r.READY, r['UP-TO-DATE'], r.AVAILABLE], ['5/5', '5', '5']);

    await c.ok(['create', '-f', '-'], { stdin: JSON.stringify(rc('legacy', 2)) });
    assert.equal((await c.ok(['scale', 'rc', 'legacy', '--replicas=4', '-n', NS])).trim(), 'replicationcontroller/legacy scaled');
    const shown = await until('get rc shows 4 ready', async () => {
      const x = row(parseTable(await c.ok(['get', 'rc', 'legacy', '-n', NS])), 'legacy');
      return x.READY === '4' && x;
    }, 15_000);
    assert.deepEqual([shown.DESIRED, shown.CURRENT], ['4', '4']);
  });
});
