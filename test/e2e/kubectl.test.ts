/**
 * End to end: the real kubectl on PATH against one `keelson up` cluster. Every
 * test works in a namespace of its own and checks what kubectl printed or what
 * the server stored, not only the exit code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseTable, parseTables, startCluster, type PrintedTable, type TestCluster } from './kubectl.js';

// ------------------------------------------------------------------ builders

type Obj = Record<string, any>;

function container(name: string, image: string, extra: Obj = {}): Obj {
  return { name, image, ...extra };
}

function pod(name: string, opts: { ns?: string; labels?: Record<string, string>; containers?: Obj[]; nodeName?: string } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(opts.ns ? { namespace: opts.ns } : {}), labels: opts.labels ?? { app: name } },
    spec: { ...(opts.nodeName ? { nodeName: opts.nodeName } : {}), containers: opts.containers ?? [container('main', 'busybox:1.36')] },
  };
}

/** Two containers with ports, the first one with two env entries. */
function webContainers(image = 'nginx:1.25', env = [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]): Obj[] {
  return [
    container('app', image, { ports: [{ containerPort: 80, name: 'http' }], env }),
    container('side', 'busybox:1.36', { ports: [{ containerPort: 9000 }] }),
  ];
}

function deployment(name: string, ns: string, opts: { replicas?: number; containers?: Obj[] } = {}): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: opts.containers ?? [container('main', 'busybox:1.36')] } },
    },
  };
}

function rc(name: string, ns: string, replicas = 1): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { app: name },
      template: { metadata: { labels: { app: name } }, spec: { containers: [container('main', 'busybox:1.36', { ports: [{ containerPort: 8080 }] })] } },
    },
  };
}

function service(name: string, ns: string, selector: Record<string, string>, ports: Obj[]): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector, ports } };
}

function node(name: string, ip: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: {
      addresses: [{ type: 'InternalIP', address: ip }],
      nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: 'docker://20.10.24' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function row(t: PrintedTable, name: string, column = 'NAME'): Record<string, string> {
  const r = t.rows.find((x) => x[column] === name);
  assert.ok(r, `no row ${column}=${name} in ${JSON.stringify(t.rows)}`);
  return r;
}

const names = (list: { items: Obj[] }) => list.items.map((i) => i.metadata.name).sort();
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

// ------------------------------------------------------------------ the suite

describe('kubectl against keelson up', () => {
  let c: TestCluster;
  /** `kubectl create -f -` with a stream of JSON objects; returns stdout. */
  const create = (...objs: Obj[]) => c.ok(['create', '-f', '-'], { stdin: objs.map((o) => JSON.stringify(o)).join('\n') });
  const apply = (obj: Obj) => c.ok(['apply', '-f', '-'], { stdin: JSON.stringify(obj) });
  const namespace = (name: string) => create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  /** Asserts `kubectl get` of one object fails with NotFound. */
  const assertGone = async (args: string[], message: string) => {
    const r = await c.run(['get', ...args]);
    assert.equal(r.code, 1, `expected NotFound, got: ${r.stdout}`);
    assert.match(r.stderr, /Error from server \(NotFound\)/);
    assert.ok(r.stderr.includes(message), r.stderr);
  };

  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c?.stop();
  });

  test('version shows the server version', async () => {
    const v = await c.json(['version']);
    assert.equal(v.serverVersion.gitVersion, 'v1.32.0-keelson');
    assert.equal(v.serverVersion.major, '1');
    assert.equal(v.serverVersion.minor, '32');
    assert.match(v.serverVersion.platform, new RegExp(`^${process.platform}/`));
    const text = await c.ok(['version']);
    assert.match(text, /^Server Version: v1\.32\.0-keelson$/m);
  });

  test('HTTPS with the kubeconfig\'s CA and client certificate; a wrong token or a server it cannot verify is refused', async () => {
    const config = await c.ok(['config', 'view', '--raw', '-o', 'jsonpath={.clusters[0].cluster.server} {.users[0].user.client-certificate-data}']);
    assert.match(config, /^https:\/\/127\.0\.0\.1:\d+ \S{100,}$/, 'https, and a client certificate in the kubeconfig');
    assert.match(await c.ok(['get', 'namespaces']), /^default\s/m);
    // A token alone, with the CA and no client certificate: the viewer's works, a wrong one is 401.
    const server = config.split(' ')[0]!;
    const tokenOnly = (token: string) => ['--kubeconfig', '/dev/null', '--server', server, '--certificate-authority', c.cluster.credentials.caFile, '--token', token];
    const wrong = await c.run([...tokenOnly('not-a-token'), 'get', 'pods']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /You must be logged in to the server \(Unauthorized/);
    const viewer = await c.run([...tokenOnly(c.cluster.credentials.viewerToken), 'get', 'pods', '-A']);
    assert.equal(viewer.code, 0, viewer.stderr);
    // Without the CA kubectl does not trust the server.
    const untrusted = await c.run(['--kubeconfig', '/dev/null', '--server', server, '--token', c.cluster.credentials.viewerToken, 'get', 'pods']);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate signed by unknown authority/);
  });

  test('RBAC: view.kubeconfig reads and is refused writes with a 403 naming user, verb and resource; roles and bindings are made with kubectl', async () => {
    const view = ['--kubeconfig', c.cluster.viewKubeconfigPath];
    await c.ok(['create', 'namespace', 'rbac-e2e']);
    await c.ok(['run', 'p', '-n', 'rbac-e2e', '--image', 'busybox', '--overrides', '{"spec":{"nodeSelector":{"test.keelson.io/none":"x"}}}']);
    assert.match(await c.ok([...view, 'get', 'pods', '-n', 'rbac-e2e']), /^p\s/m);
    const denied = await c.run([...view, 'delete', 'pod', 'p', '-n', 'rbac-e2e']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Error from server \(Forbidden\): pods "p" is forbidden: User "keelson-viewer" cannot delete resource "pods" in API group "" in the namespace "rbac-e2e"/);
    assert.match(await c.ok(['get', 'pods', '-n', 'rbac-e2e']), /^p\s/m, 'still there');
    // The admin trying the rules out as the viewer (impersonation, kubectl --as).
    const as = await c.run(['--as', 'keelson-viewer', '--as-group', 'keelson:viewers', 'delete', 'pod', 'p', '-n', 'rbac-e2e']);
    assert.match(as.stderr, /pods "p" is forbidden: User "keelson-viewer" cannot delete resource "pods"/);

    const roles = await c.ok(['get', 'clusterroles']);
    for (const name of ['cluster-admin', 'admin', 'view', 'system:node']) assert.match(roles, new RegExp(`^${name}\\s`, 'm'));
    // kubectl sends these in Kubernetes' protobuf: every field arrives.
    await c.ok(['create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods', '--resource-name=p', '-n', 'rbac-e2e']);
    assert.deepEqual((await c.json(['get', 'role', 'pod-reader', '-n', 'rbac-e2e', '-o', 'json'])).rules, [{ apiGroups: [''], resources: ['pods'], resourceNames: ['p'], verbs: ['get', 'list'] }]);
    await c.ok(['create', 'clusterrole', 'health-reader', '--verb=get', '--non-resource-url=/healthz']);
    assert.deepEqual((await c.json(['get', 'clusterrole', 'health-reader', '-o', 'json'])).rules, [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }]);
    // The viewer given edit rights in one namespace by a RoleBinding to the built-in admin role.
    assert.match(await c.ok(['create', 'rolebinding', 'viewer-admin', '--clusterrole', 'admin', '--user', 'keelson-viewer', '-n', 'rbac-e2e']), /rolebinding.rbac.authorization.k8s.io\/viewer-admin created/);
    assert.match(await c.ok(['get', 'rolebindings', '-n', 'rbac-e2e', '-o', 'wide']), /^viewer-admin\s+ClusterRole\/admin\s+\S+\s+keelson-viewer/m);
    const deadline = Date.now() + 5_000;
    let r = await c.run([...view, 'delete', 'pod', 'p', '-n', 'rbac-e2e', '--wait=false']);
    while (r.code !== 0 && Date.now() < deadline) r = await c.run([...view, 'delete', 'pod', 'p', '-n', 'rbac-e2e', '--wait=false']);
    assert.equal(r.code, 0, r.stderr);
    const elsewhere = await c.run([...view, 'delete', 'namespace', 'rbac-e2e']);
    // A namespace is in itself (as in Kubernetes), but admin by RoleBinding does not reach namespaces.
    assert.match(elsewhere.stderr, /namespaces "rbac-e2e" is forbidden: User "keelson-viewer" cannot delete resource "namespaces" in API group "" in the namespace "rbac-e2e"/);
  });

  test('kubectl auth can-i answers from the same rules, for the caller and with --as', async () => {
    const view = ['--kubeconfig', c.cluster.viewKubeconfigPath];
    const canI = async (args: string[]) => {
      const r = await c.run(['auth', 'can-i', ...args]);
      return { answer: r.stdout.trim(), code: r.code, stderr: r.stderr };
    };
    assert.deepEqual(await canI(['delete', 'pods', '-n', 'default']), { answer: 'yes', code: 0, stderr: '' });
    assert.deepEqual(await canI([...view, 'list', 'pods', '-n', 'default']), { answer: 'yes', code: 0, stderr: '' });
    assert.deepEqual(await canI([...view, 'delete', 'pods', '-n', 'default']), { answer: 'no', code: 1, stderr: '' });
    assert.deepEqual(await canI([...view, 'get', 'endpoints', '-A']), { answer: 'yes', code: 0, stderr: '' });
    assert.deepEqual(await canI([...view, 'create', 'clusterroles', '-A']), { answer: 'no', code: 1, stderr: '' });
    assert.deepEqual(await canI([...view, 'get', '/keelson/v1/status']), { answer: 'yes', code: 0, stderr: '' });
    // A node may write only its own Node's status.
    const node = ['--as', 'system:node:n1', '--as-group', 'system:nodes', '-A', '--subresource', 'status'];
    assert.deepEqual(await canI([...node, 'update', 'nodes/n1']), { answer: 'yes', code: 0, stderr: '' });
    assert.deepEqual(await canI([...node, 'update', 'nodes/n2']), { answer: 'no', code: 1, stderr: '' });
    assert.deepEqual(await canI(['--as', 'nobody', 'list', 'pods']), { answer: 'no', code: 1, stderr: '' });
  });

  test('api-resources lists kinds with short names, groups and categories', async () => {
    const t = parseTable(await c.ok(['api-resources', '-o', 'wide']));
    assert.deepEqual(t.columns, ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', 'VERBS', 'CATEGORIES']);
    const pods = row(t, 'pods');
    assert.deepEqual([pods.SHORTNAMES, pods.APIVERSION, pods.NAMESPACED, pods.KIND], ['po', 'v1', 'true', 'Pod']);
    assert.equal(pods.CATEGORIES, 'all');
    assert.deepEqual(pods.VERBS!.split(','), ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    const deploy = row(t, 'deployments');
    assert.deepEqual([deploy.SHORTNAMES, deploy.APIVERSION, deploy.NAMESPACED, deploy.KIND], ['deploy', 'apps/v1', 'true', 'Deployment']);
    const leases = row(t, 'leases');
    assert.deepEqual([leases.SHORTNAMES, leases.APIVERSION, leases.NAMESPACED, leases.KIND], ['', 'coordination.k8s.io/v1', 'true', 'Lease']);
    assert.equal(row(t, 'nodes').NAMESPACED, 'false');
    const apps = lines(await c.ok(['api-resources', '--api-group=apps', '-o', 'name']));
    assert.ok(apps.includes('deployments.apps') && apps.includes('replicasets.apps'), apps.join(' '));
    assert.ok(apps.every((n) => n.endsWith('.apps')), apps.join(' '));
  });

  describe('get', () => {
    const ns = 'e2e-get';
    before(async () => {
      await namespace(ns);
      await create(
        node('e2e-node-1', '10.0.0.5'),
        pod('alpha', { ns, labels: { app: 'alpha', tier: 'web' }, containers: webContainers(), nodeName: 'e2e-node-1' }),
        pod('beta', { ns, labels: { app: 'beta' } }),
        service('front', ns, { app: 'alpha' }, [
          { name: 'http', port: 80, targetPort: 8080 },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ]),
        // No replicas: once controllers run, they must not add pods to this namespace.
        rc('gamma', ns, 0),
        deployment('delta', ns, { replicas: 0 }),
      );
    });

    test('pods: the server table, -o wide and -o name', async () => {
      const t = parseTable(await c.ok(['get', 'pods', '-n', ns]));
      assert.deepEqual(t.columns, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
      assert.deepEqual(
        t.rows.map((r) => r.NAME),
        ['alpha', 'beta'],
      );
      const alpha = row(t, 'alpha');
      assert.deepEqual([alpha.READY, alpha.STATUS, alpha.RESTARTS], ['0/2', 'Pending', '0']);
      assert.match(alpha.AGE!, /^\d+s$/);
      assert.equal(row(t, 'beta').READY, '0/1');

      const wide = parseTable(await c.ok(['get', 'po', '-n', ns, '-o', 'wide']));
      assert.deepEqual(wide.columns, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
      assert.equal(row(wide, 'alpha').NODE, 'e2e-node-1');
      assert.equal(row(wide, 'alpha').IP, '<none>');
      assert.equal(row(wide, 'beta').NODE, '<none>');

      assert.deepEqual(lines(await c.ok(['get', 'pods', '-n', ns, '-o', 'name'])), ['pod/alpha', 'pod/beta']);
      // One object by name gets a one-row table too.
      assert.deepEqual(
        parseTable(await c.ok(['get', 'pod', 'beta', '-n', ns])).rows.map((r) => r.NAME),
        ['beta'],
      );
    });

    test('pods: -o json, -o yaml and -o jsonpath give the stored objects', async () => {
      const list = await c.json(['get', 'pods', '-n', ns]);
      assert.equal(list.kind, 'List');
      assert.deepEqual(names(list), ['alpha', 'beta']);
      for (const p of list.items) {
        assert.equal(p.kind, 'Pod');
        assert.equal(p.apiVersion, 'v1');
        assert.equal(p.metadata.namespace, ns);
        assert.match(p.metadata.uid, /^[0-9a-f-]{36}$/);
        assert.match(p.metadata.resourceVersion, /^\d+$/);
        assert.match(p.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      }
      const alpha = parseYaml(await c.ok(['get', 'pod', 'alpha', '-n', ns, '-o', 'yaml']));
      assert.equal(alpha.metadata.name, 'alpha');
      assert.equal(alpha.spec.nodeName, 'e2e-node-1');
      assert.deepEqual(
        alpha.spec.containers.map((x: Obj) => x.name),
        ['app', 'side'],
      );
      assert.deepEqual(alpha.spec.containers[0].ports, [{ containerPort: 80, name: 'http', protocol: 'TCP' }]);
      assert.equal(alpha.status.phase, 'Pending');
      const yamlList = parseYaml(await c.ok(['get', 'pods', '-n', ns, '-o', 'yaml']));
      assert.deepEqual(names(yamlList), ['alpha', 'beta']);
      assert.equal(await c.ok(['get', 'pods', '-n', ns, '-o', 'jsonpath={.items[*].spec.containers[*].image}']), 'nginx:1.25 busybox:1.36 busybox:1.36');
    });

    test('pods: -A, -l, --field-selector and --show-labels', async () => {
      const all = parseTable(await c.ok(['get', 'pods', '-A']));
      assert.deepEqual(all.columns, ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
      assert.deepEqual(
        all.rows.filter((r) => r.NAMESPACE === ns).map((r) => r.NAME),
        ['alpha', 'beta'],
      );

      const byLabel = parseTable(await c.ok(['get', 'pods', '-A', '-l', 'app=alpha,tier=web']));
      assert.deepEqual(
        byLabel.rows.map((r) => `${r.NAMESPACE}/${r.NAME}`),
        [`${ns}/alpha`],
      );
      assert.deepEqual(lines(await c.ok(['get', 'pods', '-n', ns, '-l', 'app!=alpha', '-o', 'name'])), ['pod/beta']);
      assert.deepEqual(lines(await c.ok(['get', 'pods', '-n', ns, '-l', 'app in (alpha,beta),!tier', '-o', 'name'])), ['pod/beta']);
      const none = await c.run(['get', 'pods', '-n', ns, '-l', 'app=nobody']);
      assert.equal(none.code, 0);
      assert.equal(none.stdout, '');
      assert.match(none.stderr, /No resources found in e2e-get namespace/);

      assert.deepEqual(lines(await c.ok(['get', 'pods', '-n', ns, '--field-selector', 'spec.nodeName=e2e-node-1', '-o', 'name'])), ['pod/alpha']);

      const labelled = parseTable(await c.ok(['get', 'pods', '-n', ns, '--show-labels']));
      assert.equal(labelled.columns.at(-1), 'LABELS');
      assert.equal(row(labelled, 'alpha').LABELS, 'app=alpha,tier=web');
      assert.equal(row(labelled, 'beta').LABELS, 'app=beta');
    });

    test('pods: READY, STATUS, RESTARTS and IP follow the status a kubelet writes', async () => {
      const ns = 'e2e-status';
      await namespace(ns);
      await create(pod('kube', { ns, containers: webContainers(), nodeName: 'e2e-node-1' }), pod('done', { ns }));
      const startedAt = new Date(Date.now() - 150_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const status = {
        phase: 'Running',
        podIP: '10.1.0.7',
        podIPs: [{ ip: '10.1.0.7' }],
        hostIP: '10.0.0.5',
        containerStatuses: [
          { name: 'app', ready: true, restartCount: 3, image: 'nginx:1.25', imageID: '', state: { running: { startedAt } }, lastState: { terminated: { exitCode: 1, finishedAt: startedAt } } },
          { name: 'side', ready: false, restartCount: 0, image: 'busybox:1.36', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } } },
        ],
      };
      await c.ok(['patch', 'pod', 'kube', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
      const done = { phase: 'Succeeded', containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'busybox:1.36', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] };
      await c.ok(['patch', 'pod', 'done', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: done })]);

      const t = parseTable(await c.ok(['get', 'pods', 'kube', 'done', '-n', ns, '-o', 'wide']));
      const kube = row(t, 'kube');
      assert.deepEqual([kube.READY, kube.STATUS, kube.IP, kube.NODE], ['1/2', 'CrashLoopBackOff', '10.1.0.7', 'e2e-node-1']);
      assert.match(kube.RESTARTS!, /^3 \(2m\d+s ago\)$/);
      assert.deepEqual([row(t, 'done').READY, row(t, 'done').STATUS], ['0/1', 'Completed']);
      // A status write leaves the spec alone.
      assert.equal((await c.json(['get', 'pod', 'kube', '-n', ns])).spec.containers[0].image, 'nginx:1.25');

      // A pod on a node is deleted gracefully: it shows Terminating until its kubelet is done.
      await c.ok(['delete', 'pod', 'kube', '-n', ns, '--wait=false']);
      assert.equal(row(parseTable(await c.ok(['get', 'pod', 'kube', '-n', ns])), 'kube').STATUS, 'Terminating');
      await c.ok(['delete', 'pod', 'kube', '-n', ns, '--grace-period=0', '--force']);
      await assertGone(['pod', 'kube', '-n', ns], 'pods "kube" not found');
    });

    test('nodes: status, version and the wide columns', async () => {
      const t = parseTable(await c.ok(['get', 'nodes']));
      assert.deepEqual(t.columns, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
      const n = row(t, 'e2e-node-1');
      assert.deepEqual([n.STATUS, n.ROLES, n.VERSION], ['Ready', '<none>', 'v1.32.0']);
      const wide = row(parseTable(await c.ok(['get', 'no', '-o', 'wide'])), 'e2e-node-1');
      assert.equal(wide['INTERNAL-IP'], '10.0.0.5');
      assert.equal(wide['EXTERNAL-IP'], '<none>');
      assert.equal(wide['OS-IMAGE'], 'Debian GNU/Linux 12');
      assert.equal(wide['KERNEL-VERSION'], '6.1.0');
      assert.equal(wide['CONTAINER-RUNTIME'], 'docker://20.10.24');
      const obj = await c.json(['get', 'node', 'e2e-node-1']);
      assert.equal(obj.kind, 'Node');
      assert.equal(obj.metadata.namespace, undefined);

      await create(node('e2e-node-2', '10.0.0.6'));
      await c.ok(['patch', 'node', 'e2e-node-2', '--subresource=status', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}']);
      assert.equal((await c.ok(['cordon', 'e2e-node-2'])).trim(), 'node/e2e-node-2 cordoned');
      assert.equal(row(parseTable(await c.ok(['get', 'node', 'e2e-node-2'])), 'e2e-node-2').STATUS, 'NotReady,SchedulingDisabled');
      await c.ok(['uncordon', 'e2e-node-2']);
      assert.equal((await c.json(['get', 'node', 'e2e-node-2'])).spec.unschedulable, undefined);
    });

    test('services: type, ports and selector', async () => {
      const svc = await c.json(['get', 'svc', 'front', '-n', ns]);
      assert.equal(svc.spec.type, 'ClusterIP');
      assert.deepEqual(svc.spec.ports, [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
      ]);
      const t = parseTable(await c.ok(['get', 'services', '-n', ns, '-o', 'wide']));
      assert.deepEqual(t.columns, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
      const r = row(t, 'front');
      assert.deepEqual([r.TYPE, r['EXTERNAL-IP'], r['PORT(S)'], r.SELECTOR], ['ClusterIP', '<none>', '80/TCP,53/UDP', 'app=alpha']);
      // Whatever the server allocated (or not), the table agrees with the object.
      assert.equal(r['CLUSTER-IP'], svc.spec.clusterIP ?? '<none>');
    });

    test('all: pods, services, replication controllers and deployments', async () => {
      const tables = parseTables(await c.ok(['get', 'all', '-n', ns]));
      const byKind = new Map(tables.map((t) => [t.rows[0]!.NAME!.split('/')[0]!, t]));
      for (const kind of ['pod', 'service', 'replicationcontroller', 'deployment.apps']) assert.ok(byKind.has(kind), `no ${kind} table in ${[...byKind.keys()]}`);
      assert.deepEqual(
        byKind.get('pod')!.rows.map((r) => r.NAME),
        ['pod/alpha', 'pod/beta'],
      );
      assert.equal(row(byKind.get('service')!, 'service/front')['PORT(S)'], '80/TCP,53/UDP');
      const gamma = row(byKind.get('replicationcontroller')!, 'replicationcontroller/gamma');
      assert.deepEqual([gamma.DESIRED, gamma.CURRENT, gamma.READY], ['0', '0', '0']);
      const delta = row(byKind.get('deployment.apps')!, 'deployment.apps/delta');
      assert.deepEqual([delta.READY, delta['UP-TO-DATE'], delta.AVAILABLE], ['0/0', '0', '0']);

      const everywhere = parseTables(await c.ok(['get', 'all', '-A']));
      assert.ok(everywhere.every((t) => t.columns[0] === 'NAMESPACE'));
      assert.ok(everywhere.some((t) => t.rows.some((r) => r.NAMESPACE === ns && r.NAME === 'deployment.apps/delta')));
    });
  });

  test('get -w prints a row for each change as it happens', async () => {
    const ns = 'e2e-watch';
    await namespace(ns);
    await create(pod('first', { ns }));
    // -L seen: the label change shows in its own column (the scheduler also
    // writes these pods — no node fits — so rows are counted by content).
    const w = c.spawn(['get', 'pods', '-w', '-n', ns, '-L', 'seen']);
    try {
      await w.waitFor((out) => /^first\s+0\/1\s+Pending/m.test(out));
      await c.ok(['run', 'second', '-n', ns, '--image=busybox:1.36', '--', 'sleep', '3600']);
      await w.waitFor((out) => /^second\s+0\/1\s+Pending\s+0\s+\d+s\s*$/m.test(out));
      // A change to it is one more row of the same pod.
      await c.ok(['label', 'pod', 'second', '-n', ns, 'seen=yes']);
      await w.waitFor((out) => /^second\s+0\/1\s+Pending\s+0\s+\d+s\s+yes\s*$/m.test(out));
      const out = lines(w.output());
      assert.equal(out.filter((l) => l.startsWith('NAME ')).length, 1, 'one header');
      assert.match(out[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+SEEN$/);
    } finally {
      await w.kill();
    }
  });

  test('describe pod shows containers, ports, env and the pod\'s events', async () => {
    const ns = 'e2e-describe';
    await namespace(ns);
    await create(pod('desc', { ns, labels: { app: 'desc', tier: 'web' }, containers: webContainers() }));
    const uid = (await c.json(['get', 'pod', 'desc', '-n', ns])).metadata.uid;
    await create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'desc.1', namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'desc', namespace: ns, uid },
      reason: 'Scheduled',
      message: 'Successfully assigned e2e-describe/desc to e2e-node-1',
      type: 'Normal',
      source: { component: 'default-scheduler' },
      count: 1,
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    const out = await c.ok(['describe', 'pod', 'desc', '-n', ns]);
    assert.match(out, /^Name:\s+desc$/m);
    assert.match(out, /^Namespace:\s+e2e-describe$/m);
    assert.match(out, /^Labels:\s+app=desc\n\s+tier=web$/m);
    assert.match(out, /^Status:\s+Pending$/m);
    assert.match(out, /^\s+app:\n\s+Image:\s+nginx:1\.25\n\s+Port:\s+80\/TCP/m);
    assert.match(out, /^\s+side:\n\s+Image:\s+busybox:1\.36\n\s+Port:\s+9000\/TCP/m);
    assert.match(out, /^\s+Environment:\n\s+A:\s+1\n\s+B:\s+2$/m);
    assert.match(out, /^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/m);
    assert.match(out, /^\s+Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned e2e-describe\/desc to e2e-node-1$/m);
  });

  test('create -f creates every object of a file, with defaults', async () => {
    const ns = 'e2e-create';
    await namespace(ns);
    const file = c.file(
      'create.yaml',
      [pod('web', { ns, containers: webContainers() }), service('web', ns, { app: 'web' }, [{ port: 80 }]), deployment('web', ns)]
        .map((o) => stringifyYaml(o))
        .join('---\n'),
    );
    assert.deepEqual(lines(await c.ok(['create', '-f', file])), ['pod/web created', 'service/web created', 'deployment.apps/web created']);

    const p = await c.json(['get', 'pod', 'web', '-n', ns]);
    assert.equal(p.spec.restartPolicy, 'Always');
    assert.equal(p.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(p.spec.terminationGracePeriodSeconds, 30);
    assert.equal(p.spec.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(p.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
    assert.equal(p.status.phase, 'Pending');
    const s = await c.json(['get', 'service', 'web', '-n', ns]);
    assert.deepEqual(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.equal(s.spec.sessionAffinity, 'None');
    const d = await c.json(['get', 'deploy', 'web', '-n', ns]);
    assert.equal(d.spec.replicas, 2);
    assert.equal(d.spec.strategy.type, 'RollingUpdate');
    assert.deepEqual(d.spec.strategy.rollingUpdate, { maxSurge: '25%', maxUnavailable: '25%' });
  });

  test('create namespace, deployment and service from flags (kubectl sends protobuf)', async () => {
    const ns = 'e2e-generators';
    assert.equal((await c.ok(['create', 'namespace', ns])).trim(), `namespace/${ns} created`);
    assert.equal((await c.json(['get', 'ns', ns])).status.phase, 'Active');

    const out = await c.ok(['create', 'deployment', 'web', '-n', ns, '--image=nginx:1.25', '--port=80', '--replicas=3', '--', 'sleep', '10']);
    assert.equal(out.trim(), 'deployment.apps/web created');
    const d = await c.json(['get', 'deploy', 'web', '-n', ns]);
    assert.equal(d.spec.replicas, 3);
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'web' } });
    assert.deepEqual(d.spec.template.metadata.labels, { app: 'web' });
    const [ctr] = d.spec.template.spec.containers;
    assert.deepEqual([ctr.name, ctr.image, ctr.command], ['nginx', 'nginx:1.25', ['sleep', '10']]);
    assert.deepEqual(ctr.ports, [{ containerPort: 80, protocol: 'TCP' }]);
    // replicas is a pointer: an explicit 0 survives the encoding.
    await c.ok(['create', 'deployment', 'idle', '-n', ns, '--image=busybox', '--replicas=0']);
    assert.equal((await c.json(['get', 'deploy', 'idle', '-n', ns])).spec.replicas, 0);

    await c.ok(['create', 'service', 'clusterip', 'web', '-n', ns, '--tcp=80:8080', '--tcp=53:dns']);
    const s = await c.json(['get', 'svc', 'web', '-n', ns]);
    assert.equal(s.spec.type, 'ClusterIP');
    assert.deepEqual(s.spec.selector, { app: 'web' });
    assert.deepEqual(s.spec.ports, [
      { name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 },
      { name: '53-dns', port: 53, protocol: 'TCP', targetPort: 'dns' },
    ]);
    await c.ok(['create', 'service', 'clusterip', 'headless', '-n', ns, '--clusterip=None']);
    assert.equal((await c.json(['get', 'svc', 'headless', '-n', ns])).spec.clusterIP, 'None');
    await c.ok(['create', 'service', 'externalname', 'ext', '-n', ns, '--external-name=example.com']);
    const ext = row(parseTable(await c.ok(['get', 'svc', 'ext', '-n', ns])), 'ext');
    assert.deepEqual([ext.TYPE, ext['EXTERNAL-IP']], ['ExternalName', 'example.com']);

    const dup = await c.run(['create', 'namespace', ns]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, new RegExp(`Error from server \\(AlreadyExists\\): namespaces "${ns}" already exists`));
  });

  test('apply -f creates, then changes an image and drops an env entry; ports stay', async () => {
    const ns = 'e2e-apply';
    await namespace(ns);
    const v1 = deployment('web', ns, { containers: webContainers('nginx:1.25') });
    assert.equal((await apply(v1)).trim(), 'deployment.apps/web created');
    const created = await c.json(['get', 'deploy', 'web', '-n', ns]);
    assert.deepEqual(
      created.spec.template.spec.containers[0].env.map((e: Obj) => e.name),
      ['A', 'B'],
    );

    const v2 = deployment('web', ns, { containers: webContainers('nginx:1.26', [{ name: 'A', value: '1' }]) });
    assert.equal((await apply(v2)).trim(), 'deployment.apps/web configured');
    const d = await c.json(['get', 'deploy', 'web', '-n', ns]);
    const [app, side] = d.spec.template.spec.containers;
    assert.equal(app.image, 'nginx:1.26');
    assert.deepEqual(app.env, [{ name: 'A', value: '1' }]);
    assert.deepEqual(app.ports, [{ containerPort: 80, name: 'http', protocol: 'TCP' }]);
    assert.equal(side.image, 'busybox:1.36');
    assert.deepEqual(side.ports, [{ containerPort: 9000, protocol: 'TCP' }]);
    assert.equal(d.metadata.uid, created.metadata.uid);
    assert.equal(d.metadata.generation, created.metadata.generation + 1);
    const lastApplied = JSON.parse(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    assert.equal(lastApplied.spec.template.spec.containers[0].image, 'nginx:1.26');

    assert.equal((await apply(v2)).trim(), 'deployment.apps/web unchanged');
  });

  test('apply -f on a pod: an image change keeps the ports; an env change is refused as by Kubernetes', async () => {
    const ns = 'e2e-apply-pod';
    await namespace(ns);
    assert.equal((await apply(pod('web', { ns, containers: webContainers('nginx:1.25') }))).trim(), 'pod/web created');
    assert.equal((await apply(pod('web', { ns, containers: webContainers('nginx:1.26') }))).trim(), 'pod/web configured');
    const p = await c.json(['get', 'pod', 'web', '-n', ns]);
    assert.deepEqual(
      p.spec.containers.map((x: Obj) => x.image),
      ['nginx:1.26', 'busybox:1.36'],
    );
    assert.deepEqual(p.spec.containers[0].ports, [{ containerPort: 80, name: 'http', protocol: 'TCP' }]);
    assert.deepEqual(p.spec.containers[1].ports, [{ containerPort: 9000, protocol: 'TCP' }]);

    const r = await c.run(['apply', '-f', '-'], { stdin: JSON.stringify(pod('web', { ns, containers: webContainers('nginx:1.26', [{ name: 'A', value: '1' }]) })) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than/);
    assert.equal((await c.json(['get', 'pod', 'web', '-n', ns])).spec.containers[0].env.length, 2);
  });

  test('patch --type merge, json and strategic', async () => {
    const ns = 'e2e-patch';
    await namespace(ns);
    await create(pod('pt', { ns, containers: webContainers() }), deployment('dp', ns, { containers: webContainers() }));

    assert.equal((await c.ok(['patch', 'pod', 'pt', '-n', ns, '--type', 'merge', '-p', '{"metadata":{"labels":{"stage":"one"}}}'])).trim(), 'pod/pt patched');
    assert.deepEqual((await c.json(['get', 'pod', 'pt', '-n', ns])).metadata.labels, { app: 'pt', stage: 'one' });
    await c.ok(['patch', 'pod', 'pt', '-n', ns, '--type=merge', '-p', '{"metadata":{"labels":{"stage":null}}}']);
    assert.deepEqual((await c.json(['get', 'pod', 'pt', '-n', ns])).metadata.labels, { app: 'pt' });

    await c.ok([
      'patch',
      'pod',
      'pt',
      '-n',
      ns,
      '--type',
      'json',
      '-p',
      '[{"op":"replace","path":"/spec/containers/1/image","value":"busybox:1.37"},{"op":"add","path":"/metadata/annotations","value":{"k":"v"}}]',
    ]);
    let p = await c.json(['get', 'pod', 'pt', '-n', ns]);
    assert.equal(p.spec.containers[1].image, 'busybox:1.37');
    assert.deepEqual(p.metadata.annotations, { k: 'v' });
    const failed = await c.run(['patch', 'pod', 'pt', '-n', ns, '--type', 'json', '-p', '[{"op":"test","path":"/metadata/name","value":"other"}]']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /test failed: value at \/metadata\/name is "pt", expected "other"/);

    // The default type: a strategic merge patch merges containers by name.
    await c.ok(['patch', 'pod', 'pt', '-n', ns, '-p', '{"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}']);
    p = await c.json(['get', 'pod', 'pt', '-n', ns]);
    assert.deepEqual(
      p.spec.containers.map((x: Obj) => `${x.name}=${x.image}`),
      ['app=nginx:1.27', 'side=busybox:1.37'],
    );
    assert.deepEqual(p.spec.containers[0].ports, [{ containerPort: 80, name: 'http', protocol: 'TCP' }]);

    // env merges by name; a new entry goes first, as Kubernetes orders it.
    await c.ok([
      'patch',
      'deployment',
      'dp',
      '-n',
      ns,
      '--type=strategic',
      '-p',
      '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"C","value":"3"},{"name":"B","value":"two"}]}]}}}}',
    ]);
    const d = await c.json(['get', 'deployment', 'dp', '-n', ns]);
    assert.deepEqual(d.spec.template.spec.containers[0].env, [
      { name: 'C', value: '3' },
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
    ]);
    assert.equal(d.spec.template.spec.containers.length, 2);
  });

  test('label and annotate: add, refuse to overwrite without --overwrite, overwrite, remove', async () => {
    const ns = 'e2e-label';
    await namespace(ns);
    await create(pod('lb', { ns }), pod('lb2', { ns, labels: { app: 'lb2', group: 'g' } }), pod('lb3', { ns, labels: { app: 'lb3', group: 'g' } }));
    const meta = async () => (await c.json(['get', 'pod', 'lb', '-n', ns])).metadata;

    assert.equal((await c.ok(['label', 'pod', 'lb', '-n', ns, 'color=red'])).trim(), 'pod/lb labeled');
    assert.deepEqual((await meta()).labels, { app: 'lb', color: 'red' });
    const refused = await c.run(['label', 'pod', 'lb', '-n', ns, 'color=blue']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /'color' already has a value \(red\), and --overwrite is false/);
    await c.ok(['label', 'pod', 'lb', '-n', ns, 'color=blue', '--overwrite']);
    assert.equal((await meta()).labels.color, 'blue');
    assert.equal((await c.ok(['label', 'pod', 'lb', '-n', ns, 'color-'])).trim(), 'pod/lb unlabeled');
    assert.deepEqual((await meta()).labels, { app: 'lb' });
    assert.deepEqual(lines(await c.ok(['label', 'pods', '-n', ns, '-l', 'group=g', 'picked=yes'])), ['pod/lb2 labeled', 'pod/lb3 labeled']);
    assert.deepEqual(lines(await c.ok(['get', 'pods', '-n', ns, '-l', 'picked=yes', '-o', 'name'])), ['pod/lb2', 'pod/lb3']);

    assert.equal((await c.ok(['annotate', 'pod', 'lb', '-n', ns, 'note=hello world'])).trim(), 'pod/lb annotated');
    assert.equal((await meta()).annotations.note, 'hello world');
    const refusedNote = await c.run(['annotate', 'pod', 'lb', '-n', ns, 'note=again']);
    assert.equal(refusedNote.code, 1);
    assert.match(refusedNote.stderr, /--overwrite is false/);
    await c.ok(['annotate', 'pod', 'lb', '-n', ns, 'note=again', '--overwrite']);
    assert.equal((await meta()).annotations.note, 'again');
    await c.ok(['annotate', 'pod', 'lb', '-n', ns, 'note-']);
    assert.equal((await meta()).annotations?.note, undefined);
  });

  test('scale rc and scale deployment set spec.replicas', async () => {
    const ns = 'e2e-scale';
    await namespace(ns);
    await create(rc('web', ns, 1), deployment('api', ns, { replicas: 2 }));

    assert.equal((await c.ok(['scale', 'rc', 'web', '-n', ns, '--replicas=3'])).trim(), 'replicationcontroller/web scaled');
    assert.equal((await c.json(['get', 'rc', 'web', '-n', ns])).spec.replicas, 3);
    assert.equal((await c.ok(['scale', 'deployment', 'api', '-n', ns, '--replicas=4'])).trim(), 'deployment.apps/api scaled');
    assert.equal((await c.json(['get', 'deploy', 'api', '-n', ns])).spec.replicas, 4);
    await c.ok(['scale', 'deploy/api', '-n', ns, '--replicas=0']);
    assert.equal((await c.json(['get', 'deploy', 'api', '-n', ns])).spec.replicas, 0);

    // --current-replicas is a precondition: a wrong guess changes nothing.
    const wrong = await c.run(['scale', 'rc', 'web', '-n', ns, '--current-replicas=1', '--replicas=5']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Expected replicas to be 1, was 3/);
    assert.equal((await c.json(['get', 'rc', 'web', '-n', ns])).spec.replicas, 3);

    // The scale subresource takes patches too; one that cannot apply is the client's error.
    await c.ok(['patch', 'deploy', 'api', '-n', ns, '--subresource=scale', '--type=merge', '-p', '{"spec":{"replicas":2}}']);
    assert.equal((await c.json(['get', 'deploy', 'api', '-n', ns])).spec.replicas, 2);
    const failed = await c.run(['patch', 'deploy', 'api', '-n', ns, '--subresource=scale', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":99}]']);
    assert.equal(failed.code, 1);
    assert.doesNotMatch(failed.stderr, /InternalError/);
    assert.match(failed.stderr, /test failed: value at \/spec\/replicas is 2, expected 99/);
    await c.ok(['scale', 'deploy/api', '-n', ns, '--replicas=0']);

    const scale = JSON.parse(await c.ok(['get', '--raw', `/apis/apps/v1/namespaces/${ns}/deployments/api/scale`]));
    assert.equal(scale.kind, 'Scale');
    assert.equal(scale.apiVersion, 'autoscaling/v1');
    assert.equal(scale.spec.replicas, 0);
  });

  test('delete returns once the object is gone', async () => {
    const ns = 'e2e-delete';
    await namespace(ns);
    await create(pod('a', { ns }), pod('b', { ns, labels: { app: 'b', group: 'g' } }), pod('c', { ns, labels: { app: 'c', group: 'g' } }));

    assert.equal((await c.ok(['delete', 'pod', 'a', '-n', ns])).trim(), 'pod "a" deleted');
    await assertGone(['pod', 'a', '-n', ns], 'pods "a" not found');
    assert.deepEqual(lines(await c.ok(['delete', 'pods', '-n', ns, '-l', 'group=g'])), ['pod "b" deleted', 'pod "c" deleted']);
    assert.equal(await c.ok(['get', 'pods', '-n', ns, '-o', 'name']), '');

    await create(rc('web', ns), deployment('api', ns), service('web', ns, { app: 'web' }, [{ port: 80 }]));
    assert.deepEqual(lines(await c.ok(['delete', 'rc/web', 'deployment/api', 'svc/web', '-n', ns])), [
      'replicationcontroller "web" deleted',
      'deployment.apps "api" deleted',
      'service "web" deleted',
    ]);
    await assertGone(['rc', 'web', '-n', ns], 'replicationcontrollers "web" not found');
    await assertGone(['deployment', 'api', '-n', ns], '"api" not found');
    await assertGone(['service', 'web', '-n', ns], 'services "web" not found');

    // A namespace takes what is in it along; kubectl waits for all of that.
    await create(pod('left', { ns }));
    const started = Date.now();
    assert.equal((await c.ok(['delete', 'namespace', ns, '--timeout=20s'])).trim(), `namespace "${ns}" deleted`);
    assert.ok(Date.now() - started < 5_000, `delete namespace took ${Date.now() - started} ms`);
    await assertGone(['namespace', ns], `namespaces "${ns}" not found`);

    const missing = await c.run(['delete', 'pod', 'never-was', '-n', 'default']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error from server \(NotFound\): pods "never-was" not found/);
  });

  test('run creates a pod from flags', async () => {
    const ns = 'e2e-run';
    await namespace(ns);
    const out = await c.ok([
      'run',
      'r1',
      '-n',
      ns,
      '--image=busybox:1.36',
      '--labels=app=r1,tier=batch',
      '--env=GREETING=hi',
      '--port=8080',
      '--restart=Never',
      '--',
      'sleep',
      '3600',
    ]);
    assert.equal(out.trim(), 'pod/r1 created');
    const p = await c.json(['get', 'pod', 'r1', '-n', ns]);
    assert.deepEqual(p.metadata.labels, { app: 'r1', tier: 'batch' });
    assert.equal(p.spec.restartPolicy, 'Never');
    const [ctr] = p.spec.containers;
    assert.equal(ctr.name, 'r1');
    assert.equal(ctr.image, 'busybox:1.36');
    assert.deepEqual(ctr.args, ['sleep', '3600']);
    assert.equal(ctr.command, undefined);
    assert.deepEqual(ctr.env, [{ name: 'GREETING', value: 'hi' }]);
    assert.deepEqual(ctr.ports, [{ containerPort: 8080, protocol: 'TCP' }]);

    await c.ok(['run', 'r2', '-n', ns, '--image=busybox', '--command', '--', 'sh', '-c', 'echo hi']);
    const r2 = await c.json(['get', 'pod', 'r2', '-n', ns]);
    assert.deepEqual(r2.spec.containers[0].command, ['sh', '-c', 'echo hi']);
    assert.deepEqual(r2.metadata.labels, { run: 'r2' });
    assert.equal(r2.spec.containers[0].imagePullPolicy, 'Always');

    // A server-side dry run answers with the object but stores nothing.
    const dry = JSON.parse(await c.ok(['run', 'r3', '-n', ns, '--image=busybox', '--dry-run=server', '-o', 'json']));
    assert.equal(dry.metadata.name, 'r3');
    assert.equal(dry.spec.containers[0].image, 'busybox');
    await assertGone(['pod', 'r3', '-n', ns], 'pods "r3" not found');
  });

  test('expose a pod and a replication controller as services', async () => {
    const ns = 'e2e-expose';
    await namespace(ns);
    await create(pod('ex', { ns, labels: { app: 'ex', tier: 'web' } }), rc('exrc', ns));

    assert.equal((await c.ok(['expose', 'pod', 'ex', '-n', ns, '--port=80', '--target-port=8080', '--name=ex-svc'])).trim(), 'service/ex-svc exposed');
    const s = await c.json(['get', 'svc', 'ex-svc', '-n', ns]);
    assert.deepEqual(s.spec.selector, { app: 'ex', tier: 'web' });
    assert.deepEqual(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 8080 }]);
    assert.equal(s.spec.type, 'ClusterIP');
    assert.equal(s.spec.sessionAffinity, 'None');
    // From the service range (10.96.0.0/16), clusterIPs mirroring it.
    assert.match(s.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);

    assert.equal((await c.ok(['expose', 'rc', 'exrc', '-n', ns, '--port=9090'])).trim(), 'service/exrc exposed');
    const r = await c.json(['get', 'service', 'exrc', '-n', ns]);
    assert.deepEqual(r.spec.selector, { app: 'exrc' });
    assert.deepEqual(r.spec.ports, [{ port: 9090, protocol: 'TCP', targetPort: 9090 }]);
    assert.deepEqual(r.metadata.labels, { app: 'exrc' });

    const t = parseTable(await c.ok(['get', 'svc', '-n', ns, '-o', 'wide']));
    assert.deepEqual(
      t.rows.map((x) => [x.NAME, x['PORT(S)'], x.SELECTOR]),
      [
        ['ex-svc', '80/TCP', 'app=ex,tier=web'],
        ['exrc', '9090/TCP', 'app=exrc'],
      ],
    );
  });

  describe('errors', () => {
    const ns = 'e2e-errors';
    before(() => namespace(ns));

    test('creating a duplicate: AlreadyExists', async () => {
      await create(pod('dup', { ns }));
      const r = await c.run(['create', '-f', '-'], { stdin: JSON.stringify(pod('dup', { ns })) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error from server \(AlreadyExists\): error when creating "STDIN": pods "dup" already exists$/m);
      const run = await c.run(['run', 'dup', '-n', ns, '--image=busybox']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /Error from server \(AlreadyExists\): pods "dup" already exists/);
    });

    test('an invalid object: 422 naming the field', async () => {
      const bad = pod('bad', { ns, containers: [{ name: 'main' }] });
      const r = await c.run(['create', '-f', '-', '-v=6'], { stdin: JSON.stringify(bad) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /POST https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/e2e-errors\/pods\S* 422 Unprocessable Entity/);
      assert.match(r.stderr, /The Pod "bad" is invalid: spec\.containers\[0\]\.image: Required value/);

      const worse = pod('Bad_Name', { ns, containers: [container('main', 'busybox', { ports: [{ containerPort: 99999 }] })] });
      const r2 = await c.run(['create', '-f', '-'], { stdin: JSON.stringify(worse) });
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /The Pod "Bad_Name" is invalid:/);
      assert.match(r2.stderr, /\* metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
      assert.match(r2.stderr, /\* spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 99999: must be between 1 and 65535, inclusive/);

      const scale = await c.run(['create', '-f', '-'], { stdin: JSON.stringify(deployment('neg', ns, { replicas: -1 })) });
      assert.equal(scale.code, 1);
      assert.match(scale.stderr, /The Deployment "neg" is invalid: spec\.replicas: Invalid value: -1: must be greater than or equal to 0/);
      await assertGone(['pod', 'bad', '-n', ns], 'pods "bad" not found');
    });

    test('a namespace that does not exist: NotFound', async () => {
      const r = await c.run(['create', '-f', '-'], { stdin: JSON.stringify(pod('p', { ns: 'e2e-nowhere' })) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Error from server \(NotFound\): error when creating "STDIN": namespaces "e2e-nowhere" not found/);
      const run = await c.run(['run', 'p', '-n', 'e2e-nowhere', '--image=busybox']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /Error from server \(NotFound\): namespaces "e2e-nowhere" not found/);
      const applied = await c.run(['apply', '-f', '-'], { stdin: JSON.stringify(pod('p', { ns: 'e2e-nowhere' })) });
      assert.equal(applied.code, 1);
      assert.match(applied.stderr, /namespaces "e2e-nowhere" not found/);
      await assertGone(['pod', 'p', '-n', 'e2e-nowhere'], 'not found');
    });
  });
});
