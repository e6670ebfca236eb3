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
