import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterPki, createCA, issueCertificate, replaceReason } from './index.js';

test('a CA signs serving and client certificates that say who and where', () => {
  const ca = createCA('test-ca');
  const caCert = new X509Certificate(ca.cert);
  assert.ok(caCert.ca);
  const server = issueCertificate(ca, { commonName: 'api', hosts: ['127.0.0.1', 'localhost', 'kubernetes.default.svc'], usage: 'server' });
  const s = new X509Certificate(server.cert);
  assert.ok(s.verify(caCert.publicKey));
  assert.equal(s.ca, false);
  assert.equal(s.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(s.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
  assert.equal(s.checkHost('example.com'), undefined);
  assert.deepEqual(s.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serving only');
  const client = new X509Certificate(issueCertificate(ca, { commonName: 'alice', organizations: ['system:masters', 'devs'], usage: 'client' }).cert);
  assert.deepEqual(client.subject.split('\n'), ['CN=alice', 'O=system:masters', 'O=devs']);
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client only');
});

test('replaceReason: another CA, a missing host, an expiry within the margin', () => {
  const ca = createCA('one');
  const pair = issueCertificate(ca, { commonName: 'api', hosts: ['127.0.0.1'], usage: 'server', days: 100 });
  assert.equal(replaceReason(pair, ca, ['127.0.0.1']), undefined);
  assert.match(replaceReason(pair, createCA('two'))!, /not signed by the current CA/);
  assert.match(replaceReason(pair, ca, ['10.0.0.7'])!, /not valid for 10\.0\.0\.7/);
  assert.match(replaceReason(pair, ca, [], 120)!, /expires/);
  assert.match(replaceReason({ cert: 'junk', key: '' }, ca)!, /does not parse/);
});

test('ClusterPki keeps what it made, issues again what no longer fits, rotates with the CA', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const req = { commonName: 'api', hosts: ['127.0.0.1'], usage: 'server' as const };
  const first = new ClusterPki(dir);
  const api = first.ensure('apiserver', req);
  assert.deepEqual(first.issued, ['ca (new)', 'apiserver (new)']);
  assert.equal(statSync(api.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(first.ca.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);

  const again = new ClusterPki(dir);
  assert.equal(again.ensure('apiserver', req).cert, api.cert, 'kept');
  assert.deepEqual(again.issued, []);
  assert.notEqual(again.ensure('apiserver', { ...req, hosts: ['127.0.0.1', '10.1.2.3'] }).cert, api.cert, 'a new address: issued again');
  const admin = again.ensure('admin', { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
  assert.notEqual(again.ensure('admin', { commonName: 'admin', organizations: ['viewers'], usage: 'client' }).cert, admin.cert, 'new groups: issued again');

  unlinkSync(join(dir, 'ca.crt'));
  unlinkSync(join(dir, 'ca.key'));
  const rotated = new ClusterPki(dir);
  const reissued = rotated.ensure('apiserver', req);
  assert.ok(new X509Certificate(reissued.cert).verify(new X509Certificate(rotated.ca.cert).publicKey), 'signed by the new CA');
  assert.deepEqual(rotated.issued, ['ca (new)', 'apiserver (it is not signed by the current CA)']);
  assert.throws(() => rotated.ensure('ca', req), /the CA itself/);
});
