/**
 * The two ranges Services draw from: the cluster IP range, an IPv4 CIDR
 * (`--service-cluster-ip-range`, 10.96.0.0/16 by default), and the node port
 * range (`--service-node-port-range`, 30000-32767). Both are seen as a run of
 * offsets 0..size-1, which is what the picker and the bucket keys work with.
 */

import type { PortRange } from '../registry/validation/index.js';

export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';

/** A range that cannot be used, with what is wrong and what to pass instead. */
export class InvalidRangeError extends Error {
  override name = 'InvalidRangeError';
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** `a.b.c.d` as an unsigned 32-bit number; undefined when it is not a dotted quad. */
export function ipToNumber(ip: string): number | undefined {
  if (!IPV4.test(ip)) return undefined;
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function numberToIP(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * The addresses of an IPv4 CIDR that Services may get: all but the network and
 * broadcast addresses (as in Kubernetes), offset 0 being the first usable one —
 * the `kubernetes` Service's.
 */
export class ServiceIPRange {
  private constructor(
    /** The CIDR as given, normalised to its network address (`10.96.0.0/16`). */
    readonly cidr: string,
    /** The first usable address as a number. */
    private readonly first: number,
    /** How many addresses may be handed out. */
    readonly size: number,
  ) {}

  /**
   * Parses `10.96.0.0/16`. Host bits are dropped, as Kubernetes does; the
   * prefix must lie in 12..30 (at most 2^20 addresses, at least two usable).
   */
  static parse(cidr: string): ServiceIPRange {
    const [ip, bits, ...rest] = cidr.trim().split('/');
    const prefix = Number(bits);
    const addr = ipToNumber(ip ?? '');
    if (addr === undefined || rest.length || !/^\d{1,2}$/.test(bits ?? '')) {
      throw new InvalidRangeError(`the service cluster IP range "${cidr}" is not an IPv4 CIDR such as ${DEFAULT_SERVICE_CLUSTER_IP_RANGE}`);
    }
    if (prefix < 12 || prefix > 30) {
      throw new InvalidRangeError(`the service cluster IP range "${cidr}" must have a prefix between /12 and /30 (e.g. ${DEFAULT_SERVICE_CLUSTER_IP_RANGE})`);
    }
    const block = 2 ** (32 - prefix);
    const network = addr - (addr % block);
    return new ServiceIPRange(`${numberToIP(network)}/${prefix}`, network + 1, block - 2);
  }

  /** The offset of `ip` in the range; undefined when it is not a usable address of it. */
  offsetOf(ip: string): number | undefined {
    const n = ipToNumber(ip);
    if (n === undefined) return undefined;
    const offset = n - this.first;
    return offset >= 0 && offset < this.size ? offset : undefined;
  }

  ipAt(offset: number): string {
    return numberToIP(this.first + offset);
  }

  /** The address the `kubernetes` Service holds (10.96.0.1 for 10.96.0.0/16). */
  get firstIP(): string {
    return this.ipAt(0);
  }

  contains(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }
}

/** Parses `30000-32767` (or a single port); ports must lie in 1..65535. */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  const min = Number(m?.[1]);
  const max = m?.[2] === undefined ? min : Number(m[2]);
  if (!m || min < 1 || max > 65535 || min > max) {
    throw new InvalidRangeError(`the service node port range "${text}" is not a range of ports such as 30000-32767`);
  }
  return { min, max };
}

export function portRangeText(r: PortRange): string {
  return `${r.min}-${r.max}`;
}
