/**
 * When the forwarders should take connections. A second process pays off
 * for long connections that keep this process's event loop busy (bulk
 * traffic); for a stream of short connections on a small machine it costs
 * more than it gives (`npm run bench -- proxy --phase data`, 2 cores shared
 * with the load: a forwarder always accepting took bulk from 0.62× to 0.75×
 * haproxy's 2 threads but new connections from 0.84× to 0.67×: each
 * connection woke both processes and was batched less). So the forwarders
 * accept while this process is busy (event loop utilization ≥ `busy`)
 * carrying open connections and taking few new ones (< `shortRate` a
 * second), stop at once when connections come faster than that, and
 * otherwise stop after `holdMs` without such a sample (busy with no
 * connection open, as while syncing thousands of Services, is not traffic).
 * Pure: fed one sample per period.
 */
export type DemandOptions = {
  /** Event loop utilization (0–1) from which this process counts as busy. Default 0.75. */
  busy?: number;
  /** New connections a second from which a load counts as short connections. Default 200. */
  shortRate?: number;
  /** How long sharing lasts without a busy sample of long connections. Default 30 s. */
  holdMs?: number;
};

export type DemandSample = {
  /** Event loop utilization of this process over the sample (0–1). */
  utilization: number;
  /** The sample's length. */
  seconds: number;
  /** Connections accepted in the sample, by this process and the forwarders. */
  accepted: number;
  /** TCP connections this process has open at the end of the sample. */
  open: number;
  now: number;
};

export class Demand {
  private readonly busy: number;
  private readonly shortRate: number;
  private readonly holdMs: number;
  private lastBusyLong = -Infinity;

  constructor(options: DemandOptions = {}) {
    this.busy = options.busy ?? 0.75;
    this.shortRate = options.shortRate ?? 200;
    this.holdMs = options.holdMs ?? 30_000;
  }

  /** Takes one sample; returns whether the forwarders should accept now. */
  sample(s: DemandSample): boolean {
    const short = s.accepted >= this.shortRate * s.seconds;
    if (short) this.lastBusyLong = -Infinity;
    else if (s.utilization >= this.busy && s.open > 0) this.lastBusyLong = s.now;
    return this.wanted(s.now);
  }

  wanted(now: number): boolean {
    return now - this.lastBusyLong < this.holdMs;
  }
}
