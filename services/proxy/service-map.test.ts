import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KObject } from '../lib/api/resources.js';
import { buildServiceMap, DEFAULT_AFFINITY_TIMEOUT_S } from './service-map.js';

const svc = (name: string, spec: Record<string, unknown>, namespace = 'default'): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec });
const eps = (name: string, subsets: unknown[], namespace = 'default'): KObject => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace }, subsets } as KObject);

test('one entry per port, with the ready addresses of the Endpoints port of the same name and protocol', () => {
  const map = buildServiceMap(
    [svc('web', { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }] })],
    [
      eps('web', [
        {
          addresses: [{ ip: '172.18.0.10', nodeName: 'n2' }, { ip: '172.18.0.9' }],
          notReadyAddresses: [{ ip: '172.18.0.11' }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }],
        },
      ]),
    ],
  );
  assert.deepEqual(
    map.map((p) => [p.key, p.clusterIP, p.port, p.nodePort, p.endpoints]),
    [
      ['default/web:dns/UDP', '10.96.0.20', 53, undefined, [{ ip: '172.18.0.9', port: 5353 }, { ip: '172.18.0.10', port: 5353, nodeName: 'n2' }]],
      ['default/web:http/TCP', '10.96.0.20', 80, 30080, [{ ip: '172.18.0.9', port: 8080 }, { ip: '172.18.0.10', port: 8080, nodeName: 'n2' }]],
    ],
  );
});

test('headless and ExternalName services get nothing; a service without Endpoints has no endpoints', () => {
  const map = buildServiceMap(
    [
      svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
      svc('ext', { type: 'ExternalName', externalName: 'example.com' }),
      svc('lonely', { clusterIP: '10.96.0.5', ports: [{ port: 80 }] }),
    ],
    [],
  );
  assert.deepEqual(map.map((p) => [p.key, p.endpoints]), [['default/lonely:/TCP', []]]);
});

test('ClientIP affinity carries its timeout (Kubernetes default 3 h); a ClusterIP service has no node port', () => {
  const [a, b] = buildServiceMap(
    [
      svc('a', { clusterIP: '10.96.0.6', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } }, ports: [{ port: 80, nodePort: 30001 }] }),
      svc('b', { clusterIP: '10.96.0.7', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }),
    ],
    [],
  );
  assert.deepEqual(a!.sessionAffinity, { type: 'ClientIP', timeoutSeconds: 30 });
  assert.equal(a!.nodePort, undefined);
  assert.deepEqual(b!.sessionAffinity, { type: 'ClientIP', timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_S });
});

test('endpoints of other namespaces or port names do not leak in; duplicates across subsets count once', () => {
  const map = buildServiceMap(
    [svc('web', { clusterIP: '10.96.0.8', ports: [{ name: 'http', port: 80 }] })],
    [
      eps('web', [{ addresses: [{ ip: '172.18.0.2' }], ports: [{ name: 'http', port: 80 }] }, { addresses: [{ ip: '172.18.0.2' }], ports: [{ name: 'http', port: 80 }] }]),
      eps('web', [{ addresses: [{ ip: '172.18.0.3' }], ports: [{ name: 'http', port: 80 }] }], 'other'),
      eps('web2', [{ addresses: [{ ip: '172.18.0.4' }], ports: [{ name: 'metrics', port: 80 }] }]),
    ],
  );
  assert.deepEqual(map[0]!.endpoints, [{ ip: '172.18.0.2', port: 80 }]);
});
