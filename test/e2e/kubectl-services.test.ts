/**
 * End to end: Services through the real kubectl against one `keelson up`
 * cluster — the `kubernetes` Service and Endpoints, `get svc` columns as
 * kubectl users know them, `expose deployment|rc` with NodePort and
 * LoadBalancer types, node port conflicts in Kubernetes' words, and type
 * changes by `patch`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseTable, startCluster, type TestCluster } from './kubectl.js';

type Obj = Record<string, any>;

const NS = 'e2e-svc';

function deployment(name: string): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36', ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

function rc(name: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: NS },
    spec: { replicas: 0, selector: { app: name }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
  };
}

function row(text: string, name: string): Record<string, string> {
  const t = parseTable(text);
  const r = t.rows.find((x) => x.NAME === name);
  assert.ok(r, `no row ${name} in ${text}`);
  return r;
}

describe('kubectl and Services', () => {
  let c: TestCluster;
  const create = (...objs: Obj[]) => c.ok(['create', '-f', '-'], { stdin: objs.map((o) => JSON.stringify(o)).join('\n') });

  before(async () => {
    c = await startCluster();
    await c.ok(['create', 'namespace', NS]);
  });
  after(async () => {
    await c?.stop();
  });

  test('get svc kubernetes: ClusterIP 10.96.0.1, 443/TCP; its Endpoints point at the API server', async () => {
    const text = await c.ok(['get', 'svc']);
    assert.deepEqual(parseTable(text).columns, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    const r = row(text, 'kubernetes');
    assert.deepEqual([r.TYPE, r['CLUSTER-IP'], r['EXTERNAL-IP'], r['PORT(S)']], ['ClusterIP', '10.96.0.1', '<none>', '443/TCP']);
    assert.match(r.AGE!, /^\d+s$/);
    const port = new URL(c.cluster.apiserver.url).port;
    const ep = row(await c.ok(['get', 'endpoints', 'kubernetes']), 'kubernetes');
    assert.equal(ep.ENDPOINTS, `127.0.0.1:${port}`);
  });

  test('expose deployment --type NodePort: a cluster IP and a node port, shown as 80:NNNNN/TCP', async () => {
    await create(deployment('web'));
    assert.equal((await c.ok(['expose', 'deployment', 'web', '-n', NS, '--port', '80', '--target-port', '8080', '--type', 'NodePort'])).trim(), 'service/web exposed');
    const svc = await c.json(['get', 'svc', 'web', '-n', NS]);
    assert.equal(svc.spec.type, 'NodePort');
    assert.deepEqual(svc.spec.selector, { app: 'web' });
    assert.match(svc.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.deepEqual(svc.spec.clusterIPs, [svc.spec.clusterIP]);
    const nodePort = svc.spec.ports[0].nodePort;
    assert.ok(nodePort >= 30000 && nodePort <= 32767, String(nodePort));
    const r = row(await c.ok(['get', 'svc', 'web', '-n', NS]), 'web');
    assert.deepEqual([r.TYPE, r['CLUSTER-IP'], r['EXTERNAL-IP'], r['PORT(S)']], ['NodePort', svc.spec.clusterIP, '<none>', `80:${nodePort}/TCP`]);
  });

  test('expose rc --type LoadBalancer: EXTERNAL-IP <pending>, a node port too', async () => {
    await create(rc('legacy'));
    assert.equal((await c.ok(['expose', 'rc', 'legacy', '-n', NS, '--port=9090', '--type=LoadBalancer'])).trim(), 'service/legacy exposed');
    const svc = await c.json(['get', 'svc', 'legacy', '-n', NS]);
    const r = row(await c.ok(['get', 'svc', 'legacy', '-n', NS, '-o', 'wide']), 'legacy');
    assert.deepEqual([r.TYPE, r['EXTERNAL-IP'], r['PORT(S)'], r.SELECTOR], ['LoadBalancer', '<pending>', `9090:${svc.spec.ports[0].nodePort}/TCP`, 'app=legacy']);
    assert.equal(r['CLUSTER-IP'], svc.spec.clusterIP);
  });

  test('a node port asked for twice: the second create is refused as Kubernetes refuses it', async () => {
    assert.equal((await c.ok(['create', 'service', 'nodeport', 'np', '-n', NS, '--tcp=80:8080', '--node-port=30080'])).trim(), 'service/np created');
    assert.equal(row(await c.ok(['get', 'svc', 'np', '-n', NS]), 'np')['PORT(S)'], '80:30080/TCP');
    const dup = await c.run(['create', 'service', 'nodeport', 'np2', '-n', NS, '--tcp=81:8081', '--node-port=30080']);
    assert.equal(dup.code, 1);
    // kubectl create service prints the Status message after its own prefix.
    assert.match(dup.stderr, /failed to create NodePort service: Service "np2" is invalid: spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/);
    const ip = (await c.json(['get', 'svc', 'np', '-n', NS])).spec.clusterIP;
    const sameIP = await c.run(['create', 'service', 'clusterip', 'ip2', '-n', NS, '--tcp=80', `--clusterip=${ip}`]);
    assert.equal(sameIP.code, 1);
    assert.ok(sameIP.stderr.includes(`spec.clusterIPs: Invalid value: "${ip}": provided IP is already allocated`), sameIP.stderr);
  });

  test('patch the type: NodePort → ClusterIP frees the node port for another service', async () => {
    await c.ok(['patch', 'svc', 'np', '-n', NS, '-p', '{"spec":{"type":"ClusterIP"}}']);
    const r = row(await c.ok(['get', 'svc', 'np', '-n', NS]), 'np');
    assert.deepEqual([r.TYPE, r['PORT(S)']], ['ClusterIP', '80/TCP']);
    assert.equal((await c.ok(['create', 'service', 'nodeport', 'np3', '-n', NS, '--tcp=82:8082', '--node-port=30080'])).trim(), 'service/np3 created');
  });
});
