/**
 * Chooses the endpoint for each new connection or UDP flow of one service port:
 * round robin over the ready endpoints, or, with ClientIP session affinity, the
 * endpoint a client IP used last unless it has been idle for the affinity timeout.
 * Pure bookkeeping (no sockets, no timers): expired affinity entries are swept
 * lazily while picking, so thousands of balancers cost nothing between picks.
 */
import type { Endpoint, SessionAffinity } from '../types.js';

/** `ip:port` (`[ip]:port` for IPv6): how endpoints are told apart. */
export function endpointKey(endpoint: Endpoint): string {
  return endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}

type Sticky = { endpoint: Endpoint; key: string; lastUsed: number };

export class Balancer {
  private endpoints: Endpoint[] = [];
  private keys = new Set<string>();
  /** Index in `endpoints` of the next round-robin candidate. */
  private next = 0;
  /** 0 when affinity is off. */
  private affinityMs = 0;
  private readonly sticky = new Map<string, Sticky>();
  private lastSweep = 0;

  constructor(
    endpoints: Endpoint[],
    affinity: SessionAffinity,
    private readonly now: () => number = Date.now,
  ) {
    this.update(endpoints, affinity);
  }

  /**
   * Takes a new endpoint list and affinity at once, for the next pick; open
   * connections are not touched. Affinity entries whose endpoint is gone stop
   * counting (and are swept later); the round robin carries on from where it was.
   */
  update(endpoints: Endpoint[], affinity: SessionAffinity): void {
    this.endpoints = endpoints.slice();
    this.keys = new Set(endpoints.map(endpointKey));
    this.next = endpoints.length === 0 ? 0 : this.next % endpoints.length;
    this.affinityMs = affinity.type === 'ClientIP' ? Math.max(0, affinity.timeoutSeconds * 1000) : 0;
    if (this.affinityMs === 0) this.sticky.clear();
  }

  /** How many endpoints there are to choose from. */
  get size(): number {
    return this.endpoints.length;
  }

  /** Whether ClientIP affinity is on: only then does pick() look at the client's IP. */
  get hasAffinity(): boolean {
    return this.affinityMs > 0;
  }

  /** Whether `endpoint` is still one of the choices. */
  has(endpoint: Endpoint): boolean {
    return this.hasKey(endpointKey(endpoint));
  }

  /** The same, by the endpoint's key (`endpointKey`), for callers that keep it. */
  hasKey(key: string): boolean {
    return this.keys.has(key);
  }

  /**
   * The endpoint for a new connection from `clientIP`, skipping those in `tried`
   * (keys from endpointKey: the ones that already failed for this connection);
   * undefined when none is left. With affinity on, the choice is remembered.
   */
  pick(clientIP: string, tried?: ReadonlySet<string>): Endpoint | undefined {
    if (this.endpoints.length === 0) return undefined;
    if (this.affinityMs > 0) return this.pickSticky(clientIP, tried);
    return this.pickNext(tried);
  }

  private pickSticky(clientIP: string, tried: ReadonlySet<string> | undefined): Endpoint | undefined {
    const now = this.now();
    this.sweep(now);
    const s = this.sticky.get(clientIP);
    if (s && now - s.lastUsed < this.affinityMs && this.keys.has(s.key) && !tried?.has(s.key)) {
      s.lastUsed = now;
      return s.endpoint;
    }
    const endpoint = this.pickNext(tried);
    if (endpoint) this.sticky.set(clientIP, { endpoint, key: endpointKey(endpoint), lastUsed: now });
    return endpoint;
  }

  /** The next endpoint round robin not in `tried`. */
  private pickNext(tried: ReadonlySet<string> | undefined): Endpoint | undefined {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const endpoint = this.endpoints[index]!;
      // A key is a string made on the spot: made only when there is something to compare it with.
      if (tried?.has(endpointKey(endpoint))) continue;
      this.next = (index + 1) % n;
      return endpoint;
    }
    return undefined;
  }

  /**
   * Marks `clientIP` active on `endpoint` at `at` (a connection or flow of it just
   * ended), so affinity counts idleness from the last use, not the last pick.
   */
  touch(clientIP: string, endpoint: Endpoint, at: number = this.now()): void {
    const s = this.sticky.get(clientIP);
    if (s && s.key === endpointKey(endpoint) && at > s.lastUsed) s.lastUsed = at;
  }

  /** Affinity entries held (expired ones may linger until the next sweep). */
  get affinityEntries(): number {
    return this.sticky.size;
  }

  /** Drops expired or orphaned entries, at most once per affinity timeout (amortised O(1) per pick). */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.affinityMs) return;
    this.lastSweep = now;
    for (const [ip, s] of this.sticky) {
      if (now - s.lastUsed >= this.affinityMs || !this.keys.has(s.key)) this.sticky.delete(ip);
    }
  }
}
