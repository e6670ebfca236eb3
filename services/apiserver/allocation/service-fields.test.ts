/** What a Service holds, and how an update carries or drops its allocated values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KObject } from '../../lib/api/resources.js';
import { clusterIPOf, dropTypeDependentFields, needsNodePorts, nodePortsOf, patchAllocatedValues, portsWanting, prepareServiceUpdate } from './service-fields.js';

type Spec = Record<string, any>;
const svc = (spec: Spec): KObject => ({ metadata: { name: 's', namespace: 'ns', uid: 'u' }, spec: structuredClone(spec) });
const spec = (o: KObject) => o.spec as Spec;

const nodePortSvc = () =>
  svc({
    type: 'NodePort',
    clusterIP: '10.96.3.4',
    clusterIPs: ['10.96.3.4'],
    externalTrafficPolicy: 'Cluster',
    ports: [
      { name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 },
      { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 },
    ],
  });

test('what a Service holds: its cluster IP (not None, not for ExternalName) and its node ports', () => {
  assert.equal(clusterIPOf(nodePortSvc()), '10.96.3.4');
  assert.equal(clusterIPOf(svc({ clusterIP: 'None' })), undefined);
  assert.equal(clusterIPOf(svc({ type: 'ExternalName', clusterIP: '10.96.3.4' })), undefined);
  assert.deepEqual(nodePortsOf(nodePortSvc()), [
    { index: 0, protocol: 'TCP', port: 30080 },
    { index: 1, protocol: 'UDP', port: 30053 },
  ]);
});

test('node ports are wanted by NodePort and LoadBalancer services, unless allocateLoadBalancerNodePorts is false', () => {
  const ports = [{ port: 80 }, { port: 81, nodePort: 30081 }, { port: 82, nodePort: 0 }];
  assert.deepEqual(portsWanting(svc({ type: 'NodePort', ports })), [0, 2]);
  assert.deepEqual(portsWanting(svc({ type: 'LoadBalancer', ports })), [0, 2]);
  assert.deepEqual(portsWanting(svc({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports })), []);
  assert.deepEqual(portsWanting(svc({ type: 'ClusterIP', ports })), []);
  assert.equal(needsNodePorts(svc({})), false);
});

test('an update that leaves out the cluster IP and node ports keeps them (ports matched by name)', () => {
  const old = nodePortSvc();
  const next = svc({ type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'http', port: 8080, protocol: 'TCP' }] });
  patchAllocatedValues(next, old);
  assert.equal(spec(next).clusterIP, '10.96.3.4');
  assert.deepEqual(spec(next).clusterIPs, ['10.96.3.4']);
  assert.deepEqual(spec(next).ports.map((p: Spec) => p.nodePort), [30053, 30080]);
});

test('a kept node port is not given to a second port when the new spec already uses it', () => {
  const old = nodePortSvc();
  const next = svc({ type: 'NodePort', ports: [{ name: 'other', port: 81, nodePort: 30080 }, { name: 'http', port: 80 }] });
  patchAllocatedValues(next, old);
  assert.deepEqual(spec(next).ports.map((p: Spec) => p.nodePort), [30080, undefined]);
});

test('NodePort → ClusterIP drops the node ports and the external traffic policy the client did not change', () => {
  const old = nodePortSvc();
  const next = structuredClone(old);
  spec(next).type = 'ClusterIP';
  prepareServiceUpdate(next, old);
  assert.deepEqual(spec(next).ports.map((p: Spec) => p.nodePort), [undefined, undefined]);
  assert.equal(spec(next).externalTrafficPolicy, undefined);
  assert.equal(spec(next).clusterIP, '10.96.3.4', 'the cluster IP stays');
});

test('node ports the client changed in the same update stay, for validation to refuse', () => {
  const old = nodePortSvc();
  const next = structuredClone(old);
  spec(next).type = 'ClusterIP';
  spec(next).ports[0].nodePort = 30999;
  dropTypeDependentFields(next, old);
  assert.equal(spec(next).ports[0].nodePort, 30999);
});

test('ClusterIP → ExternalName drops the cluster IP and the fields that come with it', () => {
  const old = svc({ type: 'ClusterIP', clusterIP: '10.96.3.4', clusterIPs: ['10.96.3.4'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster', ports: [{ port: 80 }] });
  const next = structuredClone(old);
  Object.assign(spec(next), { type: 'ExternalName', externalName: 'db.example.com' });
  prepareServiceUpdate(next, old);
  for (const k of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'internalTrafficPolicy']) assert.equal(spec(next)[k], undefined, k);
});

test('ClusterIP → NodePort keeps the IP and leaves node ports to be picked', () => {
  const old = svc({ type: 'ClusterIP', clusterIP: '10.96.3.4', clusterIPs: ['10.96.3.4'], ports: [{ name: 'http', port: 80 }] });
  const next = structuredClone(old);
  spec(next).type = 'NodePort';
  prepareServiceUpdate(next, old);
  assert.equal(spec(next).clusterIP, '10.96.3.4');
  assert.deepEqual(portsWanting(next), [0]);
});
