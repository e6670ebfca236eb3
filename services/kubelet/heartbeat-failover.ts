/**
 * Kubernetes' kubelet closes its connections when node heartbeats keep failing:
 * a connection to a server cut off the network can look alive for a long time.
 * The same over NATS: after `threshold` lease renewals in a row that no API
 * server answered (a timeout, or no responders through this server) while the
 * client believes it is connected, the connection is made to reconnect, which
 * takes it to another server of its list. The client's pings would notice as
 * well, but only after 2 × 2 s plus the reconnect, longer than a node's grace
 * allows where nodes are declared dead quickly (the compose cluster: 4 s). At
 * most one forced reconnect per `coolDownMs`, so a control plane that does not
 * answer anyone (a store election) does not have every node reconnecting over
 * and over.
 */
import { isUnanswered } from '../lib/client/index.js';

export type HeartbeatFailoverOptions = {
  /** Makes the connection reconnect (nats.js `nc.reconnect()`). */
  reconnect: () => Promise<void>;
  /** Whether the connection believes it is connected (a disconnected one is already reconnecting). */
  connected: () => boolean;
  /** Unanswered renewals in a row that force a reconnect. Default 2. */
  threshold?: number;
  /** Least time between two forced reconnects. Default 10 s. */
  coolDownMs?: number;
  log?: (message: string) => void;
  /** The clock, for tests. */
  now?: () => number;
};

export class HeartbeatFailover {
  private unansweredInRow = 0;
  private lastForcedMs = -Infinity;

  constructor(private readonly opts: HeartbeatFailoverOptions) {}

  /** A renewal went through: the path works. */
  succeeded(): void {
    this.unansweredInRow = 0;
  }

  /** A renewal failed; returns true when it forced a reconnect. */
  failed(err: unknown): boolean {
    // An API server's own refusal (a Status) means the path works.
    if (!isUnanswered(err)) {
      this.unansweredInRow = 0;
      return false;
    }
    this.unansweredInRow++;
    const now = (this.opts.now ?? Date.now)();
    if (this.unansweredInRow < (this.opts.threshold ?? 2) || !this.opts.connected() || now - this.lastForcedMs < (this.opts.coolDownMs ?? 10_000)) return false;
    this.unansweredInRow = 0;
    this.lastForcedMs = now;
    this.opts.log?.('no API server answered the last lease renewals though NATS is connected: reconnecting to another server');
    this.opts.reconnect().catch((e: unknown) => this.opts.log?.(`reconnect failed: ${(e as Error).message}`));
    return true;
  }
}
