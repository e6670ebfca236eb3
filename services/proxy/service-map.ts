/**
 * Services and their Endpoints → the service ports a node forwards, pure, as
 * kube-proxy's service and endpoints change trackers resolve them: one entry
 * per port of every Service that has a cluster IP (headless and ExternalName
 * ones get no forwarding), with the ready addresses of the Endpoints port of
 * the same name and protocol. Sorted by key, endpoints by ip then port, so that
 * the same cluster always maps to the same list.
 */
import type { KObject } from '../lib/api/resources.js';
import type { Endpoint, Protocol, ServicePort, SessionAffinity } from './types.js';

type SvcPort = { name?: string; protocol?: string; port?: number; nodePort?: number };
type SvcSpec = {
  type?: string;
  clusterIP?: string;
  ports?: SvcPort[];
  sessionAffinity?: string;
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
};
type EpPort = { name?: string; port?: number; protocol?: string };
type EpAddress = { ip?: string; nodeName?: string };
type EpSubset = { addresses?: EpAddress[]; ports?: EpPort[] };

/** Kubernetes' default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_S = 10_800;

export function servicePortKey(namespace: string, name: string, portName: string, protocol: string): string {
  return `${namespace}/${name}:${portName}/${protocol}`;
}

const keyOf = (o: KObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export function buildServiceMap(services: KObject[], endpoints: KObject[]): ServicePort[] {
  const byService = new Map(endpoints.map((e) => [keyOf(e), e]));
  const out: ServicePort[] = [];
  for (const svc of services) {
    const spec = (svc.spec ?? {}) as SvcSpec;
    const clusterIP = spec.clusterIP;
    if (spec.type === 'ExternalName' || !clusterIP || clusterIP === 'None') continue;
    const namespace = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const affinity = sessionAffinity(spec);
    const subsets = ((byService.get(keyOf(svc))?.subsets ?? []) as EpSubset[]).filter(Boolean);
    for (const p of spec.ports ?? []) {
      const protocol = p.protocol === 'UDP' ? 'UDP' : p.protocol === undefined || p.protocol === 'TCP' ? 'TCP' : undefined;
      if (!protocol || !p.port) continue; // SCTP is not forwarded
      const portName = p.name ?? '';
      out.push({
        key: servicePortKey(namespace, name, portName, protocol),
        namespace,
        name,
        portName,
        protocol,
        clusterIP,
        port: p.port,
        ...(p.nodePort && (spec.type === 'NodePort' || spec.type === 'LoadBalancer') ? { nodePort: p.nodePort } : {}),
        sessionAffinity: affinity,
        endpoints: readyEndpoints(subsets, portName, protocol),
      });
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function sessionAffinity(spec: SvcSpec): SessionAffinity {
  if (spec.sessionAffinity !== 'ClientIP') return { type: 'None' };
  const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  return { type: 'ClientIP', timeoutSeconds: typeof t === 'number' && t > 0 ? t : DEFAULT_AFFINITY_TIMEOUT_S };
}

/** The ready addresses of every subset whose port of this name and protocol exists, deduplicated. */
function readyEndpoints(subsets: EpSubset[], portName: string, protocol: Protocol): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const s of subsets) {
    const port = (s.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
    if (!port?.port) continue;
    for (const a of s.addresses ?? []) {
      if (!a.ip) continue;
      seen.set(`${a.ip}:${port.port}`, { ip: a.ip, port: port.port, ...(a.nodeName ? { nodeName: a.nodeName } : {}) });
    }
  }
  return [...seen.values()].sort((a, b) => compareIP(a.ip, b.ip) || a.port - b.port);
}

function compareIP(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return a < b ? -1 : a > b ? 1 : 0;
}
