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
import { resourceForKind } from '../../lib/api/resources.js';
import { ApiError, errors } from '../../lib/errors/index.js';
import { AUTHENTICATED_GROUP, MASTERS_GROUP, type UserInfo } from '../authn/user.js';
import type { Registry } from '../registry/index.js';
import { semanticEqual } from '../registry/validation/fields.js';
import type { WatchCache } from '../watch-cache/index.js';
import { combinedResource, type RequestAttributes } from './attributes.js';
import { AUTOUPDATE_ANNOTATION, bootstrapPolicy } from './bootstrap-policy.js';
import { escalation } from './escalation.js';
import { nodeRestriction } from './node-restriction.js';
import { rbacAllows, type PolicySource } from './rbac.js';

export { namespaceOfRequest, requestAttributes, type RequestAttributes } from './attributes.js';
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

  /**
   * Throws a 403 Forbidden ApiError unless `user` may do `a`; `body` is the
   * object written (a node's own name; the rules a role or binding would grant).
   */
  check(user: UserInfo, a: RequestAttributes, body?: unknown): void {
    if (user.groups.includes(MASTERS_GROUP)) return;
    const pods = kind('Pod');
    const restricted = nodeRestriction(user, a, { pod: (ns, name) => this.cache.get(pods, ns, name) }, body);
    if (restricted) throw forbidden(user, a, restricted);
    if (!rbacAllows(this.policy, user, a)) throw forbidden(user, a);
    const escalates = escalation(this.policy, user, a, body);
    if (escalates) throw forbidden(user, a, escalates, false);
  }

  /** check() as an answer, for SelfSubjectAccessReview (no object, so no escalation check). */
  decide(user: UserInfo, a: RequestAttributes): { allowed: boolean } {
    try {
      this.check(user, a);
      return { allowed: true };
    } catch (e) {
      // As kube-apiserver's RBAC authorizer: a plain "no", kubectl prints it so.
      if (e instanceof ApiError && e.reason === 'Forbidden') return { allowed: false };
      throw e;
    }
  }

  /**
   * The user a request acts as: `user`, or the one its `Impersonate-User` /
   * `Impersonate-Group` headers name, if `user` may impersonate them (the
   * `impersonate` verb on users and groups, as Kubernetes has it; kubectl
   * `--as`, `--as-group`). Throws 403 otherwise.
   */
  impersonate(user: UserInfo, headers: Record<string, string | string[] | undefined>): UserInfo {
    // `headers` must keep repeated headers apart (Node's headersDistinct): `--as-group a --as-group b` is two groups.
    const as = first(headers['impersonate-user']) || undefined;
    const groups = list(headers['impersonate-group']);
    const unsupported = Object.keys(headers).find((h) => h.startsWith('impersonate-') && h !== 'impersonate-user' && h !== 'impersonate-group');
    if (as === undefined) {
      if (groups.length > 0) throw errors.badRequest('Impersonate-Group needs Impersonate-User');
      return user;
    }
    if (unsupported) throw errors.badRequest(`${unsupported} is not supported; impersonate with Impersonate-User and Impersonate-Group`);
    const may = (resource: string, name: string) => {
      const a: RequestAttributes = { kind: 'resource', verb: 'impersonate', apiGroup: '', resource, namespace: '', name };
      if (!user.groups.includes(MASTERS_GROUP) && !rbacAllows(this.policy, user, a)) throw forbidden(user, a);
    };
    may('users', as);
    for (const g of groups) may('groups', g);
    return { name: as, groups: [...groups.filter((g) => g !== AUTHENTICATED_GROUP), AUTHENTICATED_GROUP] };
  }
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * `pods "x" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "ns"`,
 * as Kubernetes says it, with `: why` after it when there is more to say (or
 * only `why`, when the user may do the verb and it is the content that is refused).
 */
export function forbidden(user: UserInfo, a: RequestAttributes, why?: string, cannot = true): ApiError {
  if (a.kind === 'nonResource') {
    return new ApiError('Forbidden', `forbidden: User "${user.name}" cannot ${a.verb} path "${a.path}"${why ? `: ${why}` : ''}`);
  }
  const resource = combinedResource(a);
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const what = a.name !== undefined ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const base = `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
  const reason = !cannot && why ? why : why ? `${base}: ${why}` : base;
  return new ApiError('Forbidden', `${what} is forbidden: ${reason}`, { ...(a.name !== undefined ? { name: a.name } : {}), group: a.apiGroup, kind: a.resource });
}

/**
 * Creates the built-in roles and bindings that are missing, and, for those
 * still marked for automatic update, adds back what was taken from them
 * (rules, subjects) while keeping what users added, as Kubernetes' reconciler
 * does; a binding whose role was changed (a roleRef cannot be updated) is made
 * again. Several API servers may do this at once: the loser of a write finds
 * it done.
 */
export async function ensureBootstrapPolicy(registry: Registry): Promise<void> {
  const raced = (e: ApiError) => {
    if (!['AlreadyExists', 'Conflict', 'NotFound'].includes(e.reason)) throw e;
  };
  for (const want of bootstrapPolicy()) {
    const resource = kind(want.kind!);
    const name = want.metadata!.name!;
    const have = await registry.get(resource, '', name).catch(() => undefined);
    if (!have) {
      await registry.create(resource, '', want).catch(raced);
      continue;
    }
    if (have.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] !== 'true') continue;
    if (resource.kind === 'ClusterRoleBinding' && !semanticEqual(have.roleRef, want.roleRef)) {
      await registry.delete(resource, '', name).catch(raced);
      await registry.create(resource, '', { ...want, subjects: union(have.subjects, want.subjects) }).catch(raced);
      continue;
    }
    const field = resource.kind === 'ClusterRole' ? 'rules' : 'subjects';
    const merged = union(have[field], want[field]);
    if (merged.length === ((have[field] as unknown[] | undefined) ?? []).length) continue;
    await registry.update(resource, '', name, { ...have, [field]: merged }).catch(raced);
  }
}

/** `have` and whatever of `want` it lacks, in that order. */
function union(have: unknown, want: unknown): unknown[] {
  const out = [...((have as unknown[] | undefined) ?? [])];
  for (const w of (want as unknown[] | undefined) ?? []) if (!out.some((h) => semanticEqual(h, w))) out.push(w);
  return out;
}
