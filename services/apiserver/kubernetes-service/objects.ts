/**
 * The `default/kubernetes` Service and its Endpoints as Kubernetes shows them:
 * a ClusterIP Service on the first address of the service range, port 443
 * named `https` to the API servers' port, no selector (so the endpoints
 * controller leaves its Endpoints alone), and Endpoints listing every live API
 * server. Pure builders and comparisons.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KObject } from '../../lib/api/resources.js';
import type { ApiServerRecord } from './apiservers.bucket.js';

export const KUBERNETES_NAMESPACE = 'default';
export const KUBERNETES_SERVICE = 'kubernetes';
const PORT_NAME = 'https';

type Port = { name: string; port: number; protocol: string; targetPort: number };

function desiredPorts(targetPort: number): Port[] {
  return [{ name: PORT_NAME, port: 443, protocol: 'TCP', targetPort }];
}

export function kubernetesService(clusterIP: string, targetPort: number): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: KUBERNETES_SERVICE, namespace: KUBERNETES_NAMESPACE, labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: desiredPorts(targetPort), sessionAffinity: 'None' },
  };
}

/**
 * The Service with its ports pointed at `targetPort`, or undefined when they
 * need no change: they already say so, or they point at the port of another
 * live API server (several API servers on different ports would otherwise
 * take turns rewriting it).
 */
export function servicePortsUpdate(svc: KObject, targetPort: number, live: ApiServerRecord[]): KObject | undefined {
  const spec = (svc.spec ?? {}) as { ports?: Partial<Port>[] };
  const ports = spec.ports ?? [];
  const current = ports.length === 1 ? ports[0]! : undefined;
  const wellFormed = current?.name === PORT_NAME && current.port === 443 && (current.protocol ?? 'TCP') === 'TCP';
  if (wellFormed && (current.targetPort === targetPort || live.some((r) => r.port === current.targetPort))) return undefined;
  return { ...svc, spec: { ...spec, ports: desiredPorts(targetPort) } };
}

/** One subset per API server port (normally one), addresses sorted. */
export function endpointSubsets(live: ApiServerRecord[]): KObject[] {
  const byPort = new Map<number, Set<string>>();
  for (const r of live) {
    if (!byPort.has(r.port)) byPort.set(r.port, new Set());
    byPort.get(r.port)!.add(r.address);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, addresses]) => ({
      addresses: [...addresses].sort().map((ip) => ({ ip })),
      ports: [{ name: PORT_NAME, port, protocol: 'TCP' }],
    }));
}

export function kubernetesEndpoints(live: ApiServerRecord[]): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: KUBERNETES_SERVICE, namespace: KUBERNETES_NAMESPACE },
    subsets: endpointSubsets(live),
  };
}

export function sameSubsets(endpoints: KObject | undefined, live: ApiServerRecord[]): boolean {
  return isDeepStrictEqual((endpoints?.subsets as unknown[] | undefined) ?? [], endpointSubsets(live));
}
