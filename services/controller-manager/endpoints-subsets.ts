/**
 * The Endpoints of a Service, pure, as Kubernetes' endpoints controller computes
 * them: every pod the selector picks that has an IP and is not terminating or
 * finished, ready ones under `addresses` and the others under
 * `notReadyAddresses`; each service port resolved against the pod (a named
 * targetPort through the pod's container ports, as podutil.FindPort does); pods
 * with the same resolved ports share one subset. Sorted, so that the same cluster
 * always gives the same object and an unchanged one is not written again.
 */
import type { KObject } from '../lib/api/resources.js';

export type EndpointPort = { name?: string; port: number; protocol: string; appProtocol?: string };
export type EndpointAddress = {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
};
export type EndpointSubset = { addresses?: EndpointAddress[]; notReadyAddresses?: EndpointAddress[]; ports?: EndpointPort[] };

type ServicePort = { name?: string; protocol?: string; port?: number; targetPort?: number | string; appProtocol?: string };
type ServiceSpec = { selector?: Record<string, string>; ports?: ServicePort[]; clusterIP?: string; publishNotReadyAddresses?: boolean };
type ContainerPort = { name?: string; containerPort?: number; protocol?: string };
type PodSpec = { containers?: { ports?: ContainerPort[] }[]; nodeName?: string; hostname?: string; subdomain?: string };
type PodStatus = { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };

/** The service's selector, or undefined when it has none (its Endpoints are the user's). */
export function serviceSelector(svc: KObject): Record<string, string> | undefined {
  const selector = (svc.spec as ServiceSpec | undefined)?.selector;
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

export function selects(selector: Record<string, string>, pod: KObject): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Whether the pod belongs in Endpoints at all (Kubernetes' ShouldPodBeInEndpoints, IP included). */
export function inEndpoints(pod: KObject): boolean {
  const status = (pod.status ?? {}) as PodStatus;
  if (!status.podIP || pod.metadata?.deletionTimestamp) return false;
  return status.phase !== 'Succeeded' && status.phase !== 'Failed';
}

export function podReady(pod: KObject): boolean {
  return ((pod.status as PodStatus | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The pod's port for a service port: the number, or the named container port of the same protocol. */
export function resolveTargetPort(pod: KObject, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target > 0 ? target : undefined;
  if (typeof target !== 'string' || target === '') return undefined;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = port.protocol || 'TCP';
  for (const c of (pod.spec as PodSpec | undefined)?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol || 'TCP') === protocol && p.containerPort) return p.containerPort;
    }
  }
  return undefined;
}

/** What one pod contributes: its address, whether it is ready, and its resolved ports. */
function podEntry(svc: KObject, pod: KObject): { address: EndpointAddress; ready: boolean; ports: EndpointPort[] } {
  const spec = (svc.spec ?? {}) as ServiceSpec;
  const podSpec = (pod.spec ?? {}) as PodSpec;
  const meta = pod.metadata!;
  const address: EndpointAddress = {
    ip: (pod.status as PodStatus).podIP!,
    targetRef: { kind: 'Pod', namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid ?? '' },
  };
  // A headless service publishes hostnames of the pods that name it as their subdomain.
  if (spec.clusterIP === 'None' && podSpec.hostname && podSpec.subdomain === svc.metadata?.name) address.hostname = podSpec.hostname;
  if (podSpec.nodeName) address.nodeName = podSpec.nodeName;
  const ports: EndpointPort[] = [];
  for (const sp of spec.ports ?? []) {
    const port = resolveTargetPort(pod, sp);
    if (port === undefined) continue; // no such named port on this pod: it serves the others
    ports.push({
      ...(sp.name ? { name: sp.name } : {}),
      port,
      protocol: sp.protocol || 'TCP',
      ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
    });
  }
  ports.sort((a, b) => cmp(a.name ?? '', b.name ?? '') || a.port - b.port || cmp(a.protocol, b.protocol));
  return { address, ready: spec.publishNotReadyAddresses === true || podReady(pod), ports };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byAddress = (a: EndpointAddress, b: EndpointAddress) => cmp(a.ip, b.ip) || cmp(a.targetRef.uid, b.targetRef.uid);

/** The subsets for a service with a selector, over the pods of its namespace. */
export function endpointSubsets(svc: KObject, pods: KObject[]): EndpointSubset[] {
  const selector = serviceSelector(svc);
  if (!selector) return [];
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!selects(selector, pod) || !inEndpoints(pod)) continue;
    const e = podEntry(svc, pod);
    // A pod that serves none of the service's ports is not an endpoint of it.
    if (e.ports.length === 0 && ((svc.spec as ServiceSpec).ports ?? []).length > 0) continue;
    const key = JSON.stringify(e.ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports: e.ports, ready: [], notReady: [] }));
    (e.ready ? g.ready : g.notReady).push(e.address);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([, g]) => ({
      ...(g.ready.length ? { addresses: g.ready.sort(byAddress) } : {}),
      ...(g.notReady.length ? { notReadyAddresses: g.notReady.sort(byAddress) } : {}),
      ...(g.ports.length ? { ports: g.ports } : {}),
    }));
}

/** The fields of a pod that Endpoints depend on: a pod change that leaves them alone needs no sync. */
export function endpointsView(pod: KObject | undefined): string {
  if (!pod) return '';
  const spec = (pod.spec ?? {}) as PodSpec;
  const status = (pod.status ?? {}) as PodStatus;
  return JSON.stringify([
    pod.metadata?.labels ?? {},
    !!pod.metadata?.deletionTimestamp,
    status.podIP ?? '',
    status.phase ?? '',
    podReady(pod),
    spec.nodeName ?? '',
    spec.hostname ?? '',
    spec.subdomain ?? '',
    (spec.containers ?? []).map((c) => c.ports ?? []),
  ]);
}
