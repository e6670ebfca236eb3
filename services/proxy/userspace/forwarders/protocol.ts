/**
 * The messages between the user-space backend and its forwarder processes,
 * over the IPC channel of child_process.fork. A `listen` message carries the
 * listening socket itself (a net.Server handle): from then on the kernel
 * hands that socket's new connections to whichever process accepts first.
 */
import type { ServicePort } from '../../types.js';
import type { ListenSpec } from '../listen-plan.js';

/** What a forwarder is started with (its one argument, as JSON). */
export type ForwarderConfig = {
  connectTimeoutMs: number;
  maxConnectTries: number;
  /** How often it reports its counters when they changed. */
  reportEveryMs: number;
};

export type ToForwarder =
  /** Service ports added or changed, and keys of those removed (TCP only: forwarders carry no UDP). */
  | { t: 'routes'; upsert: ServicePort[]; remove: string[] }
  /** Accept on this listening socket too (the handle comes with the message). */
  | { t: 'listen'; spec: ListenSpec }
  /** Stop accepting on it (open connections finish); answered by `unlistened` with the same id. */
  | { t: 'unlisten'; key: string; id: number }
  /** Cut everything and exit. */
  | { t: 'stop' };

/** [service port key, accepted, failed, activeConnections]. */
export type CounterRow = [key: string, accepted: number, failed: number, activeConnections: number];

export type FromForwarder =
  | { t: 'ready' }
  | { t: 'unlistened'; id: number }
  /** The counters of the service ports that changed since the last report (totals, not deltas). */
  | { t: 'counters'; rows: CounterRow[] }
  | { t: 'log'; message: string };
