/**
 * When the store's watches must check on their consumers. A consumer dies,
 * stalls or goes silent when a NATS server dies or the stream elects a leader,
 * and only then; checking every watch all the time cost a request per watch
 * every 2 s (1,000 hollow nodes: 1,000 JetStream API requests a second, a whole
 * core of nats-server, and their lease renewals seconds late). So one alarm
 * per store connection listens for what precedes trouble, and raises itself
 * for ALERT_MS, while which the watchdogs check every 2 s:
 *
 * - the connection lost or changed its server (nats.js status events);
 * - an advisory about the store's stream (`$JS.EVENT.ADVISORY.STREAM.*.KV_<bucket>`:
 *   leader elected, quorum lost), which JetStream publishes in the account;
 * - the stream's leader or a replica's liveness changed, seen by asking for
 *   the stream's info every POLL_MS (a server whose death leads no election).
 *
 * Quiet, a store with any number of watches costs one request every 10 s.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';

export const ALERT_MS = 30_000;
export const POLL_MS = 10_000;

/** The stream's view that matters here: who leads, and which replicas are live. */
export type StreamView = { leader?: string; replicas: { name: string; offline?: boolean }[] };

export class WatchAlarm {
  private until = 0;
  private users = 0;
  private sub?: Subscription;
  private poll?: NodeJS.Timeout;
  private polling = false;
  private lastView?: string;
  private statusLoop?: { stop?(): void };

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly view: () => Promise<StreamView>,
    private readonly pollMs = POLL_MS,
  ) {}

  /** Whether watches should check on their consumers now. */
  get raised(): boolean {
    return Date.now() < this.until;
  }

  raise(): void {
    this.until = Date.now() + ALERT_MS;
  }

  /** A watch begins to rely on the alarm; returns its release. The alarm listens while anyone does. */
  use(): () => void {
    if (this.users++ === 0) this.listen();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) this.quiet();
    };
  }

  private listen(): void {
    try {
      this.sub = this.nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.*.${this.stream}`, { callback: () => this.raise() });
    } catch {
      // A closed connection: nothing to listen to.
    }
    const statuses = this.nc.status();
    this.statusLoop = statuses as { stop?(): void };
    void (async () => {
      for await (const s of statuses) if (s.type === 'disconnect' || s.type === 'reconnect') this.raise();
    })().catch(() => undefined);
    // The view before anything happens: the first poll compares against it.
    void this.check();
    this.poll = setInterval(() => void this.check(), this.pollMs);
    this.poll.unref();
  }

  private quiet(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    this.statusLoop?.stop?.();
    this.statusLoop = undefined;
    try {
      this.sub?.unsubscribe();
    } catch {
      // Its connection is closed already.
    }
    this.sub = undefined;
    this.lastView = undefined;
  }

  private async check(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const v = await this.view();
      // Not a follower's `current`, which flips with load: the leader and who is offline tell of trouble.
      const key = `${v.leader ?? ''}|${v.replicas.map((r) => `${r.name}:${r.offline ? 'offline' : 'up'}`).sort().join(',')}`;
      if (this.lastView !== undefined && key !== this.lastView) this.raise();
      this.lastView = key;
    } catch {
      // No answer about the stream (an election, a lost server): be watchful.
      this.raise();
    } finally {
      this.polling = false;
    }
  }
}
