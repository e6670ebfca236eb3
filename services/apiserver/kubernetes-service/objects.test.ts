/** The kubernetes Service and Endpoints builders, and the default advertise address. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultAdvertiseAddress } from './advertise-address.js';
import type { ApiServerRecord } from './apiservers.bucket.js';
import { endpointSubsets, kubernetesService, sameSubsets, servicePortsUpdate } from './objects.js';

const rec = (address: string, port = 6443): ApiServerRecord => ({ address, port, hostname: 'h', renewTime: '' });

test('the Service: ClusterIP on the given address, https 443 → the API server port, no selector', () => {
  const s = kubernetesService('10.96.0.1', 6443);
  assert.deepEqual(s.metadata, { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } });
  assert.deepEqual(s.spec, {
    type: 'ClusterIP',
    clusterIP: '10.96.0.1',
    clusterIPs: ['10.96.0.1'],
    ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
    sessionAffinity: 'None',
  });
});

test('Endpoints: one subset per port, addresses sorted and without duplicates', () => {
  assert.deepEqual(endpointSubsets([rec('10.0.0.3'), rec('10.0.0.1'), rec('10.0.0.2', 7443), rec('10.0.0.1')]), [
    { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.3' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
    { addresses: [{ ip: '10.0.0.2' }], ports: [{ name: 'https', port: 7443, protocol: 'TCP' }] },
  ]);
  assert.deepEqual(endpointSubsets([]), []);
  assert.equal(sameSubsets({ subsets: endpointSubsets([rec('10.0.0.1')]) }, [rec('10.0.0.1')]), true);
  assert.equal(sameSubsets({ subsets: endpointSubsets([rec('10.0.0.1')]) }, [rec('10.0.0.1'), rec('10.0.0.2')]), false);
  assert.equal(sameSubsets(undefined, []), true);
});

test('the Service port is pointed at this API server only when it points at no live one', () => {
  const svc = kubernetesService('10.96.0.1', 6443);
  assert.equal(servicePortsUpdate(svc, 6443, [rec('a')]), undefined, 'already right');
  assert.equal(servicePortsUpdate(svc, 7443, [rec('a', 6443), rec('b', 7443)]), undefined, 'another live API server uses 6443');
  const moved = servicePortsUpdate(svc, 7443, [rec('b', 7443)]);
  assert.deepEqual((moved?.spec as any).ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 7443 }]);
  const edited = { ...svc, spec: { ...(svc.spec as object), ports: [{ name: 'web', port: 80, protocol: 'TCP', targetPort: 6443 }] } };
  assert.ok(servicePortsUpdate(edited, 6443, [rec('a')]), 'a port changed by hand is put back');
});

test('the advertise address: the bind address when it is one, else the first non-internal IPv4, else loopback', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    eth0: [
      { address: 'fe80::1', family: 'IPv6', internal: false },
      { address: '192.168.1.20', family: 'IPv4', internal: false },
    ],
  } as any;
  assert.equal(defaultAdvertiseAddress('10.1.2.3', ifaces), '10.1.2.3');
  assert.equal(defaultAdvertiseAddress('0.0.0.0', ifaces), '192.168.1.20');
  assert.equal(defaultAdvertiseAddress(undefined, ifaces), '192.168.1.20');
  assert.equal(defaultAdvertiseAddress('localhost', { lo: ifaces.lo }), '127.0.0.1');
});
