/**
 * What the kubelet benchmark and its two heartbeat children agree on: their
 * configs, the lines they print, the node names. Kept apart from the child
 * scripts so that importing it runs nothing.
 */

/** hollow-nodes-child.ts: N kubelets on FakeRuntime in one process. */
export type HollowConfig = {
  nats: string;
  count: number;
  prefix: string;
  heartbeatMs: number;
  statusMs: number;
  /** Kubelets starting at once. */
  parallel: number;
  /** Stop starting new ones after this long (ms). */
  startDeadlineMs: number;
};

/** raw-leases-child.ts: N leases renewed with kv.put on one connection. */
export type RawLeasesConfig = {
  nats: string;
  count: number;
  prefix: string;
  heartbeatMs: number;
  bucket: string;
};

/** `<ready> <failed> <ms since start>`, about once a second while starting. */
export const HOLLOW_PROGRESS = 'HOLLOW-PROGRESS';
/** `<ready> <failed> <ms> <first error>`: every kubelet started (or the deadline passed). */
export const HOLLOW_READY = 'HOLLOW-READY';
/** `<json HollowStats>`, the answer to a `stats` command. */
export const HOLLOW_STATS = 'HOLLOW-STATS';
/** `<count> <ms>`: every lease written once and renewing. */
export const RAW_READY = 'RAW-LEASES-READY';
/** `<json RawStats>`, the answer to a `stats` command. */
export const RAW_STATS = 'RAW-LEASES-STATS';

export type LoopDelay = { p50: number; p99: number; max: number };

export type HollowStats = {
  kubelets: number;
  /** In the Online.Ready state now. */
  ready: number;
  /** Sum of the kubelets' consecutive failed renewals now. */
  leaseFailuresNow: number;
  /** The most common lastError values, with how many kubelets have each. */
  errors: [string, number][];
  /** Event loop delay since the last `reset-loop` (ms, sampling period taken off). */
  eventLoopDelayMs: LoopDelay;
};

export type RawStats = { puts: number; failures: number; firstError: string; eventLoopDelayMs: LoopDelay };

/** `<prefix>-0000`, `<prefix>-0001`, ... */
export function leaseNodeName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(4, '0')}`;
}

/** monitorEventLoopDelay's sampling period (ms); its figures include it, so it is taken off. */
export const LOOP_RESOLUTION_MS = 10;

/** A histogram's figures in ms, sampling period taken off. */
export function loopDelay(h: { percentile(p: number): number; max: number }): LoopDelay {
  const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - LOOP_RESOLUTION_MS);
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}
