import { ADMIN_USER, APISERVER_USER, nodeOfUser } from '../../lib/nats-auth/index.js';
import { NODES_GROUP } from '../authz/node-restriction.js';

/** Who made a request, as Kubernetes' authenticators say it. */
export type UserInfo = {
  name: string;
  uid?: string;
  groups: string[];
};

/** Every authenticated user is also in this group (as in Kubernetes). */
export const AUTHENTICATED_GROUP = 'system:authenticated';
/** Cluster administrators: allowed everything. */
export const MASTERS_GROUP = 'system:masters';

/**
 * Who a NATS API request comes from: the user its subject names, which NATS
 * permissions pin to that user's credentials (lib/nats-auth). The API server's
 * own user (as kube-apiserver's loopback client) and the cluster administrator's
 * are in system:masters; a node's is in system:nodes, so the node authorizer
 * holds it to its own objects; any other is what RBAC bindings make it.
 */
export function natsCaller(user: string): UserInfo {
  const groups = user === APISERVER_USER || user === ADMIN_USER ? [MASTERS_GROUP] : nodeOfUser(user) !== undefined ? [NODES_GROUP] : [];
  return { name: user, groups: [...groups, AUTHENTICATED_GROUP] };
}
