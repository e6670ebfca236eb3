/**
 * Which sockets a service port asks for, with and without cluster IPs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenKey, listenSpecs } from './listen-plan.js';
import { servicePort } from './test-kit.js';

const both = { bindAddress: '0.0.0.0', clusterIPs: true };

test('a NodePort service port listens on its cluster IP and on the node port', () => {
  const specs = listenSpecs(servicePort('web', { clusterIP: '10.96.0.5', port: 80, nodePort: 30080, endpoints: [] }), both);
  assert.deepEqual(
    specs.map((s) => [s.key, s.kind, s.serviceKey]),
    [
      ['TCP/10.96.0.5:80', 'cluster IP', 'default/web:/TCP'],
      ['TCP/0.0.0.0:30080', 'node port', 'default/web:/TCP'],
    ],
  );
});

test('without clusterIPs only node ports listen; headless or invalid addresses get nothing', () => {
  const nodeOnly = { bindAddress: '127.0.0.1', clusterIPs: false };
  assert.deepEqual(listenSpecs(servicePort('web', { clusterIP: '10.96.0.5', nodePort: 30080, endpoints: [] }), nodeOnly).map((s) => s.key), ['TCP/127.0.0.1:30080']);
  assert.deepEqual(listenSpecs(servicePort('web', { clusterIP: '10.96.0.5', endpoints: [] }), nodeOnly), []);
  assert.deepEqual(listenSpecs(servicePort('headless', { endpoints: [] }), both), []);
  assert.deepEqual(listenSpecs(servicePort('odd', { clusterIP: 'None', port: 70000, endpoints: [] }), both), []);
});

test('listen keys keep protocols and IPv6 addresses apart', () => {
  assert.notEqual(listenKey('TCP', '10.0.0.1', 53), listenKey('UDP', '10.0.0.1', 53));
  assert.equal(listenKey('UDP', 'fd00::a', 53), 'UDP/[fd00::a]:53');
});
