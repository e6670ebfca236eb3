/**
 * Roles and bindings (rbac.authorization.k8s.io/v1), with Kubernetes' rules:
 * a rule names verbs and either resources (with their API groups) or, in a
 * ClusterRole only, non-resource URLs; a binding names a role of a kind it may
 * use and subjects of the three kinds; its roleRef never changes.
 */
import { RBAC_GROUP, type KObject } from '../../../lib/api/resources.js';
import { validateObjectMeta } from './common.js';
import type { Errs } from './errors.js';
import { child, getObj, getStr, isSet, objItems, strItems, type Obj } from './fields.js';
import { isDNS1123Label } from './syntax.js';

/** RBAC object names are path segments (Kubernetes' ValidateRBACName): `system:node` is fine. */
export function isPathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const bad = ['/', '%'].filter((c) => name.includes(c));
  return bad.map((c) => `may not contain '${c}'`);
}

export function validateRole(obj: KObject, e: Errs): void {
  const cluster = obj.kind === 'ClusterRole';
  validateObjectMeta(obj.metadata, { namespaced: !cluster, name: isPathSegmentName }, e);
  for (const [rule, path] of objItems(obj, 'rules', '', e)) validateRule(rule, path, cluster, e);
}

function validateRule(rule: Obj, path: string, cluster: boolean, e: Errs): void {
  const verbs = strItems(rule, 'verbs', path, e);
  if (verbs.length === 0) e.required(child(path, 'verbs'), 'verbs must contain at least one value');
  const urls = strItems(rule, 'nonResourceURLs', path, e);
  const groups = strItems(rule, 'apiGroups', path, e);
  const resources = strItems(rule, 'resources', path, e);
  strItems(rule, 'resourceNames', path, e);
  if (urls.length > 0) {
    if (!cluster) e.invalid(child(path, 'nonResourceURLs'), urls.map(([u]) => u), 'namespaced rules cannot apply to non-resource URLs');
    if (groups.length > 0 || resources.length > 0) e.invalid(child(path, 'nonResourceURLs'), urls.map(([u]) => u), 'rules cannot apply to both regular resources and non-resource URLs');
    for (const [u, p] of urls) if (!u.startsWith('/') && u !== '*') e.invalid(p, u, "must start with '/' (or be '*')");
    return;
  }
  if (resources.length === 0) e.required(child(path, 'resources'), 'resource rules must supply at least one resource');
  if (groups.length === 0) e.required(child(path, 'apiGroups'), 'resource rules must supply at least one api group');
}

export function validateBinding(obj: KObject, e: Errs): void {
  const cluster = obj.kind === 'ClusterRoleBinding';
  validateObjectMeta(obj.metadata, { namespaced: !cluster, name: isPathSegmentName }, e);
  const ref = getObj(obj, 'roleRef', '', e);
  if (!ref) e.required('roleRef');
  else {
    const group = getStr(ref, 'apiGroup', 'roleRef', e);
    if (group !== RBAC_GROUP) e.notSupported('roleRef.apiGroup', group ?? '', [RBAC_GROUP]);
    const kind = getStr(ref, 'kind', 'roleRef', e);
    const kinds = cluster ? ['ClusterRole'] : ['ClusterRole', 'Role'];
    if (!kind || !kinds.includes(kind)) e.notSupported('roleRef.kind', kind ?? '', kinds);
    const name = getStr(ref, 'name', 'roleRef', e);
    if (!name) e.required('roleRef.name');
    else e.invalidEach('roleRef.name', name, isPathSegmentName(name));
  }
  for (const [s, path] of objItems(obj, 'subjects', '', e)) validateSubject(s, path, cluster, e);
}

function validateSubject(s: Obj, path: string, cluster: boolean, e: Errs): void {
  const kind = getStr(s, 'kind', path, e);
  const name = getStr(s, 'name', path, e);
  const group = getStr(s, 'apiGroup', path, e);
  const ns = getStr(s, 'namespace', path, e);
  if (!name) e.required(child(path, 'name'));
  if (kind === 'ServiceAccount') {
    if (group) e.notSupported(child(path, 'apiGroup'), group, ['']);
    if (ns) e.invalidEach(child(path, 'namespace'), ns, isDNS1123Label(ns));
    else if (cluster) e.required(child(path, 'namespace'));
  } else if (kind === 'User' || kind === 'Group') {
    if (isSet(group) && group !== RBAC_GROUP) e.notSupported(child(path, 'apiGroup'), group ?? '', [RBAC_GROUP]);
  } else {
    e.notSupported(child(path, 'kind'), kind ?? '', ['Group', 'ServiceAccount', 'User']);
  }
}

export function validateBindingUpdate(obj: KObject, old: KObject, e: Errs): void {
  if (JSON.stringify(obj.roleRef) !== JSON.stringify(old.roleRef)) e.invalid('roleRef', obj.roleRef, 'cannot change roleRef');
}
