/**
 * RBAC as Kubernetes evaluates it: the rules that apply to a user are those of
 * every ClusterRoleBinding naming the user (or one of its groups), anywhere,
 * and of every RoleBinding naming it in the request's namespace; a request is
 * allowed when one rule matches it. Pure over a policy snapshot (the API
 * server's watch cache), so it is tested without a server.
 */
import type { KObject } from '../../lib/api/resources.js';
import type { UserInfo } from '../authn/user.js';
import { combinedResource, type RequestAttributes, type ResourceAttributes } from './attributes.js';

export type PolicyRule = {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
};

/** Whom a binding names. */
export type Subject = { kind?: string; name?: string; namespace?: string };
type RoleRef = { kind?: string; name?: string };

/** What the evaluation reads; namespaced lists are of one namespace. */
export type PolicySource = {
  clusterRoleBindings(): KObject[];
  roleBindings(namespace: string): KObject[];
  clusterRole(name: string): KObject | undefined;
  role(namespace: string, name: string): KObject | undefined;
};

/** True when some rule bound to `user` allows the request. */
export function rbacAllows(policy: PolicySource, user: UserInfo, a: RequestAttributes): boolean {
  for (const b of policy.clusterRoleBindings()) {
    if (!bindsUser(b, user, '')) continue;
    if (rulesOf(policy, b, '').some((r) => ruleAllows(r, a))) return true;
  }
  // A RoleBinding grants only in its namespace, and only resource rules.
  if (a.kind !== 'resource' || !a.namespace) return false;
  for (const b of policy.roleBindings(a.namespace)) {
    if (!bindsUser(b, user, a.namespace)) continue;
    if (rulesOf(policy, b, a.namespace).some((r) => ruleAllows(r, a))) return true;
  }
  return false;
}

function bindsUser(binding: KObject, user: UserInfo, namespace: string): boolean {
  const subjects = (binding.subjects as Subject[] | undefined) ?? [];
  return subjects.some((s) => {
    if (s.kind === 'User') return s.name === user.name;
    if (s.kind === 'Group') return s.name !== undefined && user.groups.includes(s.name);
    // A service account authenticates as system:serviceaccount:<namespace>:<name>.
    if (s.kind === 'ServiceAccount') return user.name === `system:serviceaccount:${s.namespace || namespace}:${s.name}`;
    return false;
  });
}

function rulesOf(policy: PolicySource, binding: KObject, namespace: string): PolicyRule[] {
  const ref = binding.roleRef as RoleRef | undefined;
  if (!ref?.name) return [];
  const role = ref.kind === 'ClusterRole' ? policy.clusterRole(ref.name) : namespace ? policy.role(namespace, ref.name) : undefined;
  return (role?.rules as PolicyRule[] | undefined) ?? [];
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!matches(rule.verbs, a.verb)) return false;
  if (a.kind === 'nonResource') return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  return matches(rule.apiGroups, a.apiGroup) && resourceMatches(rule.resources, a) && namesMatch(rule.resourceNames, a.name);
}

function matches(list: string[] | undefined, value: string): boolean {
  return (list ?? []).some((v) => v === '*' || v === value);
}

function resourceMatches(resources: string[] | undefined, a: ResourceAttributes): boolean {
  const combined = combinedResource(a);
  return (resources ?? []).some((r) => r === '*' || r === combined || (a.subresource !== undefined && r === `*/${a.subresource}`));
}

function namesMatch(names: string[] | undefined, name: string | undefined): boolean {
  if (!names || names.length === 0) return true;
  return name !== undefined && names.includes(name);
}
