/**
 * RBAC on the HTTPS API against a real nats-server: the built-in roles exist;
 * the view role reads and writes nothing; a user with no binding is refused
 * with a 403 Status naming user, verb and resource; Roles, ClusterRoles and
 * their bindings grant exactly what they say, where they say; a node may
 * change only its own Node, Lease and the status of pods bound to it; RBAC
 * objects are validated and a binding's roleRef cannot change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiServer } from '../../services/apiserver/index.js';
import { newToken } from '../../services/apiserver/authn/index.js';
import { fetchText, type TlsClientOptions } from '../../services/lib/fetch/index.js';
import { startSecureApiServer, type SecureApiServer } from '../harness/secure-apiserver.js';
import { until } from '../harness/wait.js';

type Json = any;
const RBAC = '/apis/rbac.authorization.k8s.io/v1';

describe('apiserver: RBAC authorization', () => {
  let server: SecureApiServer;
  let api: ApiServer;
  let tls: TlsClientOptions;
  const tokens = { admin: newToken(), viewer: newToken(), bob: newToken(), nodeA: newToken(), stranger: newToken() };

  before(async () => {
    server = await startSecureApiServer({
      tokens: [
        `${tokens.admin},root,,"system:masters"`,
        `${tokens.viewer},viewer,,"keelson:viewers"`,
        `${tokens.bob},bob,`,
        `${tokens.nodeA},system:node:node-a,,"system:nodes"`,
        `${tokens.stranger},system:nodes-impostor,,"system:nodes"`,
      ],
    });
    api = server.api;
    tls = { ca: server.ca };
    for (const ns of ['team', 'other']) assert.equal((await call('admin', 'POST', '/api/v1/namespaces', { metadata: { name: ns } })).status, 201);
    for (const [name, node] of [['on-a', 'node-a'], ['on-b', 'node-b']]) {
      const r = await call('admin', 'POST', '/api/v1/namespaces/team/pods', { metadata: { name }, spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] } });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    await server?.stop();
  });

  async function call(who: keyof typeof tokens, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; text: string; json: Json }> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body ? { 'content-type': 'application/json' } : {}), ...extra }, ...(body ? { body: JSON.stringify(body) } : {}) };
    const r = await fetchText(`${api.url}${path}`, init, 10_000, tls);
    let json: Json;
    try {
      json = JSON.parse(r.text);
    } catch {
      json = undefined;
    }
    return { status: r.status, text: r.text, json };
  }

  function assertForbidden(r: { status: number; json: Json; text: string }, message: string | RegExp): void {
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.kind, 'Status');
    assert.equal(r.json.reason, 'Forbidden');
    assert.equal(r.json.code, 403);
    if (typeof message === 'string') assert.equal(r.json.message, message);
    else assert.match(r.json.message, message);
  }

  test('the built-in roles and bindings exist', async () => {
    const roles = (await call('admin', 'GET', `${RBAC}/clusterroles`)).json.items.map((r: Json) => r.metadata.name);
    for (const name of ['cluster-admin', 'admin', 'view', 'system:node', 'system:discovery']) assert.ok(roles.includes(name), `${name} in ${roles}`);
    const bindings = (await call('admin', 'GET', `${RBAC}/clusterrolebindings`)).json.items;
    const admins = bindings.find((b: Json) => b.metadata.name === 'cluster-admin');
    assert.deepEqual(admins.subjects, [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
  });

  test('view reads everything but writes nothing', async () => {
    assert.equal((await call('viewer', 'GET', '/api/v1/namespaces/team/pods')).status, 200);
    assert.equal((await call('viewer', 'GET', '/api/v1/nodes')).status, 200);
    assert.equal((await call('viewer', 'GET', '/apis/apps/v1/deployments')).status, 200);
    assert.equal((await call('viewer', 'GET', '/keelson/v1/statecharts')).status, 200, 'the dashboard data');
    assert.equal((await call('viewer', 'GET', '/api/v1')).status, 200, 'discovery');
    assertForbidden(
      await call('viewer', 'POST', '/api/v1/namespaces/team/pods', { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }),
      'pods is forbidden: User "viewer" cannot create resource "pods" in API group "" in the namespace "team"',
    );
    assertForbidden(await call('viewer', 'DELETE', '/api/v1/namespaces/team/pods/on-a'), 'pods "on-a" is forbidden: User "viewer" cannot delete resource "pods" in API group "" in the namespace "team"');
    assertForbidden(await call('viewer', 'POST', '/api/v1/namespaces/team/pods/on-a/exec?command=sh'), /User "viewer" cannot create resource "pods\/exec"/);
    assertForbidden(await call('viewer', 'GET', `${RBAC}/clusterroles`), 'clusterroles.rbac.authorization.k8s.io is forbidden: User "viewer" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope');
    assertForbidden(await call('viewer', 'GET', '/metrics'), 'forbidden: User "viewer" cannot get path "/metrics"');
    // Nothing was written by the refused requests.
    assert.equal((await call('admin', 'GET', '/api/v1/namespaces/team/pods/on-a')).status, 200);
  });

  test('a user with no binding may only discover; a Role and a RoleBinding grant just their namespace and verbs', async () => {
    assert.equal((await call('bob', 'GET', '/api')).status, 200);
    assertForbidden(await call('bob', 'GET', '/api/v1/namespaces/team/pods'), 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "team"');
    const role = { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] };
    assert.equal((await call('admin', 'POST', `${RBAC}/namespaces/team/roles`, role)).status, 201);
    const binding = { metadata: { name: 'bob-reads' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' }] };
    assert.equal((await call('admin', 'POST', `${RBAC}/namespaces/team/rolebindings`, binding)).status, 201);
    await until('bob to read pods in team', async () => (await call('bob', 'GET', '/api/v1/namespaces/team/pods')).status === 200);
    assert.equal((await call('bob', 'GET', '/api/v1/namespaces/team/pods/on-a')).status, 200);
    assertForbidden(await call('bob', 'GET', '/api/v1/namespaces/other/pods'), /User "bob" cannot list resource "pods" in API group "" in the namespace "other"/);
    assertForbidden(await call('bob', 'GET', '/api/v1/pods'), /User "bob" cannot list resource "pods" in API group "" at the cluster scope/);
    assertForbidden(await call('bob', 'DELETE', '/api/v1/namespaces/team/pods/on-a'), /User "bob" cannot delete resource "pods"/);
    assertForbidden(await call('bob', 'GET', '/api/v1/namespaces/team/pods/on-a/log'), /cannot get resource "pods\/log"/);

    // A ClusterRole by ClusterRoleBinding: everywhere; resourceNames narrow it to names.
    const nodeReader = { metadata: { name: 'node-one-reader' }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'], resourceNames: ['node-a'] }] };
    assert.equal((await call('admin', 'POST', `${RBAC}/clusterroles`, nodeReader)).status, 201);
    const crb = { metadata: { name: 'bob-node-one' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-one-reader' }, subjects: [{ kind: 'User', name: 'bob' }] };
    assert.equal((await call('admin', 'POST', `${RBAC}/clusterrolebindings`, crb)).status, 201);
    await until('bob to be allowed to get node-a', async () => (await call('bob', 'GET', '/api/v1/nodes/node-a')).status === 404);
    assertForbidden(await call('bob', 'GET', '/api/v1/nodes/node-b'), /User "bob" cannot get resource "nodes"/);
    assertForbidden(await call('bob', 'GET', '/api/v1/nodes'), /cannot list resource "nodes"/);

    // Deleting the binding takes the grant away.
    assert.equal((await call('admin', 'DELETE', `${RBAC}/namespaces/team/rolebindings/bob-reads`)).status, 200);
    await until('bob to lose pods in team', async () => (await call('bob', 'GET', '/api/v1/namespaces/team/pods')).status === 403);
  });

  test('a node changes only its own Node, Lease and the status of pods bound to it', async () => {
    const node = (name: string) => ({ metadata: { name } });
    assert.equal((await call('nodeA', 'POST', '/api/v1/nodes', node('node-a'))).status, 201);
    assertForbidden(await call('nodeA', 'POST', '/api/v1/nodes', node('node-b')), /node "node-a" may only change its own Node object, not "node-b"/);
    assert.equal((await call('admin', 'POST', '/api/v1/nodes', node('node-b'))).status, 201);
    assertForbidden(await call('nodeA', 'DELETE', '/api/v1/nodes/node-b'), /may not delete nodes/);
    const status = (await call('nodeA', 'GET', '/api/v1/nodes/node-a')).json;
    assert.equal((await call('nodeA', 'PUT', '/api/v1/nodes/node-a/status', { ...status, status: { phase: 'Running' } })).status, 200);
    const other = (await call('nodeA', 'GET', '/api/v1/nodes/node-b')).json;
    assertForbidden(await call('nodeA', 'PUT', '/api/v1/nodes/node-b/status', other), /not "node-b"/);

    const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40 } });
    assert.equal((await call('nodeA', 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('node-a'))).status, 201);
    assertForbidden(await call('nodeA', 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('node-b')), /only change its own Lease "kube-node-lease\/node-a"/);

    const onA = (await call('nodeA', 'GET', '/api/v1/namespaces/team/pods/on-a')).json;
    const put = await call('nodeA', 'PUT', '/api/v1/namespaces/team/pods/on-a/status', { ...onA, status: { phase: 'Running' } });
    assert.equal(put.status, 200, put.text);
    const onB = (await call('nodeA', 'GET', '/api/v1/namespaces/team/pods/on-b')).json;
    assertForbidden(await call('nodeA', 'PUT', '/api/v1/namespaces/team/pods/on-b/status', { ...onB, status: { phase: 'Failed' } }), /only change pods bound to it/);
    assert.notEqual((await call('admin', 'GET', '/api/v1/namespaces/team/pods/on-b')).json.status?.phase, 'Failed', 'nothing written');
    assertForbidden(await call('nodeA', 'PUT', '/api/v1/namespaces/team/pods/on-a', onA), /only change the status of pods, not their spec/);
    assertForbidden(await call('nodeA', 'POST', '/api/v1/namespaces/team/pods', { metadata: { name: 'mine' }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox' }] } }), /may not create pods/);
    assertForbidden(await call('nodeA', 'DELETE', '/api/v1/namespaces/team/pods/on-b'), /only change pods bound to it/);
    // In group system:nodes but not named system:node:<name>: no node writes at all.
    assertForbidden(await call('stranger', 'PUT', '/api/v1/namespaces/team/pods/on-a/status', onA), /not named system:node:<node>/);
  });

  test('impersonation (kubectl --as) needs the impersonate verb, and then the request is the impersonated user\'s', async () => {
    assertForbidden(await call('bob', 'GET', '/api/v1/namespaces/team/pods', undefined, { 'impersonate-user': 'root' }), 'users "root" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope');
    const asViewer = { 'impersonate-user': 'viewer', 'impersonate-group': 'keelson:viewers' };
    assert.equal((await call('admin', 'GET', '/api/v1/namespaces/team/pods', undefined, asViewer)).status, 200);
    assertForbidden(await call('admin', 'DELETE', '/api/v1/namespaces/team/pods/on-a', undefined, asViewer), /User "viewer" cannot delete resource "pods"/);
    assert.equal((await call('admin', 'GET', '/api/v1/namespaces/team/pods', undefined, { 'impersonate-group': 'x' })).status, 400);
  });

  test('no escalation: a namespace admin cannot write or bind rules it does not hold', async () => {
    const bind = (name: string, kind: string, role: string) => ({ metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: role }, subjects: [{ kind: 'User', name: 'bob' }] });
    assert.equal((await call('admin', 'POST', `${RBAC}/namespaces/other/rolebindings`, bind('bob-admin', 'ClusterRole', 'admin'))).status, 201);
    await until('bob to be admin in other', async () => (await call('bob', 'GET', '/api/v1/namespaces/other/pods')).status === 200);
    // Within what admin holds: a role, and a binding to view (its namespaced part is all admin's too).
    assert.equal((await call('bob', 'POST', `${RBAC}/namespaces/other/roles`, { metadata: { name: 'readers' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] })).status, 201);
    const viewBinding = await call('bob', 'POST', `${RBAC}/namespaces/other/rolebindings`, { ...bind('carol-view', 'ClusterRole', 'view'), subjects: [{ kind: 'User', name: 'carol' }] });
    assert.equal(viewBinding.status, 201, viewBinding.text);
    // Beyond it: cluster-admin, or a role with nodes (cluster-wide) or with every verb on everything.
    assertForbidden(await call('bob', 'POST', `${RBAC}/namespaces/other/rolebindings`, bind('bob-root', 'ClusterRole', 'cluster-admin')), /binding ClusterRole "cluster-admin" would grant \* on \* in API group "\*" in the namespace "other", which user "bob" does not hold/);
    assertForbidden(await call('bob', 'POST', `${RBAC}/namespaces/other/roles`, { metadata: { name: 'all' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }), /it would grant \* on \*/);
    assertForbidden(await call('bob', 'POST', `${RBAC}/clusterroles`, { metadata: { name: 'x' }, rules: [] }), /cannot create resource "clusterroles"/);
    assertForbidden(await call('bob', 'PATCH', `${RBAC}/namespaces/other/roles/readers`, { rules: [] }), /needs the escalate verb/);
    assert.equal((await call('admin', 'GET', `${RBAC}/namespaces/other/rolebindings/bob-root`)).status, 404, 'nothing written');
    // Namespaced objects are written under their namespace's path only: not around the check by the body's namespace.
    const sneak = { ...bind('sneak', 'ClusterRole', 'cluster-admin'), metadata: { name: 'sneak', namespace: 'other' } };
    assertForbidden(await call('bob', 'POST', `${RBAC}/rolebindings`, sneak), /cannot create resource "rolebindings" .* at the cluster scope/);
    const admins = await call('admin', 'POST', `${RBAC}/rolebindings`, sneak);
    assert.equal(admins.status, 405, admins.text);
    assert.match(admins.json.message, /rolebindings are written in a namespace/);
  });

  test('RBAC objects are validated; a binding\'s roleRef cannot change', async () => {
    const bad = await call('admin', 'POST', `${RBAC}/namespaces/team/rolebindings`, { metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Secret', name: 'x' }, subjects: [{ kind: 'Robot', name: 'r' }] });
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(bad.json.details.causes.map((c: Json) => c.field).sort(), ['roleRef.kind', 'subjects[0].kind']);
    const noVerbs = await call('admin', 'POST', `${RBAC}/namespaces/team/roles`, { metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'] }, { verbs: ['get'], nonResourceURLs: ['/x'] }] });
    assert.equal(noVerbs.status, 422, noVerbs.text);
    assert.match(noVerbs.json.message, /rules\[0\]\.verbs: Required value/);
    assert.match(noVerbs.json.message, /rules\[1\]\.nonResourceURLs: Invalid value.*namespaced rules cannot apply to non-resource URLs/);
    const crb = (await call('admin', 'GET', `${RBAC}/clusterrolebindings/bob-node-one`)).json;
    const changed = await call('admin', 'PUT', `${RBAC}/clusterrolebindings/bob-node-one`, { ...crb, roleRef: { ...crb.roleRef, name: 'cluster-admin' } });
    assert.equal(changed.status, 422, changed.text);
    assert.match(changed.json.message, /roleRef: Invalid value.*cannot change roleRef/);
  });
});
