/**
 * The API server's HTTP edge against a real nats-server: Kubernetes paths,
 * verbs, status codes and `Status` shapes as kubectl and client-go rely on them.
 * One nats-server and one API server for the file; every test works in a
 * namespace of its own, so tests do not see each other's objects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../services/apiserver/index.js';
import { until } from '../harness/wait.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

type Json = any;
type Reply = { status: number; headers: Headers; body: Json; text: string };
type WatchEvent = { type: string; object: Json };

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function pod(name: string, opts: { labels?: Record<string, string>; image?: string; nodeName?: string } = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      containers: [{ name: 'main', image: opts.image ?? 'busybox', ports: [{ containerPort: 80 }] }],
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
    },
  };
}

function rc(name: string, replicas = 1): Json {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name },
    spec: {
      replicas,
      selector: { app: name },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } },
    },
  };
}

function appsWorkload(kind: 'Deployment' | 'ReplicaSet', name: string, replicas = 1): Json {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } },
    },
  };
}

/** Asserts a failure `Status` as Kubernetes sends it. */
function assertStatus(r: Reply, code: number, reason: string, message?: RegExp): Json {
  assert.equal(r.status, code, `HTTP ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const s = r.body;
  assert.equal(s.kind, 'Status', r.text);
  assert.equal(s.apiVersion, 'v1');
  assert.equal(s.status, 'Failure');
  assert.equal(s.code, code);
  assert.equal(s.reason, reason);
  assert.equal(typeof s.message, 'string');
  if (message) assert.match(s.message, message);
  return s;
}


/** A chunked watch response read line by line. */
class WatchStream {
  readonly events: WatchEvent[] = [];
  private taken = 0;
  private done = false;
  private readonly abort = new AbortController();
  status = 0;
  headers?: Headers;
  ended!: Promise<void>;

  static async open(url: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    const w = new WatchStream();
    // A server that holds the headers back until the first event would hang a quiet watch.
    const timer = setTimeout(() => w.abort.abort(new Error(`no response headers within 5 s: ${url}`)), 5000);
    const res = await fetch(url, { headers, signal: w.abort.signal }).finally(() => clearTimeout(timer));
    w.status = res.status;
    w.headers = res.headers;
    w.ended = w.pump(res);
    return w;
  }

  private async pump(res: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) this.events.push(JSON.parse(line));
        }
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    } finally {
      this.done = true;
    }
  }

  /** The next `n` events not taken yet (waits for them). */
  async next(n = 1, timeoutMs = 5000): Promise<WatchEvent[]> {
    const want = this.taken + n;
    await until(`${n} watch event(s) (have ${this.events.length - this.taken}: ${JSON.stringify(this.events.slice(this.taken).map((e) => e.type))})`, () => this.events.length >= want || undefined, timeoutMs);
    const out = this.events.slice(this.taken, want);
    this.taken = want;
    return out;
  }

  /** Nothing more arrives within `ms`. */
  async quiet(ms = 200): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.deepEqual(this.events.slice(this.taken).map((e) => `${e.type} ${e.object?.metadata?.name}`), []);
  }

  get closed(): boolean {
    return this.done;
  }

  close(): void {
    this.abort.abort();
  }
}

const brief = (events: WatchEvent[]) => events.map((e) => `${e.type} ${e.object?.metadata?.name}`);

describe('API server over HTTP', () => {
  let nats: TestNats;
  let server: ApiServer;
  let namespaces = 0;
  const servers: ApiServer[] = [];

  /** Another API server on this file's nats-server (stopped at the end). */
  const extraServer = async (opts: Partial<ApiServerOptions> & { bucket: string }): Promise<ApiServer> => {
    const s = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, ...opts });
    servers.push(s);
    return s;
  };

  before(async () => {
    nats = await startTestNats({ after: () => undefined });
    server = await extraServer({ bucket: 'http' });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await nats?.stop();
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    opts: { contentType?: string; accept?: string; base?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    if (opts.accept) headers.accept = opts.accept;
    const res = await fetch((opts.base ?? server.url) + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Json;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async function ok(method: string, path: string, body?: unknown, code = method === 'POST' ? 201 : 200, opts: { contentType?: string; base?: string } = {}): Promise<Json> {
    const r = await call(method, path, body, opts);
    assert.equal(r.status, code, `${method} ${path} → ${r.status}: ${r.text}`);
    return r.body;
  }

  /** A fresh namespace for one test. */
  async function freshNamespace(base?: string): Promise<string> {
    const name = `t${++namespaces}`;
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, 201, { base });
    return name;
  }

  const podsIn = (ns: string) => `/api/v1/namespaces/${ns}/pods`;
  const names = (list: Json) => list.items.map((o: Json) => o.metadata.name);

  describe('discovery', () => {
    test('/api and /apis list the versions and groups', async () => {
      const api = await ok('GET', '/api');
      assert.equal(api.kind, 'APIVersions');
      assert.deepEqual(api.versions, ['v1']);
      const apis = await ok('GET', '/apis');
      assert.equal(apis.kind, 'APIGroupList');
      const groups = Object.fromEntries(apis.groups.map((g: Json) => [g.name, g]));
      assert.deepEqual(Object.keys(groups).sort(), ['apps', 'authorization.k8s.io', 'coordination.k8s.io', 'rbac.authorization.k8s.io']);
      assert.deepEqual(groups.apps.preferredVersion, { groupVersion: 'apps/v1', version: 'v1' });
      assert.deepEqual(groups['coordination.k8s.io'].versions, [{ groupVersion: 'coordination.k8s.io/v1', version: 'v1' }]);
      const apps = await ok('GET', '/apis/apps');
      assert.equal(apps.kind, 'APIGroup');
      assert.equal(apps.name, 'apps');
      // Asked (kubectl auth can-i), never stored: listed for create only.
      const reviews = await ok('GET', '/apis/authorization.k8s.io/v1');
      assert.deepEqual(reviews.resources, [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }]);
      assertStatus(await call('GET', '/apis/nope.example.com/v1'), 404, 'NotFound');
      assertStatus(await call('GET', '/apis/apps/v2'), 404, 'NotFound');
    });

    test('/api/v1 has what kubectl needs: kinds, verbs, short names, categories, subresources', async () => {
      const doc = await ok('GET', '/api/v1');
      assert.equal(doc.kind, 'APIResourceList');
      assert.equal(doc.groupVersion, 'v1');
      const byName = new Map<string, Json>(doc.resources.map((r: Json) => [r.name, r]));
      const expect: [string, string, boolean, string][] = [
        ['pods', 'Pod', true, 'po'],
        ['services', 'Service', true, 'svc'],
        ['nodes', 'Node', false, 'no'],
        ['replicationcontrollers', 'ReplicationController', true, 'rc'],
        ['endpoints', 'Endpoints', true, 'ep'],
        ['namespaces', 'Namespace', false, 'ns'],
        ['events', 'Event', true, 'ev'],
      ];
      for (const [name, kind, namespaced, short] of expect) {
        const r = byName.get(name);
        assert.ok(r, `${name} is served`);
        assert.equal(r.kind, kind);
        assert.equal(r.namespaced, namespaced);
        assert.deepEqual(r.shortNames, [short]);
        for (const v of ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']) assert.ok(r.verbs.includes(v), `${name} ${v}`);
      }
      for (const name of ['pods', 'services', 'replicationcontrollers']) assert.deepEqual(byName.get(name).categories, ['all']);
      for (const name of ['nodes', 'namespaces', 'events', 'endpoints']) assert.equal(byName.get(name).categories, undefined, name);
      assert.deepEqual(byName.get('pods/status').verbs.sort(), ['get', 'patch', 'update']);
      assert.equal(byName.get('pods/binding').kind, 'Binding');
      assert.deepEqual(byName.get('pods/binding').verbs, ['create']);
      assert.equal(byName.get('pods/eviction').group, 'policy');
      const scale = byName.get('replicationcontrollers/scale');
      assert.equal(scale.kind, 'Scale');
      assert.equal(scale.group, 'autoscaling');
    });

    test('/apis/apps/v1 and /apis/coordination.k8s.io/v1', async () => {
      const apps = await ok('GET', '/apis/apps/v1');
      assert.equal(apps.groupVersion, 'apps/v1');
      const byName = new Map<string, Json>(apps.resources.map((r: Json) => [r.name, r]));
      assert.deepEqual(byName.get('deployments').shortNames, ['deploy']);
      assert.deepEqual(byName.get('replicasets').shortNames, ['rs']);
      assert.deepEqual(byName.get('deployments').categories, ['all']);
      assert.equal(byName.get('deployments').kind, 'Deployment');
      assert.equal(byName.get('deployments').namespaced, true);
      assert.equal(byName.get('deployments/scale').group, 'autoscaling');
      assert.ok(byName.has('replicasets/status'));
      const coord = await ok('GET', '/apis/coordination.k8s.io/v1');
      assert.equal(coord.groupVersion, 'coordination.k8s.io/v1');
      assert.deepEqual(
        coord.resources.map((r: Json) => [r.name, r.kind, r.namespaced]),
        [['leases', 'Lease', true]],
      );
      assert.ok(coord.resources[0].verbs.includes('watch'));
    });

    test('/version', async () => {
      const v = await ok('GET', '/version');
      assert.equal(v.major, '1');
      assert.match(v.minor, /^\d+$/);
      assert.match(v.gitVersion, /^v1\.\d+\.\d+/);
      assert.equal(typeof v.platform, 'string');
    });
  });

  test('health, readiness and metrics', async () => {
    for (const path of ['/healthz', '/readyz', '/livez']) {
      const r = await call('GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.text, 'ok');
    }
    const before = await call('GET', '/metrics');
    assert.equal(before.status, 200);
    assert.match(before.headers.get('content-type')!, /^text\/plain/);
    assert.match(before.text, /^keelson_apiserver_up 1$/m);
    assert.match(before.text, /^# TYPE keelson_apiserver_requests_total counter$/m);
    const count = (t: string) => Number(/^keelson_apiserver_requests_total (\d+)$/m.exec(t)![1]);
    await call('GET', '/api');
    const later = await call('GET', '/metrics');
    assert.ok(count(later.text) >= count(before.text) + 2, 'the request counter moves');
    const rev = Number(/^keelson_apiserver_cache_revision (\d+)$/m.exec(later.text)![1]);
    assert.ok(rev > 0);
  });

  test('the system namespaces exist from the start', async () => {
    const list = await ok('GET', '/api/v1/namespaces');
    assert.equal(list.kind, 'NamespaceList');
    for (const name of ['default', 'kube-system', 'kube-node-lease', 'kube-public']) {
      const ns = list.items.find((n: Json) => n.metadata.name === name);
      assert.ok(ns, name);
      assert.equal(ns.status.phase, 'Active');
      assert.match(ns.metadata.uid, UUID);
    }
  });

  describe('create, get and list', () => {
    test('create answers 201 with the defaults and the server-owned metadata', async () => {
      const ns = await freshNamespace();
      const created = await ok('POST', podsIn(ns), pod('web', { labels: { app: 'web' }, image: 'nginx:1.25' }));
      const m = created.metadata;
      assert.equal(created.kind, 'Pod');
      assert.equal(created.apiVersion, 'v1');
      assert.equal(m.name, 'web');
      assert.equal(m.namespace, ns);
      assert.match(m.uid, UUID);
      assert.match(m.creationTimestamp, RFC3339);
      assert.ok(Math.abs(Date.parse(m.creationTimestamp) - Date.now()) < 60_000);
      assert.match(m.resourceVersion, /^[1-9]\d*$/);
      assert.equal(m.generation, 1);
      assert.deepEqual(m.labels, { app: 'web' });
      const spec = created.spec;
      assert.equal(spec.restartPolicy, 'Always');
      assert.equal(spec.dnsPolicy, 'ClusterFirst');
      assert.equal(spec.terminationGracePeriodSeconds, 30);
      assert.equal(spec.schedulerName, 'default-scheduler');
      assert.equal(spec.containers[0].imagePullPolicy, 'IfNotPresent');
      assert.equal(spec.containers[0].terminationMessagePath, '/dev/termination-log');
      assert.equal(spec.containers[0].ports[0].protocol, 'TCP');
      assert.equal(created.status.phase, 'Pending');
      assert.equal(created.status.qosClass, 'BestEffort');

      // What create answered is exactly what is stored.
      const got = await ok('GET', `${podsIn(ns)}/web`);
      assert.deepEqual(got, created);
      assertStatus(await call('GET', `${podsIn(ns)}/nope`), 404, 'NotFound', /^pods "nope" not found$/);
      assert.deepEqual((await call('GET', `${podsIn(ns)}/nope`)).body.details, { name: 'nope', group: '', kind: 'pods' });

      // A status sent on create is dropped; generateName makes a name.
      const gen = await ok('POST', podsIn(ns), { ...pod(''), metadata: { generateName: 'web-' }, status: { phase: 'Running' } });
      assert.match(gen.metadata.name, /^web-[a-z0-9]{5}$/);
      assert.equal(gen.status.phase, 'Pending');
      // The namespace comes from the URL; a different one in the body is refused.
      assertStatus(await call('POST', podsIn(ns), { ...pod('x'), metadata: { name: 'x', namespace: 'default' } }), 400, 'BadRequest');
      // Cluster-scoped objects have no namespace.
      const node = await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: `${ns}-node` } });
      assert.equal(node.metadata.namespace, undefined);
      assertStatus(await call('GET', `/api/v1/namespaces/${ns}/nodes`), 404, 'NotFound');
    });

    test('a GET through another API server sees each write at once (its watch cache catches up first)', async () => {
      const other = await extraServer({ bucket: 'http' });
      const ns = await freshNamespace();
      for (let i = 0; i < 20; i++) {
        const created = await ok('POST', podsIn(ns), pod(`rw-${i}`));
        const seen = await ok('GET', `${podsIn(ns)}/rw-${i}`, undefined, 200, { base: other.url });
        assert.equal(seen.metadata.resourceVersion, created.metadata.resourceVersion, `rw-${i} through the other server`);
        const changed = await ok('PUT', `${podsIn(ns)}/rw-${i}`, { ...seen, metadata: { ...seen.metadata, labels: { round: String(i) } } }, 200, { base: other.url });
        const back = await ok('GET', `${podsIn(ns)}/rw-${i}`);
        assert.equal(back.metadata.resourceVersion, changed.metadata.resourceVersion, `rw-${i} back through the first`);
        await ok('DELETE', `${podsIn(ns)}/rw-${i}`, undefined, 200, { base: other.url });
        assert.equal((await call('GET', `${podsIn(ns)}/rw-${i}`)).status, 404, `rw-${i} deleted`);
      }
    });

    test('YAML bodies are accepted', async () => {
      const ns = await freshNamespace();
      const yaml = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: from-yaml', 'spec:', '  containers:', '  - name: main', '    image: busybox', ''].join('\n');
      const created = await ok('POST', podsIn(ns), yaml, 201, { contentType: 'application/yaml' });
      assert.equal(created.metadata.name, 'from-yaml');
      assert.equal(created.spec.containers[0].image, 'busybox');
    });

    test('list carries kind, apiVersion and metadata.resourceVersion; all-namespaces lists', async () => {
      const ns = await freshNamespace();
      const other = await freshNamespace();
      for (const n of ['c', 'a', 'b']) await ok('POST', podsIn(ns), pod(n));
      const x = await ok('POST', podsIn(other), pod('x'));
      const list = await ok('GET', podsIn(ns));
      assert.equal(list.kind, 'PodList');
      assert.equal(list.apiVersion, 'v1');
      assert.deepEqual(names(list), ['a', 'b', 'c']);
      assert.match(list.metadata.resourceVersion, /^\d+$/);
      assert.ok(Number(list.metadata.resourceVersion) >= Number(x.metadata.resourceVersion), 'the list is at least as new as the last write');
      for (const item of list.items) {
        assert.equal(item.kind, 'Pod');
        assert.equal(item.metadata.namespace, ns);
      }
      const all = await ok('GET', '/api/v1/pods');
      const mine = all.items.filter((p: Json) => p.metadata.namespace === ns || p.metadata.namespace === other);
      assert.deepEqual(
        mine.map((p: Json) => `${p.metadata.namespace}/${p.metadata.name}`),
        [`${ns}/a`, `${ns}/b`, `${ns}/c`, `${other}/x`],
      );
      const deps = await ok('GET', `/apis/apps/v1/namespaces/${ns}/deployments`);
      assert.equal(deps.kind, 'DeploymentList');
      assert.equal(deps.apiVersion, 'apps/v1');
      assert.deepEqual(deps.items, []);
    });

    test('label selectors: =, ==, !=, in, notin, exists, !key', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('web1', { labels: { app: 'web', tier: 'front' } }));
      await ok('POST', podsIn(ns), pod('web2', { labels: { app: 'web', tier: 'back', legacy: 'yes' } }));
      await ok('POST', podsIn(ns), pod('db', { labels: { app: 'db', tier: 'back' } }));
      await ok('POST', podsIn(ns), pod('bare'));
      const sel = async (s: string) => names(await ok('GET', `${podsIn(ns)}?labelSelector=${encodeURIComponent(s)}`));
      assert.deepEqual(await sel('app=web'), ['web1', 'web2']);
      assert.deepEqual(await sel('app==db'), ['db']);
      assert.deepEqual(await sel('app!=web'), ['bare', 'db']);
      assert.deepEqual(await sel('tier in (front,middle)'), ['web1']);
      assert.deepEqual(await sel('tier notin (front)'), ['bare', 'db', 'web2']);
      assert.deepEqual(await sel('legacy'), ['web2']);
      assert.deepEqual(await sel('!legacy'), ['bare', 'db', 'web1']);
      assert.deepEqual(await sel('app=web,tier=back'), ['web2']);
      assert.deepEqual(await sel('app in (web, db),!legacy,tier'), ['db', 'web1']);
      assert.deepEqual(await sel('app=nothing'), []);
      assertStatus(await call('GET', `${podsIn(ns)}?labelSelector=${encodeURIComponent('app in web')}`), 400, 'BadRequest');
    });

    test('field selectors: metadata.name, spec.nodeName, status.phase, involvedObject.name', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('a'));
      await ok('POST', podsIn(ns), pod('b', { nodeName: 'node-1' }));
      const c = await ok('POST', podsIn(ns), pod('c'));
      await ok('PUT', `${podsIn(ns)}/c/status`, { ...c, status: { ...c.status, phase: 'Running' } });
      const sel = async (s: string, base = podsIn(ns)) => names(await ok('GET', `${base}?fieldSelector=${encodeURIComponent(s)}`));
      assert.deepEqual(await sel('metadata.name=b'), ['b']);
      assert.deepEqual(await sel('metadata.name!=b'), ['a', 'c']);
      assert.deepEqual(await sel('spec.nodeName=node-1'), ['b']);
      // What the scheduler asks: the pods with no node yet.
      assert.deepEqual(await sel('spec.nodeName='), ['a', 'c']);
      assert.deepEqual(await sel('status.phase=Running'), ['c']);
      assert.deepEqual(await sel('status.phase!=Running,spec.nodeName='), ['a']);
      assert.deepEqual(await sel(`metadata.namespace=${ns}`, '/api/v1/pods'), ['a', 'b', 'c']);
      const event = (name: string, about: string) => ({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name },
        involvedObject: { kind: 'Pod', namespace: ns, name: about, uid: c.metadata.uid },
        reason: 'Scheduled',
        message: `about ${about}`,
        type: 'Normal',
        source: { component: 'test' },
        firstTimestamp: '2024-01-01T00:00:00Z',
        lastTimestamp: '2024-01-01T00:00:00Z',
        count: 1,
      });
      await ok('POST', `/api/v1/namespaces/${ns}/events`, event('e1', 'c'));
      await ok('POST', `/api/v1/namespaces/${ns}/events`, event('e2', 'a'));
      const evs = `/api/v1/namespaces/${ns}/events`;
      // `kubectl describe pod c` asks for the pod's events like this.
      assert.deepEqual(await sel(`involvedObject.name=c,involvedObject.namespace=${ns},involvedObject.uid=${c.metadata.uid}`, evs), ['e1']);
      assert.deepEqual(await sel('involvedObject.name=a', evs), ['e2']);
      assertStatus(await call('GET', `${podsIn(ns)}?fieldSelector=spec.bogus%3Dx`), 400, 'BadRequest', /field label not supported/);
      assertStatus(await call('GET', `${podsIn(ns)}?fieldSelector=nonsense`), 400, 'BadRequest');
    });

    test('pagination with limit and continue', async () => {
      const ns = await freshNamespace();
      for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await ok('POST', podsIn(ns), pod(n));
      const first = await ok('GET', `${podsIn(ns)}?limit=2`);
      assert.deepEqual(names(first), ['p1', 'p2']);
      assert.equal(typeof first.metadata.continue, 'string');
      assert.equal(first.metadata.remainingItemCount, 3);
      // A write between pages does not disturb the walk.
      await ok('POST', podsIn(ns), pod('p0'));
      const second = await ok('GET', `${podsIn(ns)}?limit=2&continue=${encodeURIComponent(first.metadata.continue)}`);
      assert.deepEqual(names(second), ['p3', 'p4']);
      const third = await ok('GET', `${podsIn(ns)}?limit=2&continue=${encodeURIComponent(second.metadata.continue)}`);
      assert.deepEqual(names(third), ['p5']);
      assert.equal(third.metadata.continue, undefined);
      assert.equal(third.metadata.remainingItemCount, undefined);
      const whole = await ok('GET', `${podsIn(ns)}?limit=100`);
      assert.deepEqual(names(whole), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
      assert.equal(whole.metadata.continue, undefined);
      assertStatus(await call('GET', `${podsIn(ns)}?limit=2&continue=not-a-token`), 400, 'BadRequest');
      // Selectors apply before the limit.
      const sel = await ok('GET', `${podsIn(ns)}?limit=1&fieldSelector=metadata.name%21%3Dp0`);
      assert.deepEqual(names(sel), ['p1']);
      assert.equal(sel.metadata.remainingItemCount, 4);
    });
  });

  describe('updates', () => {
    test('PUT with a stale resourceVersion is a 409 Conflict; a current one wins', async () => {
      const ns = await freshNamespace();
      const created = await ok('POST', podsIn(ns), pod('p', { labels: { v: '1' } }));
      const v2 = await ok('PUT', `${podsIn(ns)}/p`, { ...created, metadata: { ...created.metadata, labels: { v: '2' } } });
      assert.ok(Number(v2.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
      assert.equal(v2.metadata.uid, created.metadata.uid);
      assert.equal(v2.metadata.creationTimestamp, created.metadata.creationTimestamp);
      const stale = await call('PUT', `${podsIn(ns)}/p`, { ...created, metadata: { ...created.metadata, labels: { v: '3' } } });
      const s = assertStatus(stale, 409, 'Conflict', /^Operation cannot be fulfilled on pods "p": the object has been modified/);
      assert.deepEqual(s.details, { name: 'p', group: '', kind: 'pods' });
      assert.deepEqual((await ok('GET', `${podsIn(ns)}/p`)).metadata.labels, { v: '2' });
      // Name on the URL and in the body must agree; a missing object is 404.
      assertStatus(await call('PUT', `${podsIn(ns)}/p`, { ...v2, metadata: { ...v2.metadata, name: 'q' } }), 400, 'BadRequest');
      assertStatus(await call('PUT', `${podsIn(ns)}/ghost`, { ...pod('ghost') }), 404, 'NotFound');
      assertStatus(await call('PUT', `${podsIn(ns)}/p`, { ...v2, metadata: { ...v2.metadata, namespace: 'default' } }), 400, 'BadRequest');
      // A write for an earlier incarnation (same name, other uid) does not land on the new one.
      await ok('DELETE', `${podsIn(ns)}/p`);
      const reborn = await ok('POST', podsIn(ns), pod('p', { labels: { v: 'new' } }));
      const { resourceVersion: _rv, ...metaWithoutRv } = v2.metadata;
      const old = await call('PUT', `${podsIn(ns)}/p`, { ...v2, metadata: { ...metaWithoutRv, labels: { v: 'old' } } });
      assertStatus(old, 409, 'Conflict', /Precondition failed: UID in precondition/);
      assert.deepEqual(await ok('GET', `${podsIn(ns)}/p`), reborn);
      // A pod's spec is mostly immutable: 422 with the field.
      const bad = await call('PUT', `${podsIn(ns)}/p`, { ...reborn, spec: { ...reborn.spec, restartPolicy: 'Never' } });
      const st = assertStatus(bad, 422, 'Invalid');
      assert.equal(st.details.causes[0].field, 'spec');
    });

    test('/status changes only the status; a main PUT cannot change the status', async () => {
      const ns = await freshNamespace();
      const created = await ok('POST', podsIn(ns), pod('p'));
      const viaStatus = await ok('PUT', `${podsIn(ns)}/p/status`, {
        ...created,
        metadata: { ...created.metadata, labels: { sneaky: 'yes' } },
        spec: { ...created.spec, containers: [{ ...created.spec.containers[0], image: 'nginx' }] },
        status: { ...created.status, phase: 'Running', podIP: '10.0.0.7' },
      });
      assert.equal(viaStatus.status.phase, 'Running');
      assert.equal(viaStatus.status.podIP, '10.0.0.7');
      assert.equal(viaStatus.spec.containers[0].image, 'busybox');
      assert.equal(viaStatus.metadata.labels, undefined);
      assert.equal(viaStatus.metadata.generation, 1);
      const viaMain = await ok('PUT', `${podsIn(ns)}/p`, {
        ...viaStatus,
        metadata: { ...viaStatus.metadata, labels: { a: 'b' } },
        status: { phase: 'Failed' },
      });
      assert.equal(viaMain.status.phase, 'Running');
      assert.equal(viaMain.status.podIP, '10.0.0.7');
      assert.deepEqual(viaMain.metadata.labels, { a: 'b' });
      const stored = await ok('GET', `${podsIn(ns)}/p`);
      assert.deepEqual(stored, viaMain);
      // A merge patch of /status likewise.
      const patched = await ok('PATCH', `${podsIn(ns)}/p/status`, { status: { phase: 'Succeeded' }, metadata: { labels: { x: 'y' } } }, 200, {
        contentType: 'application/merge-patch+json',
      });
      assert.equal(patched.status.phase, 'Succeeded');
      assert.deepEqual(patched.metadata.labels, { a: 'b' });
      // An invalid status is refused like any other invalid write.
      const invalid = assertStatus(await call('PUT', `${podsIn(ns)}/p/status`, { ...patched, status: { phase: 'Sleeping' } }), 422, 'Invalid');
      assert.equal(invalid.details.causes[0].field, 'status.phase');
    });

    test('generation moves on spec changes only', async () => {
      const ns = await freshNamespace();
      const path = `/api/v1/namespaces/${ns}/replicationcontrollers`;
      const created = await ok('POST', path, rc('web', 1));
      assert.equal(created.metadata.generation, 1);
      const labelled = await ok('PUT', `${path}/web`, { ...created, metadata: { ...created.metadata, labels: { x: 'y' } } });
      assert.equal(labelled.metadata.generation, 1);
      const scaled = await ok('PUT', `${path}/web`, { ...labelled, spec: { ...labelled.spec, replicas: 4 } });
      assert.equal(scaled.metadata.generation, 2);
      const status = await ok('PUT', `${path}/web/status`, { ...scaled, status: { replicas: 4, observedGeneration: 2 } });
      assert.equal(status.metadata.generation, 2);
      assert.equal(status.status.replicas, 4);
      const patched = await ok('PATCH', `${path}/web`, { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } } }, 200, {
        contentType: 'application/strategic-merge-patch+json',
      });
      assert.equal(patched.metadata.generation, 3);
      // A write that changes nothing writes nothing.
      const same = await ok('PUT', `${path}/web`, patched);
      assert.equal(same.metadata.resourceVersion, patched.metadata.resourceVersion);
      assert.equal(same.metadata.generation, 3);
    });
  });

  describe('bad requests are refused and change nothing', () => {
    test('400, 404, 409, 413, 415 and 422 answers, then the server still serves', async () => {
      const ns = await freshNamespace();
      const existing = await ok('POST', podsIn(ns), pod('keep', { labels: { app: 'keep' } }));
      const snapshot = async () => (await ok('GET', podsIn(ns))).items;
      const before = await snapshot();
      const checks: [string, () => Promise<Reply>, number, string, RegExp?][] = [
        ['malformed JSON', () => call('POST', podsIn(ns), '{"metadata": {"name": "x"'), 400, 'BadRequest', /not valid JSON/],
        ['malformed YAML', () => call('POST', podsIn(ns), 'metadata:\n  name: [x\n', { contentType: 'application/yaml' }), 400, 'BadRequest', /not valid YAML/],
        ['a YAML list, not an object', () => call('POST', podsIn(ns), '- a\n- b\n', { contentType: 'application/yaml' }), 400, 'BadRequest'],
        ['unknown content type', () => call('POST', podsIn(ns), 'name=x', { contentType: 'application/x-www-form-urlencoded' }), 415, 'UnsupportedMediaType'],
        ['body over 3 MiB', () => call('POST', podsIn(ns), JSON.stringify({ ...pod('big'), metadata: { name: 'big', annotations: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } } })), 413, 'RequestEntityTooLarge'],
        ['duplicate name', () => call('POST', podsIn(ns), pod('keep')), 409, 'AlreadyExists', /^pods "keep" already exists$/],
        ['invalid pod', () => call('POST', podsIn(ns), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'main' }] } }), 422, 'Invalid', /^Pod "Bad_Name" is invalid: /],
        ['wrong kind for the path', () => call('POST', podsIn(ns), { ...pod('svc'), kind: 'Service' }), 400, 'BadRequest'],
        ['resourceVersion set on create', () => call('POST', podsIn(ns), { ...pod('rv'), metadata: { name: 'rv', resourceVersion: '5' } }), 400, 'BadRequest'],
        ['Strict field validation', () => call('POST', `${podsIn(ns)}?fieldValidation=Strict`, { ...pod('strict'), spec: { ...pod('strict').spec, bogus: true } }), 400, 'BadRequest', /unknown field "spec\.bogus"/],
        ['unknown fieldValidation', () => call('POST', `${podsIn(ns)}?fieldValidation=Loose`, pod('loose')), 400, 'BadRequest'],
        ['a number where a string belongs', () => call('POST', podsIn(ns), { ...pod('typed'), spec: { containers: [{ name: 'main', image: 42 }] } }), 422, 'Invalid'],
        ['missing namespace', () => call('POST', '/api/v1/namespaces/no-such-ns/pods', pod('x')), 404, 'NotFound', /^namespaces "no-such-ns" not found$/],
        ['unknown resource', () => call('POST', `/api/v1/namespaces/${ns}/widgets`, pod('x')), 404, 'NotFound'],
        ['unknown group', () => call('GET', `/apis/widgets.example.com/v1/namespaces/${ns}/widgets`), 404, 'NotFound'],
        ['unknown path', () => call('GET', '/not/an/api/path'), 404, 'NotFound'],
        ['unknown subresource', () => call('GET', `${podsIn(ns)}/keep/widgets`), 404, 'NotFound'],
        ['malformed merge patch', () => call('PATCH', `${podsIn(ns)}/keep`, '{"metadata":', { contentType: 'application/merge-patch+json' }), 400, 'BadRequest'],
        ['PATCH with a non-patch type', () => call('PATCH', `${podsIn(ns)}/keep`, { metadata: { labels: { a: 'b' } } }), 415, 'UnsupportedMediaType'],
        ['malformed PUT', () => call('PUT', `${podsIn(ns)}/keep`, 'nope', { contentType: 'application/json' }), 400, 'BadRequest'],
        ['POST to an object name', () => call('POST', `${podsIn(ns)}/keep`, pod('keep')), 405, 'MethodNotAllowed'],
        ['bad gracePeriodSeconds', () => call('DELETE', `${podsIn(ns)}/keep?gracePeriodSeconds=-3`), 400, 'BadRequest'],
        ['GET of a name too long to exist', () => call('GET', `${podsIn(ns)}/${'n'.repeat(4000)}`), 400, 'BadRequest', /too long/],
        // The watch cache keys `namespace/name`: `ns/keep` as a name across all namespaces names nothing.
        ['GET of a namespaced name holding /', () => call('GET', `/api/v1/pods/${ns}%2Fkeep`), 404, 'NotFound'],
      ];
      for (const [what, send, code, reason, message] of checks) {
        await labelled(what, async () => {
          assertStatus(await send(), code, reason, message);
          const after = await snapshot();
          assert.deepEqual(after, before, `${what}: nothing was written`);
          const health = await call('GET', '/healthz');
          assert.equal(health.status, 200);
        });
      }
      const invalid = await call('POST', podsIn(ns), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'main' }] } });
      const fields = invalid.body.details.causes.map((c: Json) => c.field);
      assert.ok(fields.includes('metadata.name'), JSON.stringify(fields));
      assert.ok(fields.includes('spec.containers[0].image'), JSON.stringify(fields));
      for (const c of invalid.body.details.causes) {
        assert.equal(typeof c.reason, 'string');
        assert.equal(typeof c.message, 'string');
      }
      assert.equal(invalid.body.details.kind, 'Pod');
      assert.equal(invalid.body.details.name, 'Bad_Name');
      // Still writable afterwards.
      const after = await ok('PUT', `${podsIn(ns)}/keep`, { ...existing, metadata: { ...existing.metadata, labels: { app: 'keep', v: '2' } } });
      assert.deepEqual(after.metadata.labels, { app: 'keep', v: '2' });
    });

    test('fieldValidation: Warn (the default) stores without the field and sends a Warning header; Ignore is silent', async () => {
      const ns = await freshNamespace();
      const body = { ...pod('w'), spec: { ...pod('w').spec, bogus: 1 } };
      const warned = await call('POST', podsIn(ns), body);
      assert.equal(warned.status, 201, warned.text);
      const warning = warned.headers.get('warning') ?? '';
      assert.match(warning, /^299 - ".*unknown field.*spec\.bogus.*"$/);
      assert.equal(warned.body.spec.bogus, undefined, 'the unknown field is dropped, not echoed');
      const got = await ok('GET', `${podsIn(ns)}/w`);
      assert.equal(got.spec.bogus, undefined);
      assert.deepEqual(got, warned.body);
      const ignored = await call('POST', `${podsIn(ns)}?fieldValidation=Ignore`, { ...body, metadata: { name: 'i' } });
      assert.equal(ignored.status, 201);
      assert.equal(ignored.headers.get('warning'), null);
      assert.equal(ignored.body.spec.bogus, undefined);
      // An update with an unknown field warns too, and is not a change of the pod's spec.
      const upd = await call('PUT', `${podsIn(ns)}/w`, { ...got, metadata: { ...got.metadata, labels: { a: 'b' } }, spec: { ...got.spec, bogus: 2 } });
      assert.equal(upd.status, 200, upd.text);
      assert.match(upd.headers.get('warning') ?? '', /spec\.bogus/);
      assert.equal(upd.body.metadata.generation, 1);
      assert.equal(upd.body.spec.bogus, undefined);
    });
  });

  describe('subresources', () => {
    for (const [kind, base, make] of [
      ['ReplicationController', 'api/v1', () => rc('web', 2)],
      ['ReplicaSet', 'apis/apps/v1', () => appsWorkload('ReplicaSet', 'web', 2)],
      ['Deployment', 'apis/apps/v1', () => appsWorkload('Deployment', 'web', 2)],
    ] as const) {
      test(`/scale of a ${kind}: GET, PUT, PATCH`, async () => {
        const ns = await freshNamespace();
        const plural = kind === 'ReplicationController' ? 'replicationcontrollers' : kind === 'ReplicaSet' ? 'replicasets' : 'deployments';
        const path = `/${base}/namespaces/${ns}/${plural}/web`;
        const owner = await ok('POST', `/${base}/namespaces/${ns}/${plural}`, make());
        const scale = await ok('GET', `${path}/scale`);
        assert.equal(scale.kind, 'Scale');
        assert.equal(scale.apiVersion, 'autoscaling/v1');
        assert.equal(scale.metadata.name, 'web');
        assert.equal(scale.metadata.namespace, ns);
        assert.equal(scale.metadata.uid, owner.metadata.uid);
        assert.equal(scale.metadata.resourceVersion, owner.metadata.resourceVersion);
        assert.equal(scale.spec.replicas, 2);
        assert.equal(scale.status.selector, 'app=web');

        const put = await ok('PUT', `${path}/scale`, { ...scale, spec: { replicas: 5 } });
        assert.equal(put.kind, 'Scale');
        assert.equal(put.spec.replicas, 5);
        let stored = await ok('GET', path);
        assert.equal(stored.spec.replicas, 5);
        assert.equal(stored.metadata.generation, 2);
        assert.equal(put.metadata.resourceVersion, stored.metadata.resourceVersion);

        // What `kubectl scale` sends.
        const patched = await ok('PATCH', `${path}/scale`, { spec: { replicas: 0 } }, 200, { contentType: 'application/merge-patch+json' });
        assert.equal(patched.spec.replicas, 0);
        stored = await ok('GET', path);
        assert.equal(stored.spec.replicas, 0);

        assertStatus(await call('PUT', `${path}/scale`, { ...scale, spec: { replicas: 9 } }), 409, 'Conflict');
        const neg = assertStatus(await call('PUT', `${path}/scale`, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web' }, spec: { replicas: -1 } }), 422, 'Invalid');
        assert.equal(neg.details.causes[0].field, 'spec.replicas');
        assert.equal((await ok('GET', path)).spec.replicas, 0);
        assertStatus(await call('GET', `/${base}/namespaces/${ns}/${plural}/ghost/scale`), 404, 'NotFound');
      });
    }

    test('pods have no /scale', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('p'));
      assertStatus(await call('GET', `${podsIn(ns)}/p/scale`), 404, 'NotFound');
    });

    test('/binding sets spec.nodeName and PodScheduled, once', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('p'));
      const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p', namespace: ns }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } };
      const r = await call('POST', `${podsIn(ns)}/p/binding`, binding);
      assert.equal(r.status, 201, r.text);
      const bound = await ok('GET', `${podsIn(ns)}/p`);
      assert.equal(bound.spec.nodeName, 'node-1');
      const cond = bound.status.conditions.find((c: Json) => c.type === 'PodScheduled');
      assert.equal(cond.status, 'True');
      assert.match(cond.lastTransitionTime, RFC3339);
      const again = assertStatus(await call('POST', `${podsIn(ns)}/p/binding`, { ...binding, target: { ...binding.target, name: 'node-2' } }), 409, 'Conflict');
      assert.match(again.message, /already assigned to node "node-1"/);
      assert.equal((await ok('GET', `${podsIn(ns)}/p`)).spec.nodeName, 'node-1');
      assertStatus(await call('POST', `${podsIn(ns)}/ghost/binding`, { ...binding, metadata: { name: 'ghost' } }), 404, 'NotFound');
      await ok('POST', podsIn(ns), pod('q'));
      const noTarget = assertStatus(await call('POST', `${podsIn(ns)}/q/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'q' }, target: {} }), 422, 'Invalid');
      assert.equal(noTarget.details.causes[0].field, 'target.name');
      assert.equal((await ok('GET', `${podsIn(ns)}/q`)).spec.nodeName, undefined);
    });
  });

  describe('deletion', () => {
    test('a pod bound to a node is deleted gracefully; an unbound pod goes at once', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('bound', { nodeName: 'node-1' }));
      await ok('POST', podsIn(ns), pod('loose'));
      const list = await ok('GET', podsIn(ns));
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${list.metadata.resourceVersion}`);
      try {
        const marked = await ok('DELETE', `${podsIn(ns)}/bound`);
        assert.match(marked.metadata.deletionTimestamp, RFC3339);
        assert.equal(marked.metadata.deletionGracePeriodSeconds, 30);
        const deadline = Date.parse(marked.metadata.deletionTimestamp);
        assert.ok(deadline > Date.now() + 20_000 && deadline < Date.now() + 40_000, 'deletionTimestamp is now + grace');
        const still = await ok('GET', `${podsIn(ns)}/bound`);
        assert.equal(still.metadata.deletionTimestamp, marked.metadata.deletionTimestamp);
        const [ev] = await w.next();
        assert.equal(ev!.type, 'MODIFIED');
        assert.equal(ev!.object.metadata.deletionTimestamp, marked.metadata.deletionTimestamp);
        // A second delete with a longer grace changes nothing; a shorter one shortens it.
        const again = await ok('DELETE', `${podsIn(ns)}/bound`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 60 });
        assert.equal(again.metadata.deletionGracePeriodSeconds, 30);
        assert.equal(again.metadata.resourceVersion, marked.metadata.resourceVersion);
        const shorter = await ok('DELETE', `${podsIn(ns)}/bound`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 5 });
        assert.equal(shorter.metadata.deletionGracePeriodSeconds, 5);
        assert.ok(Date.parse(shorter.metadata.deletionTimestamp) < Date.parse(marked.metadata.deletionTimestamp));
        assert.deepEqual(brief(await w.next()), ['MODIFIED bound']);
        // The kubelet's final delete: grace 0, from the body as client-go sends it.
        await ok('DELETE', `${podsIn(ns)}/bound`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
        assertStatus(await call('GET', `${podsIn(ns)}/bound`), 404, 'NotFound');
        const [gone] = await w.next();
        assert.deepEqual(brief([gone!]), ['DELETED bound']);

        const loose = await ok('DELETE', `${podsIn(ns)}/loose`);
        assert.equal(loose.metadata.name, 'loose');
        assertStatus(await call('GET', `${podsIn(ns)}/loose`), 404, 'NotFound');
        assert.deepEqual(brief(await w.next()), ['DELETED loose']);
        assertStatus(await call('DELETE', `${podsIn(ns)}/loose`), 404, 'NotFound');
        assert.deepEqual((await ok('GET', podsIn(ns))).items, []);
      } finally {
        w.close();
      }
    });

    test('a terminating pod cannot be bound; gracePeriodSeconds in the query works too', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('p', { nodeName: 'node-1' }));
      await ok('DELETE', `${podsIn(ns)}/p`);
      const r = await call('POST', `${podsIn(ns)}/p/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { name: 'node-2' } });
      assertStatus(r, 409, 'Conflict');
      await ok('DELETE', `${podsIn(ns)}/p?gracePeriodSeconds=0`);
      assertStatus(await call('GET', `${podsIn(ns)}/p`), 404, 'NotFound');
    });

    test('delete preconditions: uid and resourceVersion', async () => {
      const ns = await freshNamespace();
      const p = await ok('POST', podsIn(ns), pod('p'));
      const wrongUid = await call('DELETE', `${podsIn(ns)}/p`, { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } });
      assertStatus(wrongUid, 409, 'Conflict', /Precondition failed: UID in precondition/);
      const wrongRv = await call('DELETE', `${podsIn(ns)}/p`, { preconditions: { resourceVersion: '1' } });
      assertStatus(wrongRv, 409, 'Conflict', /Precondition failed: ResourceVersion/);
      assert.equal((await ok('GET', `${podsIn(ns)}/p`)).metadata.uid, p.metadata.uid);
      await ok('DELETE', `${podsIn(ns)}/p`, { preconditions: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion } });
      assertStatus(await call('GET', `${podsIn(ns)}/p`), 404, 'NotFound');
    });

    test('finalizers hold an object, a pod too, until the last one is removed', async () => {
      const ns = await freshNamespace();
      const svcs = `/api/v1/namespaces/${ns}/services`;
      await ok('POST', podsIn(ns), { ...pod('p'), metadata: { name: 'p', finalizers: ['example.com/hold'] } });
      await ok('POST', svcs, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', finalizers: ['example.com/hold'] }, spec: { ports: [{ port: 80 }] } });
      const from = (await ok('GET', podsIn(ns))).metadata.resourceVersion;
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${from}`);
      try {
        for (const path of [`${podsIn(ns)}/p`, `${svcs}/s`]) {
          const marked = await ok('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
          assert.match(marked.metadata.deletionTimestamp, RFC3339, path);
          assert.equal(marked.metadata.deletionGracePeriodSeconds, 0);
          assert.deepEqual((await ok('GET', path)).metadata.finalizers, ['example.com/hold'], `${path} stays while finalized`);
        }
        assert.deepEqual(brief(await w.next()), ['MODIFIED p']);
        for (const path of [`${podsIn(ns)}/p`, `${svcs}/s`]) {
          await ok('PATCH', path, { metadata: { finalizers: null } }, 200, { contentType: 'application/merge-patch+json' });
          assertStatus(await call('GET', path), 404, 'NotFound');
        }
        assert.deepEqual(brief(await w.next()), ['DELETED p']);
      } finally {
        w.close();
      }
    });

    test('eviction and delete-collection', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('e'));
      const evicted = await call('POST', `${podsIn(ns)}/e/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'e', namespace: ns } });
      assert.equal(evicted.status, 201, evicted.text);
      assert.equal(evicted.body.kind, 'Status');
      assert.equal(evicted.body.status, 'Success');
      assertStatus(await call('GET', `${podsIn(ns)}/e`), 404, 'NotFound');
      assertStatus(await call('POST', `${podsIn(ns)}/e/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'e' } }), 404, 'NotFound');

      for (const [n, app] of [['a', 'x'], ['b', 'x'], ['c', 'y']]) await ok('POST', podsIn(ns), pod(n!, { labels: { app: app! } }));
      const deleted = await ok('DELETE', `${podsIn(ns)}?labelSelector=app%3Dx`);
      assert.equal(deleted.kind, 'PodList');
      assert.deepEqual(names(deleted), ['a', 'b']);
      assert.deepEqual(names(await ok('GET', podsIn(ns))), ['c']);
      await ok('DELETE', `${podsIn(ns)}?dryRun=All`);
      assert.deepEqual(names(await ok('GET', podsIn(ns))), ['c']);
    });

    test('deleting a namespace removes what is inside it; the system namespaces are protected', async () => {
      const ns = await freshNamespace();
      const keep = await freshNamespace();
      await ok('POST', podsIn(ns), pod('a'));
      await ok('POST', podsIn(ns), pod('b', { nodeName: 'node-1' }));
      await ok('POST', `/api/v1/namespaces/${ns}/replicationcontrollers`, rc('web'));
      await ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, appsWorkload('Deployment', 'web'));
      await ok('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { holderIdentity: 'x' } });
      await ok('POST', podsIn(keep), pod('a'));

      const terminating = await ok('DELETE', `/api/v1/namespaces/${ns}`);
      assert.equal(terminating.status.phase, 'Terminating');
      assert.match(terminating.metadata.deletionTimestamp, RFC3339);
      await until('the namespace to be gone', async () => (await call('GET', `/api/v1/namespaces/${ns}`)).status === 404 || undefined);
      for (const path of [podsIn(ns), `/api/v1/namespaces/${ns}/replicationcontrollers`, `/apis/apps/v1/namespaces/${ns}/deployments`, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`]) {
        assert.deepEqual((await ok('GET', path)).items, [], path);
      }
      assert.deepEqual(names(await ok('GET', podsIn(keep))), ['a']);
      assertStatus(await call('POST', podsIn(ns), pod('late')), 404, 'NotFound');

      for (const name of ['default', 'kube-system']) {
        assertStatus(await call('DELETE', `/api/v1/namespaces/${name}`), 403, 'Forbidden');
        const still = await ok('GET', `/api/v1/namespaces/${name}`);
        assert.equal(still.metadata.deletionTimestamp, undefined);
        assert.equal(still.status.phase, 'Active');
      }
    });

    test('a terminating namespace refuses new objects with 403', async () => {
      const ns = await freshNamespace();
      // Many objects keep the namespace terminating a little while.
      for (let i = 0; i < 20; i++) await ok('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `l${i}` }, spec: {} });
      await ok('DELETE', `/api/v1/namespaces/${ns}`);
      const r = await call('POST', podsIn(ns), pod('late'));
      // Forbidden while terminating, NotFound once it is gone: never created.
      assert.ok(r.status === 403 || r.status === 404, r.text);
      assertStatus(r, r.status, r.status === 403 ? 'Forbidden' : 'NotFound');
      await until('the namespace to be gone', async () => (await call('GET', `/api/v1/namespaces/${ns}`)).status === 404 || undefined);
      assert.deepEqual((await ok('GET', podsIn(ns))).items, []);
    });
  });

  describe('watch', () => {
    test('from a resourceVersion: only the later ADDED, MODIFIED, DELETED, in order', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('old'));
      const from = (await ok('GET', podsIn(ns))).metadata.resourceVersion;
      // Changes made before the watch opens come from the cache's history.
      const x = await ok('POST', podsIn(ns), pod('x'));
      await ok('PATCH', `${podsIn(ns)}/x`, { metadata: { labels: { v: '2' } } }, 200, { contentType: 'application/merge-patch+json' });
      await ok('DELETE', `${podsIn(ns)}/x`);
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${from}`);
      try {
        assert.equal(w.status, 200);
        assert.match(w.headers!.get('content-type')!, /^application\/json/);
        const replay = await w.next(3);
        assert.deepEqual(brief(replay), ['ADDED x', 'MODIFIED x', 'DELETED x']);
        assert.equal(replay[0]!.object.metadata.resourceVersion, x.metadata.resourceVersion);
        assert.deepEqual(replay[1]!.object.metadata.labels, { v: '2' });
        // Then live changes, in order; other namespaces are not seen.
        const other = await freshNamespace();
        await ok('POST', podsIn(other), pod('elsewhere'));
        const y = await ok('POST', podsIn(ns), pod('y'));
        await ok('PUT', `${podsIn(ns)}/y/status`, { ...y, status: { phase: 'Running' } });
        await ok('DELETE', `${podsIn(ns)}/old`);
        const live = await w.next(3);
        assert.deepEqual(brief(live), ['ADDED y', 'MODIFIED y', 'DELETED old']);
        const all = [...replay, ...live].map((e) => Number(e.object.metadata.resourceVersion));
        assert.deepEqual(all, [...all].sort((a, b) => a - b), 'revisions ascend');
        assert.ok(all[0]! > Number(from));
        assert.equal(live[1]!.object.status.phase, 'Running');
        await w.quiet();
      } finally {
        w.close();
      }
    });

    test('without a resourceVersion: the current objects as ADDED first', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('a'));
      await ok('POST', podsIn(ns), pod('b'));
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=1`);
      try {
        assert.deepEqual(brief(await w.next(2)).sort(), ['ADDED a', 'ADDED b']);
        await ok('POST', podsIn(ns), pod('c'));
        assert.deepEqual(brief(await w.next()), ['ADDED c']);
      } finally {
        w.close();
      }
    });

    test('a label selector moves objects in (ADDED) and out (DELETED) of view', async () => {
      const ns = await freshNamespace();
      const from = (await ok('GET', podsIn(ns))).metadata.resourceVersion;
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${from}&labelSelector=app%3Dweb`);
      const merge = (name: string, labels: Json) =>
        ok('PATCH', `${podsIn(ns)}/${name}`, { metadata: { labels } }, 200, { contentType: 'application/merge-patch+json' });
      try {
        await ok('POST', podsIn(ns), pod('p', { labels: { app: 'web' } }));
        await ok('POST', podsIn(ns), pod('q', { labels: { app: 'db' } }));
        await merge('p', { app: 'db' });
        await merge('q', { app: 'web' });
        await merge('q', { tier: 'front' });
        await ok('DELETE', `${podsIn(ns)}/p`);
        await ok('DELETE', `${podsIn(ns)}/q`);
        const events = await w.next(4);
        assert.deepEqual(brief(events), ['ADDED p', 'DELETED p', 'ADDED q', 'MODIFIED q']);
        assert.deepEqual(events[1]!.object.metadata.labels, { app: 'db' }, 'DELETED carries the object as it left the view');
        assert.deepEqual(brief(await w.next()), ['DELETED q']);
        await w.quiet();
      } finally {
        w.close();
      }
    });

    test('a field selector on a watch (what kubectl delete --wait uses)', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('a'));
      await ok('POST', podsIn(ns), pod('b'));
      const from = (await ok('GET', podsIn(ns))).metadata.resourceVersion;
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${from}&fieldSelector=metadata.name%3Db`);
      try {
        await ok('DELETE', `${podsIn(ns)}/a`);
        await ok('DELETE', `${podsIn(ns)}/b`);
        assert.deepEqual(brief(await w.next()), ['DELETED b']);
        await w.quiet();
      } finally {
        w.close();
      }
    });

    test('a watch of one cluster-scoped resource and of a group resource', async () => {
      const from = (await ok('GET', '/api/v1/nodes')).metadata.resourceVersion;
      const ns = await freshNamespace();
      const nodes = await WatchStream.open(`${server.url}/api/v1/nodes?watch=true&resourceVersion=${from}`);
      const deps = await WatchStream.open(`${server.url}/apis/apps/v1/namespaces/${ns}/deployments?watch=true&resourceVersion=${from}`);
      try {
        await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: `${ns}-n` } });
        await ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, appsWorkload('Deployment', 'd'));
        assert.deepEqual(brief(await nodes.next()), [`ADDED ${ns}-n`]);
        const [d] = await deps.next();
        assert.equal(d!.type, 'ADDED');
        assert.equal(d!.object.kind, 'Deployment');
        assert.equal(d!.object.apiVersion, 'apps/v1');
      } finally {
        nodes.close();
        deps.close();
      }
    });

    test('BOOKMARKs come at a reasonable interval when asked for', async (t) => {
      const ns = await freshNamespace();
      const p = await ok('POST', podsIn(ns), pod('p'));
      const plain = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${p.metadata.resourceVersion}`);
      // Only the watch's own intervals are faked; NATS keeps its real timers.
      t.mock.timers.enable({ apis: ['setInterval'] });
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${p.metadata.resourceVersion}&allowWatchBookmarks=true`);
      const plain2 = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${p.metadata.resourceVersion}`);
      try {
        await ok('PATCH', `${podsIn(ns)}/p`, { metadata: { labels: { a: 'b' } } }, 200, { contentType: 'application/merge-patch+json' });
        const [mod] = await w.next();
        assert.equal(mod!.type, 'MODIFIED');
        // client-go gives up on a silent watch after 30 s: a bookmark must come sooner.
        let waited = 0;
        while (w.events.length < 2 && waited < 30_000) {
          t.mock.timers.tick(1000);
          waited += 1000;
          await new Promise((r) => setTimeout(r, 5));
        }
        const [bm] = await w.next(1, 1000);
        assert.equal(bm!.type, 'BOOKMARK');
        assert.ok(waited >= 1000 && waited < 30_000, `first bookmark after ${waited} ms`);
        assert.equal(bm!.object.kind, 'Pod');
        assert.equal(bm!.object.apiVersion, 'v1');
        assert.ok(Number(bm!.object.metadata.resourceVersion) >= Number(mod!.object.metadata.resourceVersion));
        assert.deepEqual(Object.keys(bm!.object.metadata), ['resourceVersion']);
        // And again after the same interval.
        t.mock.timers.tick(waited);
        const [bm2] = await w.next(1, 1000);
        assert.equal(bm2!.type, 'BOOKMARK');
        // Watches that did not ask get none.
        await plain.next();
        await plain2.next();
        await plain.quiet(50);
        await plain2.quiet(50);
      } finally {
        t.mock.timers.reset();
        w.close();
        plain.close();
        plain2.close();
      }
    });

    test('a too-old resourceVersion gets a 200 stream with one ERROR event: 410 Expired', async () => {
      // A small history makes a revision expire after a few writes.
      const small = await extraServer({ bucket: 'http-small-history', watchCache: { historySize: 3 } });
      const ns = await freshNamespace(small.url);
      const first = await ok('POST', podsIn(ns), pod('p0'), 201, { base: small.url });
      for (let i = 1; i <= 5; i++) await ok('POST', podsIn(ns), pod(`p${i}`), 201, { base: small.url });
      const w = await WatchStream.open(`${small.url}${podsIn(ns)}?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
      try {
        assert.equal(w.status, 200);
        const [ev] = await w.next();
        assert.equal(ev!.type, 'ERROR');
        const s = ev!.object;
        assert.equal(s.kind, 'Status');
        assert.equal(s.apiVersion, 'v1');
        assert.equal(s.status, 'Failure');
        assert.equal(s.code, 410);
        assert.equal(s.reason, 'Expired');
        assert.match(s.message, /too old resource version/);
        await until('the stream to end', () => w.closed || undefined);
        assert.equal(w.events.length, 1);
      } finally {
        w.close();
      }
      // A revision still in the history resumes fine.
      const recent = await ok('GET', podsIn(ns), undefined, 200, { base: small.url });
      const w2 = await WatchStream.open(`${small.url}${podsIn(ns)}?watch=true&resourceVersion=${Number(recent.metadata.resourceVersion) - 1}`);
      try {
        assert.deepEqual(brief(await w2.next()), ['ADDED p5']);
      } finally {
        w2.close();
      }
      // A list, then a watch from the list's revision: the kubectl get -w pattern.
      const w3 = await WatchStream.open(`${small.url}${podsIn(ns)}?watch=true&resourceVersion=${recent.metadata.resourceVersion}`);
      try {
        await ok('DELETE', `${podsIn(ns)}/p0`, undefined, 200, { base: small.url });
        assert.deepEqual(brief(await w3.next()), ['DELETED p0']);
      } finally {
        w3.close();
      }
      assertStatus(await call('GET', `${podsIn(ns)}?watch=true&resourceVersion=abc`, undefined, { base: small.url }), 400, 'BadRequest');
    });

    test('Table output for kubectl: lists, single objects and watches', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('a', { labels: { app: 'a' } }));
      const t = await call('GET', podsIn(ns), undefined, { accept: TABLE_ACCEPT });
      assert.equal(t.status, 200);
      const table = t.body;
      assert.equal(table.kind, 'Table');
      assert.equal(table.apiVersion, 'meta.k8s.io/v1');
      assert.match(table.metadata.resourceVersion, /^\d+$/);
      const cols = table.columnDefinitions.map((c: Json) => c.name);
      for (const c of ['Name', 'Ready', 'Status', 'Restarts', 'Age']) assert.ok(cols.includes(c), `column ${c} in ${cols}`);
      assert.equal(table.rows.length, 1);
      const row = table.rows[0];
      assert.equal(row.cells.length, cols.length);
      assert.equal(row.cells[cols.indexOf('Name')], 'a');
      assert.equal(row.cells[cols.indexOf('Status')], 'Pending');
      assert.equal(row.cells[cols.indexOf('Ready')], '0/1');
      assert.equal(row.object.kind, 'PartialObjectMetadata');
      assert.equal(row.object.metadata.name, 'a');
      assert.equal(row.object.metadata.namespace, ns);
      assert.deepEqual(row.object.metadata.labels, { app: 'a' });

      const one = (await call('GET', `${podsIn(ns)}/a`, undefined, { accept: TABLE_ACCEPT })).body;
      assert.equal(one.kind, 'Table');
      assert.equal(one.rows.length, 1);
      const nsTable = (await call('GET', '/api/v1/namespaces', undefined, { accept: TABLE_ACCEPT })).body;
      assert.equal(nsTable.kind, 'Table');
      assert.ok(nsTable.rows.some((r: Json) => r.cells[0] === ns));
      // A plain JSON Accept still gets the object.
      assert.equal((await call('GET', `${podsIn(ns)}/a`, undefined, { accept: 'application/json' })).body.kind, 'Pod');

      const from = table.metadata.resourceVersion;
      const w = await WatchStream.open(`${server.url}${podsIn(ns)}?watch=true&resourceVersion=${from}`, { accept: TABLE_ACCEPT });
      try {
        await ok('POST', podsIn(ns), pod('b'));
        const [ev] = await w.next();
        assert.equal(ev!.type, 'ADDED');
        assert.equal(ev!.object.kind, 'Table');
        assert.equal(ev!.object.rows[0].cells[0], 'b');
      } finally {
        w.close();
      }
    });
  });

  describe('patches', () => {
    test('JSON patch', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('p', { labels: { app: 'p' } }));
      const patched = await ok(
        'PATCH',
        `${podsIn(ns)}/p`,
        [
          { op: 'test', path: '/metadata/labels/app', value: 'p' },
          { op: 'add', path: '/metadata/labels/tier', value: 'front' },
          { op: 'replace', path: '/spec/containers/0/image', value: 'nginx' },
          { op: 'add', path: '/metadata/annotations', value: { note: 'hi' } },
        ],
        200,
        { contentType: 'application/json-patch+json' },
      );
      assert.deepEqual(patched.metadata.labels, { app: 'p', tier: 'front' });
      assert.equal(patched.spec.containers[0].image, 'nginx');
      assert.deepEqual(patched.metadata.annotations, { note: 'hi' });
      assert.deepEqual(await ok('GET', `${podsIn(ns)}/p`), patched);
      const failedTest = await call('PATCH', `${podsIn(ns)}/p`, [{ op: 'test', path: '/metadata/labels/app', value: 'nope' }, { op: 'remove', path: '/metadata/labels' }], {
        contentType: 'application/json-patch+json',
      });
      // Well formed but not applicable: 422, as Kubernetes answers a failed `test`.
      assertStatus(failedTest, 422, 'Invalid', /test failed/);
      const missingPath = await call('PATCH', `${podsIn(ns)}/p`, [{ op: 'replace', path: '/metadata/nothing/here', value: 1 }], { contentType: 'application/json-patch+json' });
      assertStatus(missingPath, 422, 'Invalid');
      assertStatus(await call('PATCH', `${podsIn(ns)}/p`, [{ op: 'jump', path: '/x' }], { contentType: 'application/json-patch+json' }), 400, 'BadRequest');
      assertStatus(await call('PATCH', `${podsIn(ns)}/p`, { not: 'a list' }, { contentType: 'application/json-patch+json' }), 400, 'BadRequest');
      assert.deepEqual((await ok('GET', `${podsIn(ns)}/p`)).metadata.labels, { app: 'p', tier: 'front' });
      // A patch that makes the object invalid is a 422.
      const invalid = await call('PATCH', `${podsIn(ns)}/p`, [{ op: 'replace', path: '/spec/containers/0/name', value: 'Not Valid' }], {
        contentType: 'application/json-patch+json',
      });
      assertStatus(invalid, 422, 'Invalid');
      assertStatus(await call('PATCH', `${podsIn(ns)}/ghost`, [], { contentType: 'application/json-patch+json' }), 404, 'NotFound');
    });

    test('merge patch: set, and null deletes', async () => {
      const ns = await freshNamespace();
      await ok('POST', podsIn(ns), pod('p', { labels: { app: 'p', drop: 'me' } }));
      const patched = await ok('PATCH', `${podsIn(ns)}/p`, { metadata: { labels: { drop: null, added: 'yes' } } }, 200, { contentType: 'application/merge-patch+json' });
      assert.deepEqual(patched.metadata.labels, { app: 'p', added: 'yes' });
      // A merge patch replaces lists whole.
      const svcPath = `/api/v1/namespaces/${ns}/services`;
      await ok('POST', svcPath, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { app: 'p' }, ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } });
      const svc = await ok('PATCH', `${svcPath}/s`, { spec: { ports: [{ name: 'http', port: 8080 }] } }, 200, { contentType: 'application/merge-patch+json' });
      assert.deepEqual(svc.spec.ports.map((p: Json) => p.port), [8080]);
      // A resourceVersion in the patch is a precondition.
      assertStatus(await call('PATCH', `${podsIn(ns)}/p`, { metadata: { resourceVersion: '1', labels: { x: 'y' } } }, { contentType: 'application/merge-patch+json' }), 409, 'Conflict');
    });

    test('strategic merge patch merges lists by their keys (what kubectl apply sends)', async () => {
      const ns = await freshNamespace();
      const created = await ok('POST', podsIn(ns), {
        ...pod('p'),
        spec: {
          containers: [
            { name: 'main', image: 'busybox', ports: [{ containerPort: 80 }] },
            { name: 'side', image: 'busybox' },
          ],
        },
      });
      // Only the image of a pod may change; the list merge keeps everything else.
      const patched = await ok(
        'PATCH',
        `${podsIn(ns)}/p`,
        { metadata: { labels: { l: '1' } }, spec: { containers: [{ name: 'side', image: 'nginx' }] } },
        200,
        { contentType: 'application/strategic-merge-patch+json' },
      );
      assert.deepEqual(patched.spec.containers.map((c: Json) => [c.name, c.image]), [['main', 'busybox'], ['side', 'nginx']]);
      assert.deepEqual(patched.spec.containers[0], created.spec.containers[0]);
      assert.deepEqual(patched.metadata.labels, { l: '1' });
      // `kubectl cordon`
      await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: `${ns}-n` } });
      const cordoned = await ok('PATCH', `/api/v1/nodes/${ns}-n`, { spec: { unschedulable: true } }, 200, { contentType: 'application/strategic-merge-patch+json' });
      assert.equal(cordoned.spec.unschedulable, true);
      // A workload's template: containers by name, env by name, ports by containerPort.
      const d = appsWorkload('Deployment', 'd');
      d.spec.template.spec.containers = [
        { name: 'main', image: 'busybox:1.36', ports: [{ containerPort: 80, name: 'http' }], env: [{ name: 'A', value: '1' }] },
        { name: 'side', image: 'busybox:1.36' },
      ];
      const dc = await ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, d);
      const dp = await ok(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns}/deployments/d`,
        { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 443, name: 'https' }] }] } } } },
        200,
        { contentType: 'application/strategic-merge-patch+json' },
      );
      const [main, side] = dp.spec.template.spec.containers;
      assert.equal(main.image, 'busybox:1.37');
      // Kubernetes' order: the patch's new elements first, then the ones only the server had.
      assert.deepEqual(main.env, [{ name: 'B', value: '2' }, { name: 'A', value: '1' }]);
      assert.deepEqual(main.ports.map((p: Json) => [p.containerPort, p.name]), [[443, 'https'], [80, 'http']]);
      assert.equal(side.name, 'side');
      assert.equal(dp.metadata.generation, dc.metadata.generation + 1);
      // `$patch: delete` removes one element of a merged list.
      const removed = await ok(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns}/deployments/d`,
        { spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } },
        200,
        { contentType: 'application/strategic-merge-patch+json' },
      );
      assert.deepEqual(removed.spec.template.spec.containers.map((c: Json) => c.name), ['main']);
    });

    test('server-side apply (apply-patch+yaml) creates what is missing, then updates', async () => {
      const ns = await freshNamespace();
      const yaml = (image: string) =>
        ['apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: web', 'spec:', '  replicas: 2', '  selector:', '    matchLabels: {app: web}', '  template:', '    metadata:', '      labels: {app: web}', '    spec:', '    ' + '  containers:', `      - {name: main, image: "${image}"}`, ''].join('\n');
      const path = `/apis/apps/v1/namespaces/${ns}/deployments/web?fieldManager=kubectl`;
      const created = await call('PATCH', path, yaml('busybox:1.36'), { contentType: 'application/apply-patch+yaml' });
      assert.ok(created.status === 200 || created.status === 201, created.text);
      assert.equal(created.body.metadata.name, 'web');
      assert.equal(created.body.metadata.namespace, ns);
      assert.equal(created.body.spec.replicas, 2);
      assert.match(created.body.metadata.uid, UUID);
      const updated = await ok('PATCH', path, yaml('busybox:1.37'), 200, { contentType: 'application/apply-patch+yaml' });
      assert.equal(updated.metadata.uid, created.body.metadata.uid);
      assert.equal(updated.spec.template.spec.containers[0].image, 'busybox:1.37');
      assert.equal(updated.metadata.generation, 2);
      assertStatus(await call('PATCH', path, 'spec: [unclosed', { contentType: 'application/apply-patch+yaml' }), 400, 'BadRequest');
    });
  });

  test('dryRun=All validates and answers but writes nothing', async () => {
    const ns = await freshNamespace();
    const real = await ok('POST', podsIn(ns), pod('real', { labels: { v: '1' } }));
    const before = await ok('GET', podsIn(ns));
    const created = await ok('POST', `${podsIn(ns)}?dryRun=All`, pod('dry'));
    assert.equal(created.metadata.name, 'dry');
    assert.equal(created.spec.restartPolicy, 'Always', 'defaults are applied');
    assertStatus(await call('POST', `${podsIn(ns)}?dryRun=All`, { ...pod('x'), spec: { containers: [{ name: 'c' }] } }), 422, 'Invalid');
    const put = await ok('PUT', `${podsIn(ns)}/real?dryRun=All`, { ...real, metadata: { ...real.metadata, labels: { v: '2' } } });
    assert.deepEqual(put.metadata.labels, { v: '2' });
    const patched = await ok('PATCH', `${podsIn(ns)}/real?dryRun=All`, { metadata: { labels: { v: '3' } } }, 200, { contentType: 'application/merge-patch+json' });
    assert.deepEqual(patched.metadata.labels, { v: '3' });
    await ok('PUT', `${podsIn(ns)}/real/status?dryRun=All`, { ...real, status: { phase: 'Running' } });
    await ok('DELETE', `${podsIn(ns)}/real?dryRun=All`);
    await ok('POST', `${podsIn(ns)}/real/binding?dryRun=All`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'real' }, target: { name: 'n' } });
    const rcs = `/api/v1/namespaces/${ns}/replicationcontrollers`;
    await ok('POST', rcs, rc('web'));
    const rcBefore = await ok('GET', `${rcs}/web`);
    await ok('PATCH', `${rcs}/web/scale?dryRun=All`, { spec: { replicas: 7 } }, 200, { contentType: 'application/merge-patch+json' });
    assert.deepEqual(await ok('GET', `${rcs}/web`), rcBefore);
    await ok('DELETE', `/api/v1/namespaces/${ns}?dryRun=All`);
    assert.equal((await ok('GET', `/api/v1/namespaces/${ns}`)).status.phase, 'Active');
    const after = await ok('GET', podsIn(ns));
    assert.deepEqual(after.items, before.items);
    assertStatus(await call('GET', `${podsIn(ns)}/dry`), 404, 'NotFound');
  });

  test('a restart over the same bucket keeps every object', async () => {
    const first = await extraServer({ bucket: 'http-restart' });
    const ns = await freshNamespace(first.url);
    const base = { base: first.url };
    await ok('POST', podsIn(ns), pod('p', { labels: { app: 'p' }, nodeName: 'node-1' }), 201, base);
    await ok('POST', `/api/v1/namespaces/${ns}/replicationcontrollers`, rc('web', 3), 201, base);
    await ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, appsWorkload('Deployment', 'd'), 201, base);
    await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { zone: 'a' } } }, 201, base);
    await ok('POST', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'node-1' }, spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40 } }, 201, base);
    await ok('DELETE', `${podsIn(ns)}/p`, undefined, 200, base);
    const paths = ['/api/v1/namespaces', '/api/v1/pods', '/api/v1/replicationcontrollers', '/apis/apps/v1/deployments', '/api/v1/nodes', '/apis/coordination.k8s.io/v1/leases'];
    const dump = async (url: string) => Promise.all(paths.map(async (p) => (await ok('GET', p, undefined, 200, { base: url })).items));
    const before = await dump(first.url);
    const lastRv = Math.max(...before.flat().map((o: Json) => Number(o.metadata.resourceVersion)));
    await first.stop();
    const second = await extraServer({ bucket: 'http-restart' });
    const after = await dump(second.url);
    assert.deepEqual(after, before);
    assert.equal(after[0].filter((n: Json) => n.metadata.name === 'default').length, 1);
    assert.ok(after[1].find((p: Json) => p.metadata.name === 'p').metadata.deletionTimestamp, 'a terminating pod stays terminating');
    const next = await ok('POST', podsIn(ns), pod('q'), 201, { base: second.url });
    assert.ok(Number(next.metadata.resourceVersion) > lastRv);
    const list = await ok('GET', podsIn(ns), undefined, 200, { base: second.url });
    assert.deepEqual(names(list), ['p', 'q']);
  });
});

/** Runs one named check inside a test, so a failure says which one. */
async function labelled(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof Error) e.message = `${what}: ${e.message}`;
    throw e;
  }
}


