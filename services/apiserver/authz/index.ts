/**
 * Authorization, in kube-apiserver's order (`--authorization-mode=Node,RBAC`
 * with the system:masters bypass): members of system:masters may do anything;
 * a node is held to its own objects (node-restriction.ts); then RBAC rules
 * from the Roles and bindings in the watch cache (rbac.ts) decide. A refusal
 * is a 403 Status naming the user, the verb and the resource, in Kubernetes'
 * words. The built-in roles are ensured at start (bootstrap-policy.ts).
 *
 *   const authz = new Authorizer(cache);
 *   authz.check(req.user, requestAttributes(req.method, req.url, req.query), req.body); // throws 403
 */
import { resourceForKind, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { ApiError, isAlreadyExists } from '../../lib/errors/index.js';
import type { UserInfo } from '../authn/user.js';
import { MASTERS_GROUP } from '../authn/user.js';
import type { Registry } from '../registry/index.js';
import { semanticEqual } from '../registry/validation/fields.js';
import type { WatchCache } from '../watch-cache/index.js';
import { combinedResource, type RequestAttributes } from './attributes.js';
import { AUTOUPDATE_ANNOTATION, bootstrapPolicy } from './bootstrap-policy.js';
import { nodeRestriction } from './node-restriction.js';
import { rbacAllows, type PolicySource } from './rbac.js';

export { requestAttributes, type RequestAttributes } from './attributes.js';
export { VIEWERS_GROUP } from './bootstrap-policy.js';
export { NODES_GROUP, NODE_USER_PREFIX } from './node-restriction.js';

const kind = (k: string) => resourceForKind(k)!;

export class Authorizer {
  private readonly policy: PolicySource;

  constructor(private readonly cache: WatchCache) {
    this.policy = {
      clusterRoleBindings: () => cache.list(kind('ClusterRoleBinding')),
      roleBindings: (ns) => cache.list(kind('RoleBinding'), ns),
      clusterRole: (name) => cache.get(kind('ClusterRole'), '', name),
      role: (ns, name) => cache.get(kind('Role'), ns, name),
    };
  }

  /** Throws a 403 Forbidden ApiError unless `user` may do `a`; `body` is a create's object (a node's own name). */
  check(user: UserInfo, a: RequestAttributes, body?: unknown): void {
    if (user.groups.includes(MASTERS_GROUP)) return;
    const pods = kind('Pod');
    const restricted = nodeRestriction(user, a, { pod: (ns, name) => this.cache.get(pods, ns, name) }, body);
    if (restricted) throw forbidden(user, a, restricted);
    if (!rbacAllows(this.policy, user, a)) throw forbidden(user, a);
  }
}

/** `pods "x" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "ns"`, as Kubernetes says it. */
export function forbidden(user: UserInfo, a: RequestAttributes, why?: string): ApiError {
  if (a.kind === 'nonResource') {
    return new ApiError('Forbidden', `forbidden: User "${user.name}" cannot ${a.verb} path "${a.path}"${why ? `: ${why}` : ''}`);
  }
  const resource = combinedResource(a);
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const what = a.name !== undefined ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const reason = why ?? `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
  return new ApiError('Forbidden', `${what} is forbidden: ${reason}`, { ...(a.name !== undefined ? { name: a.name } : {}), group: a.apiGroup, kind: a.resource });
}

/**
 * Creates the built-in roles and bindings that are missing, and puts back
 * those marked for automatic update that differ. Several API servers may do
 * this at once: the loser of a create or an update simply finds it done.
 */
export async function ensureBootstrapPolicy(registry: Registry): Promise<void> {
  for (const want of bootstrapPolicy()) {
    const resource = kind(want.kind!);
    const name = want.metadata!.name!;
    const have = await registry.get(resource, '', name).catch(() => undefined);
    if (!have) {
      await registry.create(resource, '', want).catch((e) => {
        if (!isAlreadyExists(e)) throw e;
      });
      continue;
    }
    if (have.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] !== 'true' || sameGrant(resource, have, want)) continue;
    await registry
      .update(resource, '', name, { ...have, ...grantOf(resource, want) })
      .catch((e: ApiError) => {
        if (e.reason !== 'Conflict') throw e;
      });
  }
}

function grantOf(resource: ResourceInfo, o: KObject): Partial<KObject> {
  return resource.kind === 'ClusterRole' ? { rules: o.rules } : { subjects: o.subjects, roleRef: o.roleRef };
}

function sameGrant(resource: ResourceInfo, a: KObject, b: KObject): boolean {
  return semanticEqual(grantOf(resource, a), grantOf(resource, b));
}
