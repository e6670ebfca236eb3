/**
 * NATS secured as `keelson up` secures it (TLS, one nkey user per component,
 * lib/nats-auth permissions), against a real nats-server and API server: a
 * kubelet's credentials read the store and do the node's own work, but cannot
 * write a KV bucket, touch the store's stream, call the API as another node,
 * serve another node's kubelet subjects or read anyone else's replies; what a
 * node asks of the API is authorized as that node (the node authorizer).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startApiServer } from '../../services/apiserver/index.js';
import { API_SUBJECT, REQUEST_TYPE, RESPONSE_TYPE, type ApiResponse } from '../../services/lib/api/nats-api.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { decodeMessage, encodeMessage } from '../../services/lib/codec/index.js';
import { kubeletSubject } from '../../services/lib/kubelet-api/index.js';
import { APISERVER_USER, apiSubjectFor, createNatsCredential, nodeUser, SCHEDULER_USER } from '../../services/lib/nats-auth/index.js';
import { connectNats } from '../../services/lib/nats/index.js';
import { Store, type StoreEvent } from '../../services/lib/store/index.js';
import { startSecureTestNats } from '../harness/secure-nats.js';
import { until } from '../harness/wait.js';

const NODE_A = nodeUser('node-a');
const NODE_B = nodeUser('node-b');

async function setup(t: { after(fn: () => Promise<void> | void): void }) {
  const nats = await startSecureTestNats(t, [APISERVER_USER, NODE_A, NODE_B, SCHEDULER_USER]);
  const api = await startApiServer({ nats: nats.target(APISERVER_USER), host: '127.0.0.1', port: 0 });
  t.after(() => api.stop());
  const admin = new KeelsonClient(await nats.connect(APISERVER_USER));
  const a = await nats.connect(NODE_A);
  return { nats, api, admin, a, clientA: new KeelsonClient(a) };
}

const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
const lease = (name: string) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: 'kube-node-lease' },
  spec: { holderIdentity: name, leaseDurationSeconds: 40 },
});

test("a kubelet's NATS credentials cannot write a KV bucket or the store's stream", { timeout: 60_000 }, async (t) => {
  const { admin, a } = await setup(t);
  await admin.create(node('node-b'));
  const js = jetstream(a, { timeout: 3_000 });
  await assert.rejects(js.publish('$KV.keelson.core.nodes.node-b', 'forged'), /Permissions Violation for Publish to "\$KV\.keelson/);
  const kv = await new Kvm(js).open('keelson');
  await assert.rejects(kv.put('core.nodes.node-b', 'forged'), /Permissions Violation/);
  await assert.rejects(kv.delete('core.nodes.node-b'), /Permissions Violation/);
  const jsm = await jetstreamManager(a, { timeout: 3_000 });
  await assert.rejects(jsm.streams.purge('KV_keelson'), /Permissions Violation/);
  await assert.rejects(jsm.streams.delete('KV_keelson'), /Permissions Violation/);
  await assert.rejects(jsm.streams.add({ name: 'MINE', subjects: ['mine.>'] }), /Permissions Violation/);
  // The elections bucket is the scheduler's and the controller-manager's, not a node's.
  await assert.rejects(js.publish('$KV.keelson-elections.kube-scheduler', 'me'), /Permissions Violation/);
  // Nothing changed: node-b is as the API server wrote it.
  const b = await admin.get('Node', undefined, 'node-b');
  assert.equal(b.metadata?.name, 'node-b');
  assert.equal((await admin.list('Node')).items.length, 1);
});

test('a kubelet cannot impersonate another node: not on its API subject, not in its objects, not on its kubelet subjects', { timeout: 60_000 }, async (t) => {
  const { admin, a, clientA } = await setup(t);
  await admin.create(node('node-b'));
  await admin.create(lease('node-b'));

  // Another node's API subject, and the shared one, are closed to it by NATS.
  const req = encodeMessage(REQUEST_TYPE, { verb: 'get', version: 'v1', resource: 'nodes', name: 'node-b' });
  await assert.rejects(a.request(apiSubjectFor(NODE_B), req, { timeout: 3_000 }), /Permissions Violation for Publish to "keelson\.api\.v1\.request\.system:node:node-b"/);
  await assert.rejects(a.request(API_SUBJECT, req, { timeout: 3_000 }), /Permissions Violation for Publish/);

  // On its own subject it is node-a, and the node authorizer holds it to its own objects.
  const b = await clientA.get('Node', undefined, 'node-b');
  await assert.rejects(clientA.update({ ...b, metadata: { ...b.metadata, labels: { forged: 'yes' } } }), (e: Error) => {
    assert.match(e.message, /User "system:node:node-a" cannot update resource "nodes"/);
    return true;
  });
  await assert.rejects(clientA.create(node('node-c')), /forbidden: User "system:node:node-a"/);
  const bLease = await clientA.get('Lease', 'kube-node-lease', 'node-b');
  await assert.rejects(clientA.update({ ...bLease, spec: { ...(bLease.spec as object), holderIdentity: 'node-a' } }), /forbidden: User "system:node:node-a"/);
  await assert.rejects(clientA.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mine' } }), /forbidden/);

  // Serving node-b's logs and exec, or reading another user's replies, is refused by NATS.
  for (const subject of [kubeletSubject('node-b', 'logs'), 'keelson.kubelet.>', '_INBOX.>', `_INBOX.${NODE_B}.>`, '$KV.keelson.>']) {
    const sub = a.subscribe(subject);
    const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r('still open'), 3_000))]);
    assert.match(String((closed as Error | undefined)?.message ?? closed), /Permissions Violation for Subscription/, subject);
  }

  // Its own work goes through: its Node and Lease, its kubelet subjects, reading the store.
  await clientA.create(node('node-a'));
  await clientA.create(lease('node-a'));
  const own = a.subscribe(kubeletSubject('node-a', 'logs'));
  await a.flush();
  assert.equal(own.isClosed(), false);
  own.unsubscribe();
  const seen: StoreEvent[] = [];
  const watch = await clientA.watch('Node', undefined, (ev) => seen.push(ev));
  t.after(() => watch.stop());
  await admin.create(node('node-d'));
  await until('node-a to see node-d through its own store watch', () => seen.some((e) => e.object?.metadata?.name === 'node-d'), 10_000);
});

test("no one can have the API server write for them through a reply subject: answers go only to the caller's own inbox", { timeout: 60_000 }, async (t) => {
  const { nats, admin, a } = await setup(t);
  await admin.create(node('node-b'));
  const store = await Store.open(await nats.connect(APISERVER_USER), { bindOnly: true });
  const req = encodeMessage(REQUEST_TYPE, { verb: 'list', version: 'v1', resource: 'nodes' });
  // A reply subject in the store, or the JetStream API: the API server, which may publish anywhere, must not answer there.
  for (const reply of ['$KV.keelson.core.nodes.forged', '$JS.API.STREAM.PURGE.KV_keelson']) a.publish(apiSubjectFor(NODE_A), req, { reply });
  await a.flush();
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(await store.kv.get('core.nodes.forged'), null, 'nothing was written to the store');
  assert.equal((await admin.get('Node', undefined, 'node-b')).metadata?.name, 'node-b', 'the store was not purged');
  // Asked properly, it answers.
  assert.ok(await new KeelsonClient(a).list('Node'));
});

test('the shared API subject is refused on a secured cluster, and unknown or plain connections are not let in', { timeout: 60_000 }, async (t) => {
  const { nats, admin } = await setup(t);
  // Only the API server may publish there; even its own user is told to use its subject.
  const reply = await admin.nc.request(API_SUBJECT, encodeMessage(REQUEST_TYPE, { verb: 'list', version: 'v1', resource: 'nodes' }), { timeout: 5_000 });
  const res = decodeMessage(RESPONSE_TYPE, reply.data) as ApiResponse;
  assert.equal(res.code, 401);
  assert.match(res.status?.message ?? '', /own subject/);

  // A user the servers do not know, and a connection without the cluster CA, are refused.
  const stranger = { ...nats.target(NODE_A), credential: createNatsCredential(NODE_A) };
  await assert.rejects(connectNats(stranger, 'stranger', { waitForServer: false, timeoutMs: 3_000 }), /Authorization Violation|AUTHORIZATION_VIOLATION|authorization/i);
  const noCa = { servers: nats.urls, credential: nats.secured.credential(NODE_A) };
  await assert.rejects(connectNats(noCa, 'no-ca', { waitForServer: false, timeoutMs: 3_000 }), /certificate|self.signed|TLS|tls/i);
});

test('a 3-server cluster whose routes take TLS only (both ends verified) forms and replicates the store', { timeout: 90_000 }, async (t) => {
  const nats = await startSecureTestNats(t, [APISERVER_USER, NODE_A], 'cluster');
  const nc = await nats.connect(APISERVER_USER);
  // An R3 bucket needs all three servers routed to each other: over TLS, or not at all.
  const store = await until('an R3 store on the TLS-routed cluster', () => Store.open(nc, { bucket: 'tls-routes', replicas: 3 }).catch(() => undefined), 30_000);
  const info = await (await jetstreamManager(nc)).streams.info('KV_tls-routes');
  assert.equal(info.cluster?.replicas?.length, 2, 'a leader and two replicas');
  assert.ok(info.cluster?.replicas?.every((r) => r.current), JSON.stringify(info.cluster));
  await store.kv.put('k', 'v');
  assert.equal(nc.info?.tls_required, true, 'clients are on TLS too');
});
