/** `spec.clusterIPs` beside `spec.clusterIP`: defaulting fills one from the other; validation keeps them equal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KObject } from '../../../lib/api/resources.js';
import { applyDefaults } from '../defaults.js';
import { validateCreate, validateUpdate } from './index.js';

const svc = (spec: Record<string, unknown>): KObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default', uid: 'u', resourceVersion: '1' },
  spec: { ports: [{ port: 80 }], ...spec },
});
const defaulted = (spec: Record<string, unknown>) => {
  const o = svc(spec);
  applyDefaults('Service', o);
  return o.spec as Record<string, unknown>;
};
const fields = (causes: { field: string; message: string }[]) => causes.map((c) => `${c.field}: ${c.message}`);

test('defaulting: clusterIP fills clusterIPs, clusterIPs fills clusterIP, headless gets ["None"], ExternalName neither', () => {
  assert.deepEqual(defaulted({ clusterIP: '10.96.0.10' }).clusterIPs, ['10.96.0.10']);
  assert.equal(defaulted({ clusterIPs: ['10.96.0.10'] }).clusterIP, '10.96.0.10');
  assert.deepEqual(defaulted({ clusterIP: 'None' }).clusterIPs, ['None']);
  assert.equal(defaulted({}).clusterIPs, undefined);
  assert.equal(defaulted({ type: 'ExternalName', externalName: 'x.example.com' }).clusterIPs, undefined);
});

test('validation: clusterIPs must match clusterIP, hold one valid address, and stay empty for ExternalName', () => {
  assert.deepEqual(fields(validateCreate('Service', svc({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] }))), []);
  assert.deepEqual(fields(validateCreate('Service', svc({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.11'] }))), [
    'spec.clusterIPs: Invalid value: ["10.96.0.11"]: first value must match `clusterIP`',
  ]);
  assert.deepEqual(fields(validateCreate('Service', svc({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::1'] }))), [
    'spec.clusterIPs: Invalid value: ["10.96.0.10","fd00::1"]: may hold one address only: dual-stack Services are not supported',
    "spec.clusterIPs[1]: Invalid value: \"fd00::1\": must be 'None' or a valid IP address",
  ]);
  assert.deepEqual(fields(validateCreate('Service', svc({ type: 'ExternalName', externalName: 'x.example.com', ports: [], clusterIPs: ['10.96.0.10'] }))), [
    'spec.clusterIPs: Invalid value: ["10.96.0.10"]: may not be set for ExternalName services',
  ]);
});

test('an update changing clusterIP alone is reported once, as immutable', () => {
  const old = svc({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] });
  const next = svc({ clusterIP: '10.96.0.11', clusterIPs: ['10.96.0.10'] });
  assert.deepEqual(fields(validateUpdate('Service', next, old)), ['spec.clusterIP: Invalid value: "10.96.0.11": field is immutable']);
});
