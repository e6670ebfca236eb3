/**
 * What the listeners of one service port share while it exists: its current
 * ServicePort, its balancer and its counters. Listeners hold the route itself,
 * so an endpoint change is one in-place update, seen by the next connection.
 */
import type { ServicePort } from '../types.js';
import { Balancer } from './balancer.js';

/** Per service port counters, for metrics. */
export type RouteCounters = {
  /** TCP connections accepted, or UDP flows started. */
  accepted: number;
  /** Of those, the ones no endpoint could take (none ready, or every connect failed); for UDP, each datagram dropped for want of an endpoint. */
  failed: number;
  /** TCP client connections open now. */
  activeConnections: number;
  /** UDP flows open now. */
  activeFlows: number;
};

export class Route {
  readonly balancer: Balancer;
  readonly counters: RouteCounters = { accepted: 0, failed: 0, activeConnections: 0, activeFlows: 0 };
  private current: ServicePort;

  constructor(port: ServicePort) {
    this.current = copyOf(port);
    this.balancer = new Balancer(port.endpoints, port.sessionAffinity);
  }

  /** The service port as last synced (a copy: the caller may reuse or change its objects). */
  get port(): ServicePort {
    return this.current;
  }

  get key(): string {
    return this.current.key;
  }

  /**
   * Takes a newer version of the same service port. Returns whether the addresses
   * it listens on changed (then the caller reopens its listeners); endpoint or
   * affinity changes go straight to the balancer. Unchanged: no allocation.
   * `changed`: anything forwarding depends on changed.
   */
  update(port: ServicePort): { changed: boolean; addressesChanged: boolean } {
    const old = this.current;
    const endpointsChanged = !sameEndpoints(old, port) || !sameAffinity(old, port);
    const addressesChanged = !sameAddresses(old, port);
    if (endpointsChanged || addressesChanged) this.current = copyOf(port);
    if (endpointsChanged) this.balancer.update(port.endpoints, port.sessionAffinity);
    return { changed: endpointsChanged || addressesChanged, addressesChanged };
  }
}

function copyOf(port: ServicePort): ServicePort {
  return { ...port, sessionAffinity: { ...port.sessionAffinity }, endpoints: port.endpoints.map((e) => ({ ...e })) };
}

function sameAddresses(a: ServicePort, b: ServicePort): boolean {
  return a.protocol === b.protocol && a.clusterIP === b.clusterIP && a.port === b.port && a.nodePort === b.nodePort;
}

function sameAffinity(a: ServicePort, b: ServicePort): boolean {
  const x = a.sessionAffinity;
  const y = b.sessionAffinity;
  return x.type === y.type && (x.type === 'None' || x.timeoutSeconds === (y as typeof x).timeoutSeconds);
}

function sameEndpoints(a: ServicePort, b: ServicePort): boolean {
  if (a.endpoints === b.endpoints) return true;
  if (a.endpoints.length !== b.endpoints.length) return false;
  return a.endpoints.every((e, i) => e.ip === b.endpoints[i]!.ip && e.port === b.endpoints[i]!.port);
}
