/**
 * The user-space backend's counters as one plain value, for the proxy's
 * /metrics: per service port traffic, plus listener and sync figures.
 */
import type { Route, RouteCounters } from './route.js';

export type ServicePortStats = RouteCounters & { key: string };

export type UserspaceStats = {
  servicePorts: ServicePortStats[];
  /** Sums over servicePorts. */
  activeConnections: number;
  activeFlows: number;
  /** Sockets listening now. */
  listeners: number;
  /** Sockets wanted but not bound (address not local, port in use): retried on each sync. */
  pendingListeners: number;
  /** Closed listeners whose TCP connections are still finishing. */
  drainingListeners: number;
  /** Successful binds since start: stays put when a sync changes only endpoints. */
  listenerBinds: number;
  syncs: number;
  /** Wall time of the last sync, in milliseconds. */
  lastSyncMs: number;
};

export function statsOf(routes: Iterable<Route>, rest: Omit<UserspaceStats, 'servicePorts' | 'activeConnections' | 'activeFlows'>): UserspaceStats {
  const servicePorts: ServicePortStats[] = [];
  let activeConnections = 0;
  let activeFlows = 0;
  for (const route of routes) {
    servicePorts.push({ key: route.key, ...route.counters });
    activeConnections += route.counters.activeConnections;
    activeFlows += route.counters.activeFlows;
  }
  return { servicePorts, activeConnections, activeFlows, ...rest };
}
