import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceForKind } from '../../services/lib/api/resources.js';
import { keyName, nameOfKey, parseStoreKey, storeKey } from '../../services/lib/store/index.js';

test('store keys: names of key characters stay as they are, anything else is encoded one to one', () => {
  for (const plain of ['web', 'my.pod-1', 'my_role', 'Team.Admin', 'a-b_c.D']) assert.equal(keyName(plain), plain, 'the keys stored before stay the same');
  const names = ['system:node', 'system:node:w-1', 'a..b', '.x', 'x.', '_', '', 'x=y', '%2e', 'ü*>', 'a b'];
  const parts = names.map(keyName);
  for (const [i, n] of names.entries()) {
    assert.match(parts[i]!, /^[-_=.A-Za-z0-9]+$/, `${JSON.stringify(n)} as a key part: ${parts[i]}`);
    assert.ok(!parts[i]!.startsWith('.') && !parts[i]!.endsWith('.') && !parts[i]!.includes('..'), parts[i]);
    assert.equal(nameOfKey(parts[i]!), n);
  }
  assert.equal(new Set(parts).size, parts.length, 'no two names share a key');
  const pods = resourceForKind('Pod')!;
  for (const [ns, name] of [['..', 'x'], ['', 'y'], ['_', 'z'], ['default', 'a..b']] as const) {
    assert.deepEqual(parseStoreKey(storeKey(pods, ns, name)), { resource: pods, namespace: ns, name });
  }
  assert.throws(() => storeKey(pods, 'default', 'b'.repeat(70_000)), /name is too long/);
});
