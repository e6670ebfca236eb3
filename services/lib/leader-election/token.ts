/**
 * Fencing tokens: `ELECTION:TERM`, the term being the KV revision of the create
 * that began a leadership. Terms only grow, so the API server can refuse a write
 * whose term is older than the current one: a deposed leader can never write.
 */
import { ApiError, isConflict } from '../errors/index.js';

/** What the API server reads from a write request's token. */
export type LeaderToken = { election: string; term: number };

/** The HTTP header a leader's writes carry the token in (NATS requests: `ApiRequest.token`). */
export const LEADER_TOKEN_HEADER = 'X-Keelson-Leader-Token';

/** The `causes[].reason` of the 409 a stale token gets. */
export const STALE_LEADER_TOKEN = 'StaleLeaderToken';

export function formatToken(election: string, term: number): string {
  return `${election}:${term}`;
}

/** Parses a token; a malformed one is the caller's mistake (400). */
export function parseToken(token: string): LeaderToken {
  const colon = token.lastIndexOf(':');
  const election = token.slice(0, colon);
  const term = Number(token.slice(colon + 1));
  if (colon <= 0 || !/^\d+$/.test(token.slice(colon + 1)) || !Number.isSafeInteger(term) || term <= 0) {
    throw new ApiError('BadRequest', `malformed leader token "${token}": expected ELECTION:TERM, e.g. "kube-scheduler:12"`);
  }
  return { election, term };
}

/**
 * The 409 for a write by a leader that is no longer one. `current` is the term
 * that superseded it, or undefined when nobody holds the election now.
 */
export function staleTokenError(token: LeaderToken, current: number | undefined): ApiError {
  const { election, term } = token;
  const why =
    current === undefined
      ? `${election} term ${term} is over and nobody holds the election now`
      : current > term
        ? `${election} term ${term} was superseded by term ${current}`
        : `${election} has no term ${term} (its current term is ${current})`;
  const message = `stale leader token: ${why}; this instance is no longer the leader`;
  return new ApiError('Conflict', message, {
    name: election,
    group: 'coordination.k8s.io',
    kind: 'leases',
    causes: [{ reason: STALE_LEADER_TOKEN, message }],
  });
}

/** Whether a write failed because its leader token is stale: stop working, do not retry. */
export function isStaleLeaderToken(e: unknown): boolean {
  return isConflict(e) && !!(e as ApiError).details?.causes?.some((c) => c.reason === STALE_LEADER_TOKEN);
}
