/**
 * The front door's service ports, checked and normalised for rules: one bad port
 * or endpoint is left out with a note (the backend logs it) instead of failing the
 * whole restore, which would leave every other service unprogrammed. Headless
 * ports (no cluster IP) get no forwarding and no note.
 */
import type { ServicePort } from '../types.js';
import { isIPv4, isPort } from './ipv4.js';

/** Kubernetes' default and maximum ClientIP affinity timeouts, seconds. */
export const DEFAULT_AFFINITY_SECONDS = 10_800;
export const MAX_AFFINITY_SECONDS = 86_400;

/** One service port as the rules need it. */
export type PlannedPort = {
  key: string;
  /** `tcp` or `udp`, as iptables spells them. */
  proto: 'tcp' | 'udp';
  clusterIP: string;
  port: number;
  nodePort?: number;
  /** Set for ClientIP session affinity. */
  affinitySeconds?: number;
  /** Valid IPv4 endpoints, duplicates removed, in the front door's order. */
  endpoints: { ip: string; port: number }[];
};

export type PortPlan = { ports: PlannedPort[]; notes: string[] };

export function planPorts(input: readonly ServicePort[]): PortPlan {
  const notes: string[] = [];
  const ports: PlannedPort[] = [];
  const keys = new Set<string>();
  const portals = new Set<string>();
  const nodePorts = new Set<string>();
  for (const sp of input) {
    const where = `service port ${sp.key}`;
    if (!sp.clusterIP || sp.clusterIP === 'None') continue;
    if (keys.has(sp.key)) {
      notes.push(`${where} appears twice; only the first is programmed`);
      continue;
    }
    keys.add(sp.key);
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') {
      notes.push(`${where}: protocol ${String(sp.protocol)} is not supported by the iptables backend; skipped`);
      continue;
    }
    if (!isIPv4(sp.clusterIP)) {
      notes.push(`${where}: cluster IP ${sp.clusterIP} is not IPv4 (ip6tables is not supported); skipped`);
      continue;
    }
    if (!isPort(sp.port)) {
      notes.push(`${where}: port ${sp.port} is out of range; skipped`);
      continue;
    }
    const proto = sp.protocol === 'TCP' ? 'tcp' : 'udp';
    const portal = `${sp.clusterIP}:${sp.port}/${proto}`;
    if (portals.has(portal)) {
      notes.push(`${where}: ${portal} already belongs to another service port; skipped`);
      continue;
    }
    portals.add(portal);
    const planned: PlannedPort = { key: sp.key, proto, clusterIP: sp.clusterIP, port: sp.port, endpoints: endpointsOf(sp, where, notes) };
    const nodePort = nodePortOf(sp, proto, nodePorts, where, notes);
    if (nodePort !== undefined) planned.nodePort = nodePort;
    if (sp.sessionAffinity.type === 'ClientIP') planned.affinitySeconds = affinitySeconds(sp.sessionAffinity.timeoutSeconds, where, notes);
    ports.push(planned);
  }
  return { ports, notes };
}

function endpointsOf(sp: ServicePort, where: string, notes: string[]): PlannedPort['endpoints'] {
  const seen = new Set<string>();
  const out: PlannedPort['endpoints'] = [];
  for (const ep of sp.endpoints) {
    const id = `${ep.ip}:${ep.port}`;
    if (!isIPv4(ep.ip) || !isPort(ep.port)) {
      notes.push(`${where}: endpoint ${id} is not an IPv4 address and port; left out`);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ ip: ep.ip, port: ep.port });
  }
  return out;
}

function nodePortOf(sp: ServicePort, proto: string, taken: Set<string>, where: string, notes: string[]): number | undefined {
  if (sp.nodePort === undefined || sp.nodePort === 0) return undefined;
  if (!isPort(sp.nodePort)) {
    notes.push(`${where}: node port ${sp.nodePort} is out of range; cluster IP only`);
    return undefined;
  }
  const id = `${sp.nodePort}/${proto}`;
  if (taken.has(id)) {
    notes.push(`${where}: node port ${id} already belongs to another service port; cluster IP only`);
    return undefined;
  }
  taken.add(id);
  return sp.nodePort;
}

function affinitySeconds(timeout: number, where: string, notes: string[]): number {
  if (Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_AFFINITY_SECONDS) return timeout;
  notes.push(`${where}: ClientIP affinity timeout ${timeout} is not 1..${MAX_AFFINITY_SECONDS} s; using ${DEFAULT_AFFINITY_SECONDS}`);
  return DEFAULT_AFFINITY_SECONDS;
}
