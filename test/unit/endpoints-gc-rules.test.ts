/**
 * The pure parts of the endpoints controller (subsets from a Service and its
 * pods) and of the garbage collector (the owner graph).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointsView, endpointSubsets, inEndpoints, resolveTargetPort } from '../../services/controller-manager/endpoints-subsets.js';
import { OwnerGraph } from '../../services/controller-manager/owner-graph.js';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';

type Obj = Record<string, any>;

/** A pod builder: `makePod('a').ip('10.0.0.1').ready().port('http', 8080)`. */
function makePod(name: string) {
  const p: Obj = {
    kind: 'Pod',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels: { app: 'web' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [] as Obj[] }] },
    status: { phase: 'Running', conditions: [] as Obj[] },
  };
  const b = {
    ip: (ip: string) => ((p.status.podIP = ip), b),
    ready: () => (p.status.conditions.push({ type: 'Ready', status: 'True' }), b),
    port: (portName: string, containerPort: number, protocol?: string) => (p.spec.containers[0].ports.push({ name: portName, containerPort, ...(protocol ? { protocol } : {}) }), b),
    labels: (labels: Record<string, string>) => ((p.metadata.labels = labels), b),
    set: (f: (o: Obj) => void) => (f(p), b),
    build: () => p as KObject,
  };
  return b;
}

function service(spec: Obj = {}): KObject {
  return {
    kind: 'Service',
    metadata: { name: 'web', namespace: 'ns' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...spec },
  };
}

test('a named targetPort resolves through the pod’s container ports of the same protocol', () => {
  const pod = makePod('a').port('http', 8080).port('dns', 5353, 'UDP').build();
  assert.equal(resolveTargetPort(pod, { targetPort: 'http', protocol: 'TCP' }), 8080);
  assert.equal(resolveTargetPort(pod, { targetPort: 'dns', protocol: 'UDP' }), 5353);
  assert.equal(resolveTargetPort(pod, { targetPort: 'dns', protocol: 'TCP' }), undefined);
  assert.equal(resolveTargetPort(pod, { targetPort: 'nope' }), undefined);
  assert.equal(resolveTargetPort(pod, { targetPort: 9000 }), 9000);
  assert.equal(resolveTargetPort(pod, { port: 81 }), 81, 'no targetPort: the port');
});

test('which pods are endpoints at all', () => {
  assert.equal(inEndpoints(makePod('a').ip('10.0.0.1').build()), true);
  assert.equal(inEndpoints(makePod('a').build()), false, 'no IP yet');
  assert.equal(inEndpoints(makePod('a').ip('10.0.0.1').set((p) => (p.metadata.deletionTimestamp = 'T')).build()), false, 'terminating');
  assert.equal(inEndpoints(makePod('a').ip('10.0.0.1').set((p) => (p.status.phase = 'Succeeded')).build()), false, 'finished');
});

test('subsets: ready and not-ready addresses, grouped by identical port sets, sorted', () => {
  const pods = [
    makePod('b').ip('10.0.0.2').port('http', 8080).build(),
    makePod('a').ip('10.0.0.1').ready().port('http', 8080).build(),
    makePod('c').ip('10.0.0.3').ready().port('http', 9090).build(),
    makePod('d').ip('10.0.0.4').ready().build(), // no "http" port: not an endpoint of a service that has only that port
    makePod('e').ip('10.0.0.5').ready().port('http', 8080).labels({ app: 'other' }).build(),
  ];
  const subsets = endpointSubsets(service(), pods);
  const ref = (n: string, ip: string) => ({ ip, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'ns', name: n, uid: `uid-${n}` } });
  assert.deepEqual(subsets, [
    { addresses: [ref('a', '10.0.0.1')], notReadyAddresses: [ref('b', '10.0.0.2')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    { addresses: [ref('c', '10.0.0.3')], ports: [{ name: 'http', port: 9090, protocol: 'TCP' }] },
  ]);
  assert.deepEqual(endpointSubsets(service(), [...pods].reverse()), subsets, 'the same whatever the cache order');
  assert.deepEqual(endpointSubsets(service({ selector: {} }), pods), [], 'no selector: nothing managed');
});

test('publishNotReadyAddresses and headless hostnames', () => {
  const pod = makePod('a').ip('10.0.0.1').port('http', 8080).set((p) => Object.assign(p.spec, { hostname: 'a', subdomain: 'web' })).build();
  const [s] = endpointSubsets(service({ clusterIP: 'None', publishNotReadyAddresses: true }), [pod]);
  assert.equal(s!.addresses?.[0]?.hostname, 'a');
  assert.equal(s!.notReadyAddresses, undefined);
  const [plain] = endpointSubsets(service(), [pod]);
  assert.equal(plain!.notReadyAddresses?.[0]?.hostname, undefined, 'hostnames only for a headless service');
});

test('a pod change that moves no endpoint has the same view', () => {
  const a = makePod('a').ip('10.0.0.1').build();
  const touched = { ...a, metadata: { ...a.metadata, annotations: { x: 'y' }, resourceVersion: '9' } };
  assert.equal(endpointsView(touched), endpointsView(a));
  assert.notEqual(endpointsView(makePod('a').ip('10.0.0.1').ready().build()), endpointsView(a));
});

test('the owner graph links dependents to owners, before and after the owners are seen', () => {
  const pods = resourceForKind('Pod')!;
  const rsRes = resourceForKind('ReplicaSet')!;
  const g = new OwnerGraph();
  const ref = (uid: string, block?: boolean) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: uid, uid, ...(block ? { blockOwnerDeletion: true } : {}) });
  const obj = (uid: string, owners: Obj[] = []): KObject => ({ metadata: { uid, name: uid, namespace: 'ns', ownerReferences: owners as never } });
  g.upsert(pods, obj('p1', [ref('rs1', true)]));
  g.upsert(pods, obj('p2', [ref('rs1'), ref('rs2')]));
  assert.equal(g.has('rs1'), false, 'an owner not seen yet');
  assert.deepEqual(g.dependentsOf('rs1').map((d) => d.uid).sort(), ['p1', 'p2']);
  assert.deepEqual(g.blockingDependentsOf('rs1').map((d) => d.uid), ['p1']);
  g.upsert(rsRes, obj('rs1'));
  assert.equal(g.get('rs1')?.resource.kind, 'ReplicaSet');
  const changed = g.upsert(pods, obj('p2', [ref('rs2')]));
  assert.deepEqual(changed?.droppedOwners, ['rs1']);
  assert.deepEqual(g.dependentsOf('rs1').map((d) => d.uid), ['p1']);
  g.remove('rs1');
  assert.deepEqual(g.dependentsOf('rs1').map((d) => d.uid), ['p1'], 'dependents of a removed owner are what is left to collect');
  g.remove('p1');
  assert.deepEqual(g.dependentsOf('rs1'), []);
  assert.equal(g.upsert(pods, { metadata: { name: 'no-uid' } }), undefined);
  assert.equal(g.size, 1);
});
