import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KObject } from '../../lib/api/resources.js';
import { requestAttributes } from './attributes.js';
import { escalation } from './escalation.js';
import { nodeRestriction } from './node-restriction.js';
import { rbacAllows, ruleAllows, type PolicySource } from './rbac.js';

const RBAC = 'rbac.authorization.k8s.io';

test('requestAttributes: verbs and scopes as Kubernetes RequestInfo gives them', () => {
  const a = (m: string, url: string, q: Record<string, string> = {}) => requestAttributes(m, url, q);
  assert.deepEqual(a('GET', '/api/v1/namespaces/ns/pods'), { kind: 'resource', verb: 'list', apiGroup: '', resource: 'pods', namespace: 'ns' });
  assert.equal(a('GET', '/api/v1/namespaces/ns/pods?watch=true', { watch: 'true' }).verb, 'watch');
  assert.equal(a('GET', '/api/v1/watch/namespaces/ns/pods').verb, 'watch');
  assert.equal(a('GET', '/api/v1/namespaces/ns/pods?x=/watch/', { x: '/watch/' }).verb, 'list', 'a /watch/ in the query is no watch');
  assert.equal(a('GET', '/api/v1/namespaces/ns/pods/p').verb, 'get');
  assert.equal(a('DELETE', '/api/v1/namespaces/ns/pods').verb, 'deletecollection');
  assert.deepEqual(a('GET', '/api/v1/namespaces/ns/pods/p/exec'), { kind: 'resource', verb: 'create', apiGroup: '', resource: 'pods', subresource: 'exec', namespace: 'ns', name: 'p' });
  assert.equal((a('GET', '/api/v1/namespaces/team') as { namespace?: string }).namespace, 'team', 'a namespace is in itself');
  assert.deepEqual(a('HEAD', '/metrics'), { kind: 'nonResource', verb: 'head', path: '/metrics' });
  assert.deepEqual(a('GET', '/apis/apps/v1/deployments'), { kind: 'resource', verb: 'list', apiGroup: 'apps', resource: 'deployments', namespace: '' });
});

test('ruleAllows: wildcards, subresources, resource names, non-resource prefixes', () => {
  const r = (verb: string, resource: string, extra: object = {}) => ({ kind: 'resource' as const, verb, apiGroup: '', resource, namespace: 'ns', ...extra });
  assert.ok(ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, r('delete', 'pods')));
  assert.ok(!ruleAllows({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, r('get', 'pods', { subresource: 'log' })), 'pods does not cover pods/log');
  assert.ok(ruleAllows({ verbs: ['get'], apiGroups: [''], resources: ['*/log'] }, r('get', 'pods', { subresource: 'log' })));
  assert.ok(ruleAllows({ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, r('get', 'pods', { name: 'a' })));
  assert.ok(!ruleAllows({ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, r('list', 'pods')), 'names never allow a list');
  assert.ok(ruleAllows({ verbs: ['get'], nonResourceURLs: ['/keelson/v1/*'] }, { kind: 'nonResource', verb: 'get', path: '/keelson/v1/actors' }));
  assert.ok(!ruleAllows({ verbs: ['get'], nonResourceURLs: ['/keelson/v1/*'] }, { kind: 'nonResource', verb: 'get', path: '/metrics' }));
});

function policy(objs: KObject[]): PolicySource {
  const of = (kind: string) => objs.filter((o) => o.kind === kind);
  return {
    clusterRoleBindings: () => of('ClusterRoleBinding'),
    roleBindings: (ns) => of('RoleBinding').filter((b) => b.metadata?.namespace === ns),
    clusterRole: (name) => of('ClusterRole').find((r) => r.metadata?.name === name),
    role: (ns, name) => of('Role').find((r) => r.metadata?.name === name && r.metadata?.namespace === ns),
  };
}

const podReader = { kind: 'ClusterRole', metadata: { name: 'pod-reader' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] };
const roleAdmin = { kind: 'ClusterRole', metadata: { name: 'role-admin' }, rules: [{ verbs: ['create', 'update', 'patch'], apiGroups: [RBAC], resources: ['roles', 'rolebindings'] }] };
const bob = { name: 'bob', groups: ['devs', 'system:authenticated'] };

test('rbacAllows: ClusterRoleBindings everywhere, RoleBindings only in their namespace, by user or group', () => {
  const p = policy([
    podReader,
    { kind: 'RoleBinding', metadata: { name: 'b', namespace: 'team' }, roleRef: { kind: 'ClusterRole', name: 'pod-reader' }, subjects: [{ kind: 'Group', name: 'devs' }] },
  ]);
  const list = (namespace: string) => ({ kind: 'resource' as const, verb: 'list', apiGroup: '', resource: 'pods', namespace });
  assert.ok(rbacAllows(p, bob, list('team')));
  assert.ok(!rbacAllows(p, bob, list('other')));
  assert.ok(!rbacAllows(p, bob, list('')), 'not across namespaces');
  assert.ok(!rbacAllows(p, { name: 'eve', groups: [] }, list('team')));
});

test('escalation: roles and bindings may grant only what the writer holds, unless it may escalate or bind', () => {
  const p = policy([
    podReader,
    roleAdmin,
    { kind: 'ClusterRole', metadata: { name: 'all' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] },
    { kind: 'ClusterRoleBinding', metadata: { name: 'bob-reads' }, roleRef: { kind: 'ClusterRole', name: 'pod-reader' }, subjects: [{ kind: 'User', name: 'bob' }] },
    { kind: 'RoleBinding', metadata: { name: 'bob-roles', namespace: 'team' }, roleRef: { kind: 'ClusterRole', name: 'role-admin' }, subjects: [{ kind: 'User', name: 'bob' }] },
  ]);
  const write = (resource: string, verb = 'create') => ({ kind: 'resource' as const, verb, apiGroup: RBAC, resource, namespace: 'team' });
  assert.equal(escalation(p, bob, write('roles'), { rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] }), undefined);
  assert.match(escalation(p, bob, write('roles'), { rules: [{ verbs: ['delete'], apiGroups: [''], resources: ['pods'] }] })!, /would grant delete on pods/);
  assert.equal(escalation(p, bob, write('rolebindings'), { roleRef: { kind: 'ClusterRole', name: 'pod-reader' } }), undefined);
  assert.match(escalation(p, bob, write('rolebindings'), { roleRef: { kind: 'ClusterRole', name: 'all' } })!, /binding ClusterRole "all" would grant \* on \*/);
  assert.match(escalation(p, bob, write('roles', 'patch'), {})!, /escalate verb/);
  const mayBind = policy([...[podReader, roleAdmin], { kind: 'ClusterRole', metadata: { name: 'binder' }, rules: [{ verbs: ['bind'], apiGroups: [RBAC], resources: ['clusterroles'], resourceNames: ['all'] }] }, { kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'binder' }, subjects: [{ kind: 'User', name: 'bob' }] }, { kind: 'ClusterRole', metadata: { name: 'all' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] }]);
  assert.equal(escalation(mayBind, bob, write('rolebindings'), { roleRef: { kind: 'ClusterRole', name: 'all' } }), undefined, 'the bind verb on that role');
  assert.equal(escalation(p, bob, { kind: 'resource', verb: 'create', apiGroup: '', resource: 'pods', namespace: 'team' }, {}), undefined, 'other writes are not its business');
  // Rules on namespaces do grant in a namespace (a request for a namespace is in it): they must be held.
  assert.match(escalation(p, bob, write('roles'), { rules: [{ verbs: ['delete'], apiGroups: [''], resources: ['namespaces'] }] })!, /delete on namespaces/);
  // A role not there cannot be bound unseen; nor can rules of the wrong shape fail the check with a 500.
  assert.match(escalation(p, bob, write('rolebindings'), { roleRef: { kind: 'ClusterRole', name: 'later' } })!, /"later" was not found/);
  assert.equal(escalation(p, bob, write('roles'), { rules: [null, { verbs: 5 }] }), undefined);
  // `bind` granted in the binding's namespace is enough, for a ClusterRole too (Kubernetes' delegation).
  const nsBinder = policy([...[podReader, roleAdmin], { kind: 'ClusterRole', metadata: { name: 'all' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] }, { kind: 'ClusterRole', metadata: { name: 'binder' }, rules: [{ verbs: ['bind'], apiGroups: [RBAC], resources: ['clusterroles'] }] }, { kind: 'RoleBinding', metadata: { name: 'b', namespace: 'team' }, roleRef: { kind: 'ClusterRole', name: 'binder' }, subjects: [{ kind: 'User', name: 'bob' }] }]);
  assert.equal(escalation(nsBinder, bob, write('rolebindings'), { roleRef: { kind: 'ClusterRole', name: 'all' } }), undefined);
});

test('nodeRestriction: a node writes only its own Node, Lease and bound pods', () => {
  const node = { name: 'system:node:a', groups: ['system:nodes'] };
  const pods: Record<string, KObject> = { 'ns/mine': { spec: { nodeName: 'a' } }, 'ns/theirs': { spec: { nodeName: 'b' } } };
  const lookup = { pod: (ns: string, name: string) => pods[`${ns}/${name}`] };
  const r = (verb: string, resource: string, extra: object = {}) => ({ kind: 'resource' as const, verb, apiGroup: '', resource, namespace: '', ...extra });
  assert.equal(nodeRestriction(node, r('update', 'nodes', { name: 'a', subresource: 'status' }), lookup), undefined);
  assert.match(nodeRestriction(node, r('update', 'nodes', { name: 'b' }), lookup)!, /own Node object, not "b"/);
  assert.equal(nodeRestriction(node, r('create', 'nodes'), lookup, { metadata: { name: 'a' } }), undefined);
  assert.equal(nodeRestriction(node, r('update', 'pods', { namespace: 'ns', name: 'mine', subresource: 'status' }), lookup), undefined);
  assert.match(nodeRestriction(node, r('update', 'pods', { namespace: 'ns', name: 'theirs', subresource: 'status' }), lookup)!, /bound to it/);
  assert.match(nodeRestriction(node, r('create', 'pods', { namespace: 'ns' }), lookup)!, /may not create pods/);
  assert.equal(nodeRestriction(node, r('get', 'pods', { namespace: 'ns', name: 'theirs' }), lookup), undefined, 'reads are RBAC\'s business');
  assert.equal(nodeRestriction({ name: 'bob', groups: [] }, r('delete', 'nodes', { name: 'b' }), lookup), undefined, 'not a node');
});
