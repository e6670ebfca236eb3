import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Authenticator } from './index.js';
import { ensureTokenFile, newToken, parseTokenFile, tokenDigest } from './token-file.js';

test('parseTokenFile reads kube-apiserver token files: uid and quoted groups optional, comments skipped', () => {
  const table = parseTokenFile('# a comment\n\ntok1,alice,uid-1,"devs,ops"\n tok2 , bob ,\ntok3,carol,,system:masters\n');
  assert.deepEqual(table.get(tokenDigest('tok1')), { name: 'alice', uid: 'uid-1', groups: ['devs', 'ops'] });
  assert.deepEqual(table.get(tokenDigest('tok2')), { name: 'bob', groups: [] });
  assert.deepEqual(table.get(tokenDigest('tok3')), { name: 'carol', groups: ['system:masters'] });
  assert.equal(table.get('tok1'), undefined, 'kept by digest only');
});

test('parseTokenFile refuses broken lines, naming the line but never the token', () => {
  const secret = newToken();
  for (const [text, why] of [
    [`${secret}`, /line 1: expected token,user,uid/],
    [`${secret},alice`, /line 1: expected token,user,uid/],
    [`${secret},,u`, /line 1: the user name is empty/],
    [`,alice,`, /line 1: the token is empty/],
    [`ok,a,\n${secret},bob,,"devs`, /line 2: expected/],
    [`${secret},alice,\n${secret},bob,`, /line 2: this token is already given to "alice"/],
  ] as const) {
    assert.throws(() => parseTokenFile(text, 'tokens.csv'), (e: Error) => why.test(e.message) && e.message.startsWith('tokens.csv') && !e.message.includes(secret));
  }
});

test('a token file that is not there at start is a configuration error, not a server without tokens', () => {
  assert.throws(() => new Authenticator({ tokenAuthFile: '/nonexistent/tokens.csv' }), /ENOENT/);
});

test('ensureTokenFile adds the users it lacks, keeps the rest, and writes 0600', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-tokens-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tokens.csv');
  const first = ensureTokenFile(file, [{ name: 'viewer', groups: ['viewers'] }]);
  assert.match(first.get('viewer')!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  writeFileSync(file, `${readFileSync(file, 'utf8')}mine,someone,\n`);
  const again = ensureTokenFile(file, [{ name: 'viewer', groups: ['viewers'] }, { name: 'node-1', groups: ['system:nodes'] }]);
  assert.equal(again.get('viewer'), first.get('viewer'), 'kept');
  const table = parseTokenFile(readFileSync(file, 'utf8'));
  assert.deepEqual(table.get(tokenDigest(again.get('node-1')!)), { name: 'node-1', uid: 'node-1', groups: ['system:nodes'] });
  assert.deepEqual(table.get(tokenDigest('mine')), { name: 'someone', groups: [] }, 'a line added by hand stays');
  writeFileSync(file, '"broken\n');
  assert.throws(() => ensureTokenFile(file, [{ name: 'x', groups: [] }]), /line 1/);
});
