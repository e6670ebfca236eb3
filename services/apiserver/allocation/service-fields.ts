/**
 * What a Service holds of the two ranges, read from its spec, and Kubernetes'
 * rules for carrying allocated values through an update: a value the client
 * left out is kept (`patchAllocatedValues`), and a value the new type no
 * longer needs is dropped when the client did not touch it
 * (`dropTypeDependentFields`). Pure functions over the object.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KObject } from '../../lib/api/resources.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const specOf = (svc: KObject): Obj => (isObj(svc.spec) ? svc.spec : {});
const portsOf = (spec: Obj): Obj[] => (Array.isArray(spec.ports) ? spec.ports.filter(isObj) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A node port of one port entry: `index` is its place in spec.ports (for error fields). */
export type NodePortUse = { index: number; protocol: string; port: number };

/** Every Service type but ExternalName has a cluster IP (`None` counts as one). */
export function needsClusterIP(svc: KObject): boolean {
  return str(specOf(svc).type || 'ClusterIP') !== 'ExternalName';
}

/** NodePort services, and LoadBalancers unless allocateLoadBalancerNodePorts is false. */
export function needsNodePorts(svc: KObject): boolean {
  const spec = specOf(svc);
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** The cluster IP the Service holds in the range's terms: none for headless and ExternalName. */
export function clusterIPOf(svc: KObject): string | undefined {
  if (!needsClusterIP(svc)) return undefined;
  const ip = str(specOf(svc).clusterIP);
  return ip && ip !== 'None' ? ip : undefined;
}

/** The node ports the Service names (nodePort > 0), one per port entry. */
export function nodePortsOf(svc: KObject): NodePortUse[] {
  const out: NodePortUse[] = [];
  portsOf(specOf(svc)).forEach((p, index) => {
    const port = typeof p.nodePort === 'number' ? p.nodePort : 0;
    if (port > 0) out.push({ index, protocol: str(p.protocol) || 'TCP', port });
  });
  return out;
}

/** Indexes of the port entries that still need a node port picked. */
export function portsWanting(svc: KObject): number[] {
  if (!needsNodePorts(svc)) return [];
  const out: number[] = [];
  portsOf(specOf(svc)).forEach((p, i) => {
    if (!(typeof p.nodePort === 'number' && p.nodePort > 0)) out.push(i);
  });
  return out;
}

/** Sets the picked values on the Service: clusterIP with clusterIPs, and node ports by index. */
export function setClusterIP(svc: KObject, ip: string): void {
  const spec = specOf(svc);
  spec.clusterIP = ip;
  spec.clusterIPs = [ip];
  svc.spec = spec;
}

export function setNodePort(svc: KObject, index: number, port: number): void {
  const p = portsOf(specOf(svc))[index];
  if (p) p.nodePort = port;
}

const nodePortList = (spec: Obj) => portsOf(spec).map((p) => (typeof p.nodePort === 'number' ? p.nodePort : 0));

/**
 * Before an update is validated: fields the new type does not need, and that
 * the client sent back unchanged, are cleared — so `kubectl patch` of the type
 * alone turns a NodePort into a ClusterIP (releasing its node ports) or a
 * ClusterIP into an ExternalName (releasing its IP).
 */
export function dropTypeDependentFields(next: KObject, old: KObject): void {
  const spec = specOf(next);
  const prev = specOf(old);
  const same = (k: string) => isDeepStrictEqual(spec[k], prev[k]);
  if (!needsClusterIP(next) && same('clusterIP') && same('clusterIPs')) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    if (same('ipFamilies')) delete spec.ipFamilies;
    if (same('ipFamilyPolicy')) delete spec.ipFamilyPolicy;
    if (same('internalTrafficPolicy')) delete spec.internalTrafficPolicy;
  }
  if (!needsNodePorts(next) && isDeepStrictEqual(nodePortList(spec), nodePortList(prev))) {
    for (const p of portsOf(spec)) delete p.nodePort;
  }
  const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (!external && same('externalTrafficPolicy')) delete spec.externalTrafficPolicy;
  if (spec.type !== 'LoadBalancer' && same('allocateLoadBalancerNodePorts')) delete spec.allocateLoadBalancerNodePorts;
}

/**
 * Values an update left out are the stored ones: an empty cluster IP keeps the
 * old one, and a port without a node port keeps the node port of the old port
 * of the same name, unless another port of the new spec now uses it.
 */
export function patchAllocatedValues(next: KObject, old: KObject): void {
  const spec = specOf(next);
  const prev = specOf(old);
  if (needsClusterIP(old) && needsClusterIP(next)) {
    if (!str(spec.clusterIP) && str(prev.clusterIP)) spec.clusterIP = prev.clusterIP;
    const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    if (ips.length === 0 && Array.isArray(prev.clusterIPs) && prev.clusterIPs.length) spec.clusterIPs = [...prev.clusterIPs];
  }
  if (needsNodePorts(old) && needsNodePorts(next)) {
    const oldUsed = new Set(nodePortList(prev).filter((n) => n > 0));
    const used = new Set(nodePortList(spec).filter((n) => oldUsed.has(n)));
    const byName = new Map(portsOf(prev).map((p) => [str(p.name), typeof p.nodePort === 'number' ? p.nodePort : 0]));
    for (const p of portsOf(spec)) {
      if (typeof p.nodePort === 'number' && p.nodePort > 0) continue;
      const kept = byName.get(str(p.name));
      if (kept && !used.has(kept)) {
        p.nodePort = kept;
        used.add(kept);
      }
    }
  }
}

/** Both rules, in Kubernetes' order, for the main resource's update. */
export function prepareServiceUpdate(next: KObject, old: KObject): void {
  dropTypeDependentFields(next, old);
  patchAllocatedValues(next, old);
}
