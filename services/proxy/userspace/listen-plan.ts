/**
 * Which sockets a service port needs, as plain values: clusterIP:port when the
 * backend listens on cluster IPs, bindAddress:nodePort for node ports. The key
 * names one socket, so two service ports asking for the same one can be told.
 */
import { isIP } from 'node:net';
import type { Protocol, ServicePort } from '../types.js';

/** One socket to open, and the service port whose traffic it carries. */
export type ListenSpec = {
  /** `TCP/10.0.0.1:80`, `UDP/[::1]:53`: unique per socket. */
  key: string;
  protocol: Protocol;
  address: string;
  port: number;
  serviceKey: string;
  /** What it is for, in log lines: `cluster IP` or `node port`. */
  kind: 'cluster IP' | 'node port';
};

export type ListenPlanOptions = { bindAddress: string; clusterIPs: boolean };

export function listenKey(protocol: Protocol, address: string, port: number): string {
  return address.includes(':') ? `${protocol}/[${address}]:${port}` : `${protocol}/${address}:${port}`;
}

/** The sockets `sp` needs; none for a headless service without a node port. */
export function listenSpecs(sp: ServicePort, options: ListenPlanOptions): ListenSpec[] {
  const specs: ListenSpec[] = [];
  const add = (address: string, port: number, kind: ListenSpec['kind']) =>
    specs.push({ key: listenKey(sp.protocol, address, port), protocol: sp.protocol, address, port, serviceKey: sp.key, kind });
  if (options.clusterIPs && sp.clusterIP && isIP(sp.clusterIP) !== 0 && validPort(sp.port)) add(sp.clusterIP, sp.port, 'cluster IP');
  if (sp.nodePort !== undefined && validPort(sp.nodePort)) add(options.bindAddress, sp.nodePort, 'node port');
  return specs;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}
