/**
 * RBAC's guard against escalation, as Kubernetes has it: a user may write a
 * Role or ClusterRole only with rules it holds itself (or the `escalate` verb
 * on that role), and bind a role only if it holds all the role's rules where
 * the binding applies (or the `bind` verb on that role). Otherwise anyone who
 * may edit roles in a namespace could give itself anything. Pure, over the
 * same policy view as rbac.ts.
 */
import { RBAC_GROUP, RESOURCES, type KObject } from '../../lib/api/resources.js';
import type { UserInfo } from '../authn/user.js';
import type { RequestAttributes, ResourceAttributes } from './attributes.js';
import { rbacAllows, type PolicyRule, type PolicySource } from './rbac.js';

const WRITES = new Set(['create', 'update', 'patch']);
// Namespaces are cluster-scoped, but a request for one is in that namespace: rules on them do grant there.
const CLUSTER_SCOPED = new Set(RESOURCES.filter((r) => !r.namespaced && r.plural !== 'namespaces').map((r) => `${r.group}/${r.plural}`));
const clusterScoped = (group: string, plural: string) => CLUSTER_SCOPED.has(`${group}/${plural}`);
const ROLES = new Set(['roles', 'clusterroles']);
const BINDINGS = new Set(['rolebindings', 'clusterrolebindings']);

/** Why this write would grant more than the user holds, or undefined. `body` is the object written. */
export function escalation(policy: PolicySource, user: UserInfo, a: RequestAttributes, body: unknown): string | undefined {
  if (a.kind !== 'resource' || a.apiGroup !== RBAC_GROUP || a.subresource || !WRITES.has(a.verb)) return undefined;
  const obj = (body ?? {}) as KObject;
  if (ROLES.has(a.resource)) {
    if (rbacAllows(policy, user, { ...a, verb: 'escalate' })) return undefined;
    if (a.verb === 'patch') return `patching ${a.resource} needs the escalate verb on them (the result cannot be checked before it is made); update or create it instead`;
    const scope = a.resource === 'roles' ? a.namespace : '';
    const missing = notHeld(policy, user, rulesOf(obj.rules), scope);
    return missing && `it would grant ${missing}, which user "${user.name}" does not hold (writing such a role needs the escalate verb)`;
  }
  if (BINDINGS.has(a.resource)) {
    const ref = (obj.roleRef ?? {}) as { kind?: string; name?: string };
    const roleResource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
    // As Kubernetes: `bind` is looked for where the binding applies (a RoleBinding's namespace), for Roles and ClusterRoles alike.
    const bind: ResourceAttributes = { kind: 'resource', verb: 'bind', apiGroup: RBAC_GROUP, resource: roleResource, namespace: a.namespace, ...(ref.name ? { name: ref.name } : {}) };
    if (rbacAllows(policy, user, bind)) return undefined;
    if (a.verb === 'patch') return `patching ${a.resource} needs the bind verb on the role they name; update or create it instead`;
    const role = ref.kind === 'Role' ? policy.role(a.namespace, ref.name ?? '') : policy.clusterRole(ref.name ?? '');
    // A role that is not there (yet) cannot be checked: binding it needs the bind verb.
    if (!role) return `${ref.kind ?? 'the role'} "${ref.name ?? ''}" was not found${ref.kind === 'Role' ? ` in the namespace "${a.namespace}"` : ''}, and user "${user.name}" may not bind it unseen (the bind verb)`;
    const scope = a.resource === 'rolebindings' ? a.namespace : '';
    const missing = notHeld(policy, user, rulesOf(role.rules), scope);
    return missing && `binding ${ref.kind} "${ref.name}" would grant ${missing}, which user "${user.name}" does not hold (binding it needs the bind verb)`;
  }
  return undefined;
}

/** Rules as written by anyone: what is not a list of strings counts as nothing (validation refuses it after). */
function rulesOf(v: unknown): PolicyRule[] {
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return (Array.isArray(v) ? v : []).map((r) => {
    const o = (r && typeof r === 'object' ? r : {}) as Record<string, unknown>;
    return { verbs: strings(o.verbs), apiGroups: strings(o.apiGroups), resources: strings(o.resources), resourceNames: strings(o.resourceNames), nonResourceURLs: strings(o.nonResourceURLs) };
  });
}

/**
 * The first permission of `rules` the user does not hold in `namespace` ('' =
 * cluster-wide), said as a rule; wildcards must be held as wildcards. In a
 * namespace, rules that cannot apply there (non-resource URLs, cluster-scoped
 * resources) grant nothing and are not asked for.
 */
function notHeld(policy: PolicySource, user: UserInfo, rules: PolicyRule[], namespace: string): string | undefined {
  for (const rule of rules) {
    for (const verb of rule.verbs ?? []) {
      for (const path of namespace ? [] : (rule.nonResourceURLs ?? [])) {
        if (!rbacAllows(policy, user, { kind: 'nonResource', verb, path })) return `${verb} on ${path}`;
      }
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const combined of rule.resources ?? []) {
          const [resource = '', subresource] = combined.split('/');
          if (namespace && clusterScoped(apiGroup, resource)) continue;
          for (const name of rule.resourceNames?.length ? rule.resourceNames : [undefined]) {
            const want: ResourceAttributes = { kind: 'resource', verb, apiGroup, resource, namespace, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) };
            if (!rbacAllows(policy, user, want)) return `${verb} on ${combined}${name ? ` "${name}"` : ''} in API group "${apiGroup}"${namespace ? ` in the namespace "${namespace}"` : ' cluster-wide'}`;
          }
        }
      }
    }
  }
  return undefined;
}
