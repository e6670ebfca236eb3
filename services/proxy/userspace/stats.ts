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
  /** Forwarder processes running (0 when the backend forwards alone). */
  forwarders: number;
  /** Of all TCP connections accepted, those the forwarders accepted (as they last reported). */
  forwardersAccepted: number;
};

/** `elsewhere`: what other processes counted for a service port (forwarders, as they last reported), added in. */
export function statsOf(
  routes: Iterable<Route>,
  elsewhere: (key: string) => Partial<RouteCounters> | undefined,
  rest: Omit<UserspaceStats, 'servicePorts' | 'activeConnections' | 'activeFlows' | 'forwardersAccepted'>,
): UserspaceStats {
  const servicePorts: ServicePortStats[] = [];
  let activeConnections = 0;
  let activeFlows = 0;
  let forwardersAccepted = 0;
  for (const route of routes) {
    const c = { key: route.key, ...route.counters };
    const more = elsewhere(route.key);
    if (more) {
      forwardersAccepted += more.accepted ?? 0;
      c.accepted += more.accepted ?? 0;
      c.failed += more.failed ?? 0;
      c.activeConnections += more.activeConnections ?? 0;
    }
    servicePorts.push(c);
    activeConnections += c.activeConnections;
    activeFlows += c.activeFlows;
  }
  return { servicePorts, activeConnections, activeFlows, forwardersAccepted, ...rest };
}
