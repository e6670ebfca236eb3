import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KObject } from '../../lib/api/resources.js';
import { serviceEnv, withServiceEnv } from './service-env.js';

const svc = (namespace: string, name: string, spec: Record<string, unknown>): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec });
const pod = (namespace: string, spec: Record<string, unknown> = {}): KObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name: 'p' }, spec });

const SERVICES = [
  svc('default', 'kubernetes', { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
  svc('shop', 'redis-primary', { clusterIP: '10.96.0.11', ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }, { name: 'stats', port: 9121, protocol: 'UDP' }] }),
  svc('shop', 'headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
  svc('other', 'elsewhere', { clusterIP: '10.96.0.12', ports: [{ port: 80 }] }),
];

test('a pod gets the variables of its namespace’s Services and of default/kubernetes, Kubernetes-style', () => {
  const env = Object.fromEntries(serviceEnv(pod('shop'), SERVICES).map((v) => [v.name, v.value]));
  assert.equal(env.REDIS_PRIMARY_SERVICE_HOST, '10.96.0.11');
  assert.equal(env.REDIS_PRIMARY_SERVICE_PORT, '6379');
  assert.equal(env.REDIS_PRIMARY_SERVICE_PORT_REDIS, '6379');
  assert.equal(env.REDIS_PRIMARY_SERVICE_PORT_STATS, '9121');
  assert.equal(env.REDIS_PRIMARY_PORT, 'tcp://10.96.0.11:6379');
  assert.equal(env.REDIS_PRIMARY_PORT_9121_UDP, 'udp://10.96.0.11:9121');
  assert.equal(env.REDIS_PRIMARY_PORT_9121_UDP_PROTO, 'udp');
  assert.equal(env.REDIS_PRIMARY_PORT_6379_TCP_ADDR, '10.96.0.11');
  assert.equal(env.REDIS_PRIMARY_PORT_6379_TCP_PORT, '6379');
  assert.equal(env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
  assert.equal(env.KUBERNETES_SERVICE_PORT, '443');
  assert.ok(!Object.keys(env).some((k) => k.startsWith('HEADLESS_') || k.startsWith('ELSEWHERE_')), 'no headless service, no other namespace');
});

test('enableServiceLinks: false leaves only the kubernetes Service', () => {
  const names = serviceEnv(pod('shop', { enableServiceLinks: false }), SERVICES).map((v) => v.name);
  assert.ok(names.length > 0 && names.every((n) => n.startsWith('KUBERNETES_')), names.join(' '));
});

test('the container’s own variables win and keep their order after the service ones', () => {
  const c = withServiceEnv({ name: 'main', env: [{ name: 'KUBERNETES_SERVICE_HOST', value: 'mine' }, { name: 'A', value: '1' }] }, serviceEnv(pod('x'), SERVICES));
  const host = c.env!.filter((e) => e.name === 'KUBERNETES_SERVICE_HOST');
  assert.deepEqual(host, [{ name: 'KUBERNETES_SERVICE_HOST', value: 'mine' }]);
  assert.deepEqual(c.env!.slice(-2).map((e) => e.name), ['KUBERNETES_SERVICE_HOST', 'A']);
});
