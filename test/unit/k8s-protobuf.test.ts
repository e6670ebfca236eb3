import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../services/lib/errors/index.js';
import { decodeK8sProtobuf } from '../../services/apiserver/http/k8s-protobuf.js';

// Bodies as kubectl 1.32 sent them (`create namespace capns`,
// `create service nodeport cs2 --tcp=80:8080 --node-port=30080`).
const NAMESPACE = '6b3873000a0f0a02763112094e616d657370616365121d0a150a056361706e7312001a0022002a0032003800420012001a020a001a002200';
const SERVICE =
  '6b3873000a0d0a027631120753657276696365126a0a1f0a0363733212001a0022002a003200380042005a0a0a03617070120363733212430a1d0a0738302d38303830120354435018502207080010903f1a002880eb01120a0a0361707012036373321a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200';

/** A tiny protobuf writer for hand-made bodies. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const str = (field: number, s: string | number[]) => {
  const bytes = typeof s === 'string' ? [...Buffer.from(s)] : s;
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
};
const int = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
function body(apiVersion: string, kind: string, raw: number[]): Buffer {
  return Buffer.from([0x6b, 0x38, 0x73, 0x00, ...str(1, [...str(1, apiVersion), ...str(2, kind)]), ...str(2, raw)]);
}

test('decodes what kubectl sends; zero values of non-pointer fields read as absent', () => {
  assert.deepEqual(decodeK8sProtobuf(Buffer.from(NAMESPACE, 'hex')), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'capns' } });
  assert.deepEqual(decodeK8sProtobuf(Buffer.from(SERVICE, 'hex')), {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'cs2', labels: { app: 'cs2' } },
    spec: {
      ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
      selector: { app: 'cs2' },
      type: 'NodePort',
    },
  });
});

test('pointer fields keep their zero; IntOrString strings; times', () => {
  const deploy = body('apps/v1', 'Deployment', [
    ...str(1, [...str(1, 'web'), ...str(8, [...int(1, 1767225600)])]),
    ...str(2, [...int(1, 0), ...str(4, [...str(1, 'RollingUpdate'), ...str(2, [...str(1, [...int(1, 1), ...str(3, '30%')])])])]),
  ]);
  assert.deepEqual(decodeK8sProtobuf(deploy), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { replicas: 0, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '30%' } } },
  });
});

test('an unknown field is refused unless it holds a zero value', () => {
  // Container field 10 (livenessProbe) is not decoded: empty is fine, content is not.
  const pod = (probe: number[]) =>
    body('v1', 'Pod', [...str(1, str(1, 'p')), ...str(2, str(2, [...str(1, 'c'), ...str(2, 'busybox'), ...str(10, probe)]))]);
  assert.deepEqual(decodeK8sProtobuf(pod([0x08, 0x00])).spec, { containers: [{ name: 'c', image: 'busybox' }] });
  assert.throws(
    () => decodeK8sProtobuf(pod([...int(2, 5)])),
    (e) => e instanceof ApiError && e.code === 415 && /field 10 of Container \(at Pod\.spec\.containers\)/.test(e.message),
  );
});

test('bodies that are not Kubernetes protobuf, or kinds it cannot read', () => {
  assert.throws(() => decodeK8sProtobuf(Buffer.from('{"kind":"Pod"}')), (e) => e instanceof ApiError && e.code === 400);
  assert.throws(() => decodeK8sProtobuf(Buffer.from(NAMESPACE, 'hex').subarray(0, 30)), (e) => e instanceof ApiError && e.code === 400);
  assert.throws(
    () => decodeK8sProtobuf(body('v1', 'ConfigMap', str(1, str(1, 'x')))),
    (e) => e instanceof ApiError && e.code === 415 && /ConfigMap/.test(e.message),
  );
});
