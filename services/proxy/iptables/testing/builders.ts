/** Small builders for the iptables backend's tests: service ports without the boilerplate. */
import type { ServicePort } from '../../types.js';

export type PortOverrides = Partial<Omit<ServicePort, 'endpoints'>> & { endpoints?: (string | { ip: string; port: number })[] };

/**
 * A TCP cluster IP service port `default/NAME:http/TCP` on port 80; endpoints as
 * `ip` (port 8080) or `{ ip, port }`.
 */
export function servicePort(name: string, clusterIP: string, overrides: PortOverrides = {}): ServicePort {
  const { endpoints = [], ...rest } = overrides;
  const protocol = rest.protocol ?? 'TCP';
  const portName = rest.portName ?? 'http';
  return {
    key: `default/${name}:${portName}/${protocol}`,
    namespace: 'default',
    name,
    portName,
    protocol,
    clusterIP,
    port: 80,
    sessionAffinity: { type: 'None' },
    ...rest,
    endpoints: endpoints.map((e) => (typeof e === 'string' ? { ip: e, port: 8080 } : e)),
  };
}

/** `count` service ports with `perPort` endpoints each, cluster IPs from 10.96.100.0 on. */
export function manyPorts(count: number, perPort: number, endpointIPs: string[]): ServicePort[] {
  return Array.from({ length: count }, (_, i) =>
    servicePort(`svc-${i}`, `10.96.${100 + Math.floor(i / 250)}.${i % 250}`, {
      endpoints: Array.from({ length: perPort }, (_, j) => ({ ip: endpointIPs[(i + j) % endpointIPs.length]!, port: 8080 })),
    }),
  );
}
