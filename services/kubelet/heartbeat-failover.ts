/**
 * Kubernetes' kubelet closes its connections when node heartbeats keep failing:
 * a connection to a server cut off the network can look alive for a long time.
 * The same over NATS: after `threshold` lease renewals in a row that no API
 * server answered (a timeout, or no responders through this server) while the
 * client believes it is connected, the link to the server is checked (a NATS
 * ping, answered by the server itself), and the client reconnects to another
 * server of its list when the ping goes unanswered or when the server knew of
 * no API server, or when the API server that answers (NATS prefers the one on
 * the same server) says its store is unavailable (503) while other API servers'
 * may not be: in a partition a worker otherwise stays with a master that cannot
 * write. A timeout on a link that answers is a slow control plane (a store
 * election): moving would not help. The client's own pings would notice a
 * dead link too, but after 2 × 2 s and then the reconnect, longer than a node's
 * grace where dead nodes are found quickly (the compose cluster: 4 s). At most
 * one reconnect per `coolDownMs`, counting the client's own reconnects.
 */
import { isNoResponders, isStatusAnswer, isUnanswered } from '../lib/client/index.js';

/** An API server's own answer that its store is unavailable (a Status 503). */
function isStoreUnavailable(e: unknown): boolean {
  return isStatusAnswer(e) && e.reason === 'ServiceUnavailable';
}

export type HeartbeatFailoverOptions = {
  /** Drops the connection and dials another server (lib/nats reconnectElsewhere). */
  reconnect: () => Promise<void>;
  /** Whether the connection believes it is connected (a disconnected one is already reconnecting). */
  connected: () => boolean;
  /** Whether the server answers a ping in time (nats.js `nc.rtt()`, bounded). */
  linkAlive: () => Promise<boolean>;
  /** Failed renewals in a row (unanswered, or the store unavailable) that lead to a check. Default 2. */
  threshold?: number;
  /** Least time between two reconnects. Default 10 s. */
  coolDownMs?: number;
  log?: (message: string) => void;
  /** The clock, for tests. */
  now?: () => number;
};

export class HeartbeatFailover {
  private unansweredInRow = 0;
  private lastReconnectMs = -Infinity;
  private checking = false;

  constructor(private readonly opts: HeartbeatFailoverOptions) {}

  /** A renewal went through: the path works. */
  succeeded(): void {
    this.unansweredInRow = 0;
  }

  /** The client reconnected by itself: the count starts over, and so does the cool-down. */
  reconnected(): void {
    this.unansweredInRow = 0;
    this.lastReconnectMs = this.now();
  }

  /** A renewal failed; resolves true when it made the client reconnect. */
  async failed(err: unknown): Promise<boolean> {
    // An API server's own refusal (a Status, but for its store unavailable) means the path works; while disconnected
    // the client is reconnecting already, and what fails then says nothing of the server.
    const storeDown = isStoreUnavailable(err);
    if (!isUnanswered(err) && !storeDown) {
      this.unansweredInRow = 0;
      return false;
    }
    if (!this.opts.connected()) return false;
    if (++this.unansweredInRow < (this.opts.threshold ?? 2) || this.checking || this.now() - this.lastReconnectMs < (this.opts.coolDownMs ?? 10_000)) return false;
    this.checking = true;
    try {
      const why = await this.whyMove(err, storeDown);
      if (!why || !this.opts.connected()) return false;
      this.unansweredInRow = 0;
      this.lastReconnectMs = this.now();
      this.opts.log?.(`${why}: reconnecting to another server`);
      await this.opts.reconnect().catch((e: unknown) => this.opts.log?.(`reconnect failed: ${(e as Error).message}`));
      return true;
    } finally {
      this.checking = false;
    }
  }

  /** Why another server would do better, or undefined: a timeout on a link that answers is a slow control plane. */
  private async whyMove(err: unknown, storeDown: boolean): Promise<string | undefined> {
    if (storeDown) return 'the API server answering through this NATS server cannot reach its store';
    if (!(await this.opts.linkAlive())) return 'the NATS server answers no ping and no API server answered the last lease renewals';
    if (isNoResponders(err)) return 'no API server can be reached through this NATS server';
    return undefined;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
