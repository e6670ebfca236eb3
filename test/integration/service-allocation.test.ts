/**
 * Cluster IPs and node ports against a real nats-server: concurrent creates
 * on two API servers, taken and out-of-range values, release on delete and
 * type change, dry runs, a restart over the same buckets, the repair loop,
 * and the `default/kubernetes` Service and Endpoints. Each test uses a store
 * bucket of its own (its allocations and apiservers buckets follow it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { AllocationsBucket } from '../../services/apiserver/allocation/index.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../services/apiserver/index.js';
import { startTestNats, type TestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';
import { bucketKeys } from '../../services/lib/kv/index.js';
import { fetchText } from '../../services/lib/fetch/index.js';

type Json = any;
type Reply = { status: number; body: Json; text: string };

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function service(name: string, spec: Json = {}, extra: Json = {}): Json {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80 }], ...spec } };
}

const nodePortService = (name: string, nodePort?: number, spec: Json = {}) =>
  service(name, { type: 'NodePort', ports: [{ name: 'http', port: 80, ...(nodePort ? { nodePort } : {}) }], ...spec });

async function call(base: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const { status, text } = await fetchText(
    base + path,
    { method, headers: body === undefined ? {} : { 'content-type': contentType }, body: body === undefined ? undefined : JSON.stringify(body) },
    10_000,
  );
  return { status, body: text ? JSON.parse(text) : undefined, text };
}

async function ok(base: string, method: string, path: string, body?: unknown, code = method === 'POST' ? 201 : 200, contentType?: string): Promise<Json> {
  const r = await call(base, method, path, body, contentType);
  assert.equal(r.status, code, `${method} ${path} → ${r.status}: ${r.text}`);
  return r.body;
}

/** Asserts a 422 Invalid with exactly one cause, on `field`, whose message matches. */
function assertInvalid(r: Reply, field: string, message: string): void {
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.reason, 'Invalid');
  assert.deepEqual(
    r.body.details.causes.map((c: Json) => [c.field, c.message]),
    [[field, message]],
  );
  assert.ok(r.body.message.includes(`${field}: ${message}`), r.body.message);
}

/** Every held key of an allocations bucket with its owner's uid. */
/** Each allocation key of a bucket and the uid holding it (not kv.keys(): it can hang for 30 s while the bucket is written). */
async function allocationsHeld(nc: NatsConnection, bucket: string): Promise<Map<string, string>> {
  const js = jetstream(nc);
  const kv = await new Kvm(js).open(bucket);
  const out = new Map<string, string>();
  for (const k of await bucketKeys(await js.jetstreamManager(false), bucket)) {
    const e = await kv.get(k);
    if (e?.operation === 'PUT') out.set(k, e.json<{ uid: string }>().uid);
  }
  return out;
}

describe('Service cluster IPs and node ports', () => {
  let nats: TestNats;
  const servers: ApiServer[] = [];
  let kvm: Kvm;

  /** An API server on this file's nats-server, bound to loopback, stopped at the end. */
  const server = async (bucket: string, opts: Partial<ApiServerOptions> = {}): Promise<ApiServer> => {
    const s = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket, ...opts });
    servers.push(s);
    return s;
  };
  const allocations = (bucket: string) => kvm.open(`${bucket}-allocations`);
  let nc: NatsConnection;
  const held = (bucket: string) => allocationsHeld(nc, `${bucket}-allocations`);
  const svcPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ''}`;

  before(async () => {
    nats = await startTestNats({ after: () => undefined });
    nc = await nats.connect('allocation-test');
    kvm = new Kvm(jetstream(nc));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await nats?.stop();
  });

  test('50 concurrent creates on two API servers get 50 distinct cluster IPs and node ports, each one stored', async () => {
    const a = await server('alloc-concurrent');
    const b = await server('alloc-concurrent');
    const created: Json[] = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ok(i % 2 ? a.url : b.url, 'POST', svcPath('default'), nodePortService(`s${i}`))),
    );
    const ips = created.map((s) => s.spec.clusterIP);
    const ports = created.map((s) => s.spec.ports[0].nodePort);
    assert.equal(new Set(ips).size, 50, `distinct IPs: ${ips}`);
    assert.equal(new Set(ports).size, 50, `distinct node ports: ${ports}`);
    for (const s of created) {
      assert.match(s.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
      assert.notEqual(s.spec.clusterIP, '10.96.0.1', 'the kubernetes Service has that one');
      assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);
      assert.ok(s.spec.ports[0].nodePort >= 30000 && s.spec.ports[0].nodePort <= 32767, String(s.spec.ports[0].nodePort));
    }
    const keys = await held('alloc-concurrent');
    for (const s of created) {
      assert.equal(keys.get(`ip.${s.spec.clusterIP}`), s.metadata.uid);
      assert.equal(keys.get(`nodeport.${s.spec.ports[0].nodePort}`), s.metadata.uid);
    }
    // 50 services × 2 values, and the kubernetes Service's IP.
    assert.equal(keys.size, 101, [...keys.keys()].join(' '));
  });

  test('a taken or out-of-range IP or node port is 422 Invalid in Kubernetes words, and a failed create keeps nothing', async () => {
    const s = await server('alloc-invalid');
    const ns = 'default';
    await ok(s.url, 'POST', svcPath(ns), nodePortService('first', 30080, { clusterIP: '10.96.0.10' }));
    assertInvalid(await call(s.url, 'POST', svcPath(ns), service('same-ip', { clusterIP: '10.96.0.10' })), 'spec.clusterIPs', 'Invalid value: "10.96.0.10": provided IP is already allocated');
    assertInvalid(
      await call(s.url, 'POST', svcPath(ns), service('outside', { clusterIP: '10.0.0.10' })),
      'spec.clusterIPs',
      'Invalid value: "10.0.0.10": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/16',
    );
    assertInvalid(await call(s.url, 'POST', svcPath(ns), service('kube', { clusterIP: '10.96.0.1' })), 'spec.clusterIPs', 'Invalid value: "10.96.0.1": provided IP is already allocated');
    // The IP is free but the node port is not: the IP taken first is given back.
    assertInvalid(
      await call(s.url, 'POST', svcPath(ns), nodePortService('same-port', 30080, { clusterIP: '10.96.0.11' })),
      'spec.ports[0].nodePort',
      'Invalid value: 30080: provided port is already allocated',
    );
    assertInvalid(
      await call(s.url, 'POST', svcPath(ns), nodePortService('low-port', 8080)),
      'spec.ports[0].nodePort',
      'Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
    // As in Kubernetes, a node port belongs to one Service whatever the protocol...
    assertInvalid(
      await call(s.url, 'POST', svcPath(ns), service('udp', { type: 'NodePort', ports: [{ port: 53, protocol: 'UDP', nodePort: 30080 }] })),
      'spec.ports[0].nodePort',
      'Invalid value: 30080: provided port is already allocated',
    );
    // ...and one Service may use it for its TCP and UDP ports of one number.
    const dns = await ok(
      s.url,
      'POST',
      svcPath(ns),
      service('dns', { type: 'NodePort', ports: [{ name: 'tcp', port: 53, protocol: 'TCP', nodePort: 30090 }, { name: 'udp', port: 53, protocol: 'UDP', nodePort: 30090 }] }),
    );
    assert.deepEqual(dns.spec.ports.map((p: { nodePort: number }) => p.nodePort), [30090, 30090]);
    const shared = await ok(s.url, 'POST', svcPath(ns), service('dns-auto', { type: 'NodePort', ports: [{ name: 'tcp', port: 53, protocol: 'TCP' }, { name: 'udp', port: 53, protocol: 'UDP' }] }));
    assert.equal(shared.spec.ports[0].nodePort, shared.spec.ports[1].nodePort, 'one allocated node port for 53/TCP and 53/UDP');
    const again = await ok(s.url, 'POST', svcPath(ns), nodePortService('second', 30081, { clusterIP: '10.96.0.11' }));
    assert.equal(again.spec.clusterIP, '10.96.0.11');
    // A create that fails later (the name exists) gives back what it took too.
    const dup = await call(s.url, 'POST', svcPath(ns), nodePortService('second', 30082, { clusterIP: '10.96.0.12' }));
    assert.equal(dup.status, 409, dup.text);
    const keys = await held('alloc-invalid');
    assert.equal(keys.has('ip.10.96.0.12'), false);
    assert.equal(keys.has('nodeport.30082'), false);
  });

  test('a dry run allocates nothing but still refuses a taken value', async () => {
    const s = await server('alloc-dryrun');
    const dry = await ok(s.url, 'POST', `${svcPath('default')}?dryRun=All`, nodePortService('dry', 30100, { clusterIP: '10.96.0.20' }));
    assert.equal(dry.spec.clusterIP, '10.96.0.20');
    const picked = await ok(s.url, 'POST', `${svcPath('default')}?dryRun=All`, nodePortService('dry2'));
    assert.match(picked.spec.clusterIP, IPV4);
    assert.ok(picked.spec.ports[0].nodePort > 0);
    const keys = await held('alloc-dryrun');
    assert.deepEqual([...keys.keys()], ['ip.10.96.0.1'], 'only the kubernetes Service holds anything');
    await ok(s.url, 'POST', svcPath('default'), nodePortService('real', 30100, { clusterIP: '10.96.0.20' }));
    assertInvalid(await call(s.url, 'POST', `${svcPath('default')}?dryRun=All`, service('dry3', { clusterIP: '10.96.0.20' })), 'spec.clusterIPs', 'Invalid value: "10.96.0.20": provided IP is already allocated');
  });

  test('delete releases the IP and node port (after the last finalizer when there is one)', async () => {
    const s = await server('alloc-delete');
    const ns = 'default';
    const spec = { clusterIP: '10.96.0.30' };
    await ok(s.url, 'POST', svcPath(ns), nodePortService('a', 30200, spec));
    await ok(s.url, 'DELETE', svcPath(ns, 'a'));
    await ok(s.url, 'POST', svcPath(ns), nodePortService('b', 30200, spec));

    await ok(s.url, 'POST', svcPath(ns), nodePortService('held', 30201, { clusterIP: '10.96.0.31' }, ), 201);
    await ok(s.url, 'PATCH', svcPath(ns, 'held'), { metadata: { finalizers: ['example.com/hold'] } }, 200, 'application/merge-patch+json');
    await ok(s.url, 'DELETE', svcPath(ns, 'held'));
    assertInvalid(await call(s.url, 'POST', svcPath(ns), service('early', { clusterIP: '10.96.0.31' })), 'spec.clusterIPs', 'Invalid value: "10.96.0.31": provided IP is already allocated');
    await ok(s.url, 'PATCH', svcPath(ns, 'held'), { metadata: { finalizers: null } }, 200, 'application/merge-patch+json');
    assert.equal((await call(s.url, 'GET', svcPath(ns, 'held'))).status, 404);
    await ok(s.url, 'POST', svcPath(ns), nodePortService('late', 30201, { clusterIP: '10.96.0.31' }));

    // A namespace going away takes its services' values with it.
    await ok(s.url, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gone' } });
    await ok(s.url, 'POST', svcPath('gone'), nodePortService('x', 30202, { clusterIP: '10.96.0.32' }));
    await ok(s.url, 'DELETE', '/api/v1/namespaces/gone');
    await until('the namespace to be gone', async () => (await call(s.url, 'GET', '/api/v1/namespaces/gone')).status === 404, 10_000);
    await until('10.96.0.32 and 30202 to be free', async () => !(await held('alloc-delete')).has('ip.10.96.0.32'), 5_000);
    await ok(s.url, 'POST', svcPath(ns), nodePortService('after-ns', 30202, { clusterIP: '10.96.0.32' }));
  });

  test('type changes take and give back node ports and the cluster IP; the IP is kept across updates', async () => {
    const s = await server('alloc-types');
    const ns = 'default';
    const keys = async () => held('alloc-types');
    const patch = (body: Json) => ok(s.url, 'PATCH', svcPath(ns, 'web'), body, 200, 'application/merge-patch+json');
    const created = await ok(s.url, 'POST', svcPath(ns), service('web'));
    const ip = created.spec.clusterIP;
    assert.match(ip, IPV4);

    const np = await patch({ spec: { type: 'NodePort' } });
    const nodePort = np.spec.ports[0].nodePort;
    assert.ok(nodePort >= 30000, JSON.stringify(np.spec));
    assert.equal(np.spec.clusterIP, ip);
    assert.equal((await keys()).get(`nodeport.${nodePort}`), created.metadata.uid);

    // A PUT without the allocated values keeps them.
    const put = await ok(s.url, 'PUT', svcPath(ns, 'web'), { ...service('web', { type: 'NodePort' }), metadata: { name: 'web' } });
    assert.equal(put.spec.clusterIP, ip);
    assert.equal(put.spec.ports[0].nodePort, nodePort);

    // A second port gets a node port of its own.
    const two = await patch({ spec: { ports: [{ name: 'http', port: 80, nodePort }, { name: 'metrics', port: 9100 }] } });
    const second = two.spec.ports[1].nodePort;
    assert.ok(second >= 30000 && second !== nodePort, JSON.stringify(two.spec.ports));
    const back = await patch({ spec: { ports: [{ name: 'http', port: 80, nodePort }] } });
    assert.equal(back.spec.ports.length, 1);
    assert.equal((await keys()).has(`nodeport.${second}`), false, 'a removed port gives its node port back');

    const cip = await patch({ spec: { type: 'ClusterIP' } });
    assert.equal(cip.spec.ports[0].nodePort, undefined);
    assert.equal(cip.spec.externalTrafficPolicy, undefined);
    assert.equal((await keys()).has(`nodeport.${nodePort}`), false);

    const ext = await patch({ spec: { type: 'ExternalName', externalName: 'db.example.com' } });
    assert.equal(ext.spec.clusterIP, undefined);
    assert.equal((await keys()).has(`ip.${ip}`), false);
    const again = await patch({ spec: { type: 'ClusterIP', externalName: null } });
    assert.match(again.spec.clusterIP, IPV4);
    assert.equal((await keys()).get(`ip.${again.spec.clusterIP}`), created.metadata.uid);

    const immutable = await call(s.url, 'PATCH', svcPath(ns, 'web'), { spec: { clusterIP: '10.96.0.99', clusterIPs: ['10.96.0.99'] } }, 'application/merge-patch+json');
    assert.equal(immutable.status, 422, immutable.text);
    assert.match(immutable.body.message, /spec\.clusterIP: Invalid value: "10\.96\.0\.99": field is immutable/);
  });

  test('headless and ExternalName services get no cluster IP', async () => {
    const s = await server('alloc-headless');
    const headless = await ok(s.url, 'POST', svcPath('default'), service('headless', { clusterIP: 'None' }));
    assert.equal(headless.spec.clusterIP, 'None');
    assert.deepEqual(headless.spec.clusterIPs, ['None']);
    const ext = await ok(s.url, 'POST', svcPath('default'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
    assert.equal(ext.spec.clusterIP, undefined);
    assert.deepEqual([...(await held('alloc-headless')).keys()], ['ip.10.96.0.1']);
  });

  test('a restart keeps the allocations: a small range fills up exactly, never twice', async () => {
    const opts = { serviceClusterIPRange: '10.100.0.0/28', serviceNodePortRange: '30000-30013' };
    const first = await server('alloc-restart', opts);
    const before: Json[] = [];
    for (let i = 0; i < 6; i++) before.push(await ok(first.url, 'POST', svcPath('default'), nodePortService(`b${i}`)));
    await first.stop();
    const second = await server('alloc-restart', opts);
    const afterRestart: Json[] = await Promise.all(Array.from({ length: 7 }, (_, i) => ok(second.url, 'POST', svcPath('default'), nodePortService(`a${i}`))));
    const all = [...before, ...afterRestart];
    // 14 usable addresses: the kubernetes Service's and 13 more.
    assert.deepEqual(
      all.map((s) => s.spec.clusterIP).concat('10.100.0.1').sort(),
      Array.from({ length: 14 }, (_, i) => `10.100.0.${i + 1}`).sort(),
    );
    assert.equal(new Set(all.map((s) => s.spec.ports[0].nodePort)).size, 13);
    const full = await call(second.url, 'POST', svcPath('default'), service('one-too-many'));
    assert.equal(full.status, 500, full.text);
    assert.match(full.body.message, /failed to allocate a serviceIP: range is full/);
    assert.equal((await call(second.url, 'GET', svcPath('default', 'one-too-many'))).status, 404);
  });

  test('repair releases an allocation whose owner is gone (after the grace) and records one that is missing', async () => {
    // The grace is long enough that a busy machine still runs a round well within it.
    const s = await server('alloc-repair', { allocationRepair: { intervalMs: 100, graceMs: 8_000 } });
    const kv = await allocations('alloc-repair');
    const svc = await ok(s.url, 'POST', svcPath('default'), service('kept', { clusterIP: '10.96.0.40' }));
    // A leak: an allocation for a Service that never made it to the store.
    await kv.create('ip.10.96.0.41', JSON.stringify({ namespace: 'default', name: 'lost', uid: 'no-such-uid' }));
    // A Service from before allocations: its key is missing.
    await kv.delete('ip.10.96.0.40');
    const np = await ok(s.url, 'POST', svcPath('default'), nodePortService('kept-np', 30555));
    await kv.delete('nodeport.30555');
    await until('the missing allocation of 10.96.0.40 to be recorded', async () => (await held('alloc-repair')).get('ip.10.96.0.40') === svc.metadata.uid, 5_000);
    await until('the missing allocation of node port 30555 to be recorded', async () => (await held('alloc-repair')).get('nodeport.30555') === np.metadata.uid, 5_000);
    assert.equal((await held('alloc-repair')).get('ip.10.96.0.41'), 'no-such-uid', 'within the grace the leak stays');
    await until('the leaked 10.96.0.41 to be released', async () => !(await held('alloc-repair')).has('ip.10.96.0.41'), 20_000);
    await ok(s.url, 'POST', svcPath('default'), service('reuse', { clusterIP: '10.96.0.41' }));
    assertInvalid(await call(s.url, 'POST', svcPath('default'), service('dup', { clusterIP: '10.96.0.40' })), 'spec.clusterIPs', 'Invalid value: "10.96.0.40": provided IP is already allocated');
  });

  describe('the kubernetes Service', () => {
    test('exists at start: 10.96.0.1, https 443 → the API server port, Endpoints listing the advertise address', async () => {
      const s = await server('kube-svc');
      const port = Number(new URL(s.url).port);
      const svc = await ok(s.url, 'GET', svcPath('default', 'kubernetes'));
      assert.equal(svc.spec.type, 'ClusterIP');
      assert.equal(svc.spec.clusterIP, '10.96.0.1');
      assert.deepEqual(svc.spec.clusterIPs, ['10.96.0.1']);
      assert.deepEqual(svc.spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }]);
      assert.equal(svc.spec.selector, undefined);
      const ep = await ok(s.url, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes');
      assert.deepEqual(ep.subsets, [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port, protocol: 'TCP' }] }]);
      // Deleted by hand, it comes back.
      await ok(s.url, 'DELETE', svcPath('default', 'kubernetes'));
      const restored = await until('the kubernetes Service to come back', async () => (await call(s.url, 'GET', svcPath('default', 'kubernetes'))).body?.spec?.clusterIP === '10.96.0.1', 10_000);
      assert.ok(restored);
    });

    test('the range option moves it; the advertise address option is what the Endpoints list', async () => {
      const s = await server('kube-svc-range', { serviceClusterIPRange: '172.20.0.0/16', advertiseAddress: '192.0.2.7' });
      assert.equal((await ok(s.url, 'GET', svcPath('default', 'kubernetes'))).spec.clusterIP, '172.20.0.1');
      const ep = await ok(s.url, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes');
      assert.deepEqual(ep.subsets[0].addresses, [{ ip: '192.0.2.7' }]);
    });

    test('several API servers each keep their place in the Endpoints while they run', async () => {
      const timing = { kubernetesService: { renewMs: 200, leaseMs: 1_000 } };
      const a = await server('kube-svc-ha', { ...timing, advertiseAddress: '192.0.2.1' });
      const b = await server('kube-svc-ha', { ...timing, advertiseAddress: '192.0.2.2' });
      const addresses = async () => {
        const ep = await ok(a.url, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes');
        return (ep.subsets ?? []).flatMap((s: Json) => s.addresses.map((x: Json) => `${x.ip}:${s.ports[0].port}`)).sort();
      };
      const portOf = (s: ApiServer) => new URL(s.url).port;
      await until('both API servers in the Endpoints', async () => (await addresses()).length === 2, 5_000);
      assert.deepEqual(await addresses(), [`192.0.2.1:${portOf(a)}`, `192.0.2.2:${portOf(b)}`]);

      // One that stops renewing (a crash) drops out once its record expires.
      const records = await kvm.open('kube-svc-ha-apiservers');
      await records.put('192.0.2.9_6443', JSON.stringify({ address: '192.0.2.9', port: 6443, hostname: 'crashed', renewTime: '' }));
      await until('the crashed API server to appear', async () => (await addresses()).includes('192.0.2.9:6443'), 5_000);
      await until('the crashed API server to expire', async () => !(await addresses()).includes('192.0.2.9:6443'), 5_000);

      // One that stops gracefully takes itself out at once.
      await b.stop();
      assert.deepEqual(await addresses(), [`192.0.2.1:${portOf(a)}`]);
    });
  });
});

describe('Service allocation on a 3-node JetStream cluster (R3 buckets)', () => {
  test('two API servers on different NATS servers racing over a small range never hand out a value twice', async (t) => {
    const nats = await startTestNats(t, 'cluster');
    const opts = { host: '127.0.0.1', port: 0, bucket: 'r3', replicas: 3, serviceClusterIPRange: '10.100.0.0/26', serviceNodePortRange: '30000-30061' };
    const servers: ApiServer[] = [];
    try {
      const a = await startApiServer({ ...opts, nats: [nats.urls[0]!] });
      servers.push(a);
      const b = await startApiServer({ ...opts, nats: [nats.urls[1]!] });
      servers.push(b);
      await race(a, b, nats);
    } finally {
      // Before the harness stops the NATS servers (its own after hook).
      for (const s of servers) await s.stop();
    }
  });
});

/**
 * Claims of one key racing from one connection per NATS server, straight on
 * the bucket (no local view to keep them apart), each round after the key was
 * released — the case nats-server 2.9.10 acknowledges twice on R3 without the
 * confirm-after check. Exactly one claimer may win each round.
 */
async function racingClaims(nats: TestNats, bucketName: string, rounds: number): Promise<void> {
  await nats.store(bucketName); // waits (bounded) for a new cluster's JetStream leader
  const buckets: AllocationsBucket[] = [];
  for (const i of [0, 1, 2]) {
    const nc = await nats.connect(`claimer-${i}`);
    // A new R3 stream may time out its first requests while its raft group elects a leader.
    buckets.push(await until(`the allocations bucket on connection ${i}`, () => AllocationsBucket.open(nc, { storeBucket: bucketName, replicas: nats.replicas }).catch(() => undefined), 30_000));
  }
  const key = 'ip.10.96.0.77';
  for (let round = 0; round < rounds; round++) {
    const claims = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => buckets[i % 3]!.claim(key, { namespace: 'default', name: `c${i}`, uid: `round${round}-claimer${i}` })),
    );
    const winners = claims.flatMap((c, i) => (c.outcome === 'claimed' ? [i] : []));
    assert.equal(winners.length, 1, `round ${round}: winners ${winners} (${JSON.stringify(claims.map((c) => c.outcome))})`);
    const holder = await buckets[0]!.read(key);
    assert.equal(holder?.owner.uid, `round${round}-claimer${winners[0]}`, `round ${round}: the key holds the winner`);
    assert.equal(await buckets[1]!.release(key, 'someone-else'), false, 'only the owner releases');
    assert.equal(await buckets[2]!.release(key, holder!.owner.uid), true);
  }
}

describe('Claims race on the allocations bucket', () => {
  test('R1: exactly one of six racing claims wins, 30 rounds', async (t) => {
    await racingClaims(await startTestNats(t), 'race-r1', 30);
  });
  test('R3: exactly one of six racing claims from three NATS servers wins, 60 rounds', async (t) => {
    await racingClaims(await startTestNats(t, 'cluster'), 'race-r3', 60);
  });
});

async function race(a: ApiServer, b: ApiServer, nats: TestNats): Promise<void> {
  {
    // 61 usable addresses beside the kubernetes Service's: 60 creates leave one.
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i % 2 ? a.url : b.url, 'POST', '/api/v1/namespaces/default/services', nodePortService(`r${i}`))));
    const created = replies.filter((r) => r.status === 201).map((r) => r.body);
    // Contention may make a create give up with 503 (retry); what was created must be distinct.
    for (const r of replies) assert.ok(r.status === 201 || r.status === 503, r.text);
    assert.ok(created.length >= 50, `${created.length} of 60 created`);
    assert.equal(new Set(created.map((s) => s.spec.clusterIP)).size, created.length);
    assert.equal(new Set(created.map((s) => s.spec.ports[0].nodePort)).size, created.length);
    const keys = await allocationsHeld(await nats.connect(), 'r3-allocations');
    for (const s of created) {
      assert.equal(keys.get(`ip.${s.spec.clusterIP}`), s.metadata.uid, s.metadata.name);
      assert.equal(keys.get(`nodeport.${s.spec.ports[0].nodePort}`), s.metadata.uid, s.metadata.name);
    }
    assert.equal(keys.size, created.length * 2 + 1, 'nothing held that no Service uses (and the kubernetes IP)');
  }
}
