/**
 * The address this API server puts into the `default/kubernetes` Endpoints:
 * `--advertise-address` when given; else the address it binds, when that is
 * one address (not 0.0.0.0); else the host's first non-internal IPv4; else
 * 127.0.0.1 — the order Kubernetes' API server follows.
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';

export function defaultAdvertiseAddress(bindHost?: string, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  if (bindHost && isIPv4(bindHost) && bindHost !== '0.0.0.0') return bindHost;
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
