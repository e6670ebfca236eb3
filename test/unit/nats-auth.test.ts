/**
 * lib/nats-auth's pure parts: names as subject tokens (one token, reversible,
 * never a wildcard), the permissions each user gets, credentials that do not
 * check out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  APISERVER_USER,
  apiSubjectFor,
  checkNatsCredential,
  CONTROLLER_MANAGER_USER,
  createNatsCredential,
  inboxPrefixFor,
  JOIN_SUBJECT,
  JOIN_USER,
  nodeOfUser,
  nodeUser,
  permissionsFor,
  publicKeyOf,
  repliesToOwnInbox,
  subjectToken,
  userOfToken,
} from '../../services/lib/nats-auth/index.js';

const buckets = { store: 'keelson', elections: 'keelson-elections' };

test('subject tokens: DNS names and Kubernetes user names unchanged; dots, wildcards, spaces and other bytes encoded; reversible', () => {
  assert.equal(subjectToken('system:node:worker-1'), 'system:node:worker-1');
  assert.equal(subjectToken('node_a'), 'node_a');
  assert.equal(subjectToken('a.b'), 'a=2Eb');
  assert.equal(subjectToken('*'), '=2A');
  assert.equal(subjectToken('>'), '=3E');
  assert.equal(subjectToken('a b'), 'a=20b');
  assert.equal(subjectToken('='), '=3D');
  assert.equal(subjectToken(''), '=');
  for (const name of ['system:node:w.example.com', 'x=y', 'ünï', '', '>', 'a*b.c d']) {
    const token = subjectToken(name);
    assert.match(token, /^[A-Za-z0-9:_=-]+$/, name);
    assert.equal(userOfToken(token), name, name);
  }
  for (const bad of ['a.b', '*', 'a=2', 'a=zz', 'a=2e']) assert.equal(userOfToken(bad), undefined, bad);
});

test("permissions: the API server may do anything; a node publishes only its own API subject and kubelet subjects, never the store's", () => {
  assert.equal(permissionsFor(APISERVER_USER, buckets), undefined);
  const node = permissionsFor(nodeUser('w.1'), buckets)!;
  assert.ok(node.publish.allow.includes(apiSubjectFor(nodeUser('w.1'))));
  assert.ok(node.publish.allow.includes('keelson.kubelet.w=2E1.>'));
  assert.ok(node.subscribe.allow.includes('keelson.kubelet.w=2E1.>'));
  assert.ok(node.subscribe.allow.includes(`${inboxPrefixFor(nodeUser('w.1'))}.>`));
  for (const list of [node.publish.allow, node.subscribe.allow]) {
    assert.ok(!list.some((s) => s === '>' || s.startsWith('$KV.') || s.includes('keelson.kubelet.>') || s === '_INBOX.>'), list.join(' '));
    assert.ok(!list.some((s) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE)|MSG\.DELETE|\$JS\.API\.>/.test(s)), list.join(' '));
  }
  const cm = permissionsFor(CONTROLLER_MANAGER_USER, buckets)!;
  assert.ok(cm.publish.allow.includes('$KV.keelson-elections.>'));
  assert.ok(!cm.publish.allow.some((s) => s.startsWith('$KV.keelson.')));
  const join = permissionsFor(JOIN_USER, buckets)!;
  assert.deepEqual(join.publish.allow, [JOIN_SUBJECT]);
});

test("replies go only to the caller's own inbox", () => {
  assert.equal(repliesToOwnInbox('_INBOX.system:node:a.abc.1', nodeUser('a')), true);
  for (const reply of [undefined, '_INBOX.system:node:ab.x', '_INBOX.system:node:a', '$KV.keelson.x', '_INBOX.>']) assert.equal(repliesToOwnInbox(reply, nodeUser('a')), false, String(reply));
});

test('node users', () => {
  assert.equal(nodeOfUser(nodeUser('worker-1')), 'worker-1');
  assert.equal(nodeOfUser('system:node:'), undefined);
  assert.equal(nodeOfUser(APISERVER_USER), undefined);
});

test('credentials: a fresh one checks out; a wrong shape or seed is refused with where it came from', () => {
  const c = createNatsCredential('alice');
  assert.equal(checkNatsCredential(JSON.parse(JSON.stringify(c)), 'x').user, 'alice');
  assert.match(publicKeyOf(c), /^U[A-Z2-7]{55}$/);
  assert.throws(() => checkNatsCredential({ user: 'a' }, 'file f'), /file f: want/);
  assert.throws(() => checkNatsCredential({ user: 'a', seed: 'SUnot-a-seed' }, 'file f'), /file f: the seed is not a user nkey seed/);
  assert.throws(() => checkNatsCredential(null, 'file f'), /file f/);
});
