/**
 * What every controller of the controller-manager is given, and what it gives
 * back. A controller is a folder-free file pair `<name>.controller.ts` (+ test)
 * exporting `start<Name>Controller(ctx) → RunningController`; the front door
 * (index.ts) starts them all on one set of shared informers, under one leader.
 */
import { NO_INSPECTION, type Inspector } from '../lib/inspect/index.js';
import type { KeelsonClient } from '../lib/client/index.js';
import type { ControllerStats } from '../lib/controller/index.js';
import { hostname } from 'node:os';
import { EventRecorder } from '../lib/events/index.js';
import { SharedInformers } from '../lib/informer/index.js';

export type ControllerManagerOptions = {
  /** A node whose heartbeat Lease is older than this is NotReady/Unknown. Default 5 s (Kubernetes: 50 s). */
  nodeMonitorGracePeriodMs: number;
  /** How long pods tolerate not-ready/unreachable before eviction. Default 5 s (Kubernetes: 300 s). */
  podEvictionTimeoutMs: number;
  /**
   * How long pods tolerate unreachable (the lease ran out), if not podEvictionTimeoutMs:
   * as Kubernetes' --default-unreachable-toleration-seconds beside its not-ready twin.
   */
  unreachableEvictionTimeoutMs?: number;
  /** How often the node lifecycle controller looks at the leases. Default 1 s (Kubernetes: 5 s). */
  nodeMonitorPeriodMs: number;
  /** Workers per controller (never two on one key). Default 4. */
  workers: number;
};

export const DEFAULT_CONTROLLER_MANAGER_OPTIONS: ControllerManagerOptions = {
  nodeMonitorGracePeriodMs: 5_000,
  podEvictionTimeoutMs: 5_000,
  nodeMonitorPeriodMs: 1_000,
  workers: 4,
};

export type ControllerContext = {
  /** Every write goes through it; it carries the leader's fencing token. */
  client: KeelsonClient;
  /** One started informer per resource, shared by all controllers: read from these, never list the API in a loop. */
  informers: SharedInformers;
  /** Events for `kubectl describe`, per controller component name (e.g. `replicaset-controller`). */
  recorder: (component: string) => EventRecorder;
  options: ControllerManagerOptions;
  log: (message: string) => void;
  /** Where controllers' actors report their transitions (live inspection). */
  inspector: Inspector;
};

export type RunningController = {
  name: string;
  stats(): ControllerStats;
  /** Stops the workers and handlers; shared informers are stopped by the manager. */
  stop(): Promise<void>;
};

/**
 * A context on one client: its own shared informers (unless given), one event
 * recorder per component, the default options with `options` over them.
 */
export function controllerContext(opts: {
  client: KeelsonClient;
  informers?: SharedInformers;
  options?: Partial<ControllerManagerOptions>;
  log?: (message: string) => void;
  inspector?: Inspector;
}): ControllerContext {
  const { client } = opts;
  const log = opts.log ?? (() => undefined);
  const recorders = new Map<string, EventRecorder>();
  return {
    client,
    informers: opts.informers ?? new SharedInformers(client),
    options: { ...DEFAULT_CONTROLLER_MANAGER_OPTIONS, ...opts.options },
    log,
    inspector: opts.inspector ?? NO_INSPECTION,
    recorder: (component) => {
      let r = recorders.get(component);
      if (!r) recorders.set(component, (r = new EventRecorder({ client, component, host: hostname(), log })));
      return r;
    },
  };
}
