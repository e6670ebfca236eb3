/**
 * Names of the backend's chains. Per service port and per endpoint chains carry a
 * stable hash of the service port key (and of the endpoint), as kube-proxy's do:
 * the same port keeps the same chain across syncs and restarts, and a name alone
 * tells whether the backend made it. Only names of exactly these shapes, for this
 * prefix, are ever flushed or deleted; `KEELSON-MINE` made by hand is left alone.
 */
import { createHash } from 'node:crypto';

/** iptables chain names are at most 28 characters (XT_EXTENSION_MAXNAMELEN less the NUL). */
export const MAX_CHAIN_NAME = 28;
/** Leaves at least 11 base32 characters (55 bits) of hash in `PREFIX-SVC-<hash>`. */
export const MAX_PREFIX = 12;
export const DEFAULT_PREFIX = 'KEELSON';

const PREFIX_SHAPE = /^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export type ChainNames = {
  prefix: string;
  /** nat: cluster IP portals, then the node port jump; filter: rejects for cluster IPs and the service CIDR. */
  services: string;
  /** nat: node port portals; filter: rejects for node ports with no endpoints. */
  nodePorts: string;
  /** nat: MASQUERADE of marked packets. */
  postrouting: string;
  /** nat: sets the masquerade mark. */
  markMasq: string;
  /** nat: the chain balancing one service port over its endpoints. */
  service(key: string): string;
  /** nat: the chain DNATting to one endpoint of one service port. */
  endpoint(key: string, ip: string, port: number): string;
  /** True only for names this backend creates with this prefix. */
  owns(name: string): boolean;
};

/** Throws on a prefix iptables would refuse or that leaves too short a hash (a configuration error). */
export function checkPrefix(prefix: string): void {
  if (!PREFIX_SHAPE.test(prefix) || prefix.length > MAX_PREFIX) {
    throw new Error(`iptables chain prefix "${prefix}" must be upper-case letters, digits and inner dashes, at most ${MAX_PREFIX} characters (e.g. KEELSON)`);
  }
}

export function chainNames(prefix: string = DEFAULT_PREFIX): ChainNames {
  checkPrefix(prefix);
  const hashLength = MAX_CHAIN_NAME - prefix.length - '-SVC-'.length;
  const fixed = new Set(['SERVICES', 'NODEPORTS', 'POSTROUTING', 'MARK-MASQ'].map((s) => `${prefix}-${s}`));
  const hashed = new RegExp(`^${prefix}-(?:SVC|SEP)-[A-Z2-7]{${hashLength}}$`);
  const hash = (text: string) => base32(createHash('sha256').update(text).digest()).slice(0, hashLength);
  return {
    prefix,
    services: `${prefix}-SERVICES`,
    nodePorts: `${prefix}-NODEPORTS`,
    postrouting: `${prefix}-POSTROUTING`,
    markMasq: `${prefix}-MARK-MASQ`,
    service: (key) => `${prefix}-SVC-${hash(key)}`,
    endpoint: (key, ip, port) => `${prefix}-SEP-${hash(`${key}|${ip}:${port}`)}`,
    owns: (name) => fixed.has(name) || hashed.test(name),
  };
}

/** RFC 4648 base32 without padding: upper-case letters and 2-7, all valid in chain names. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffered = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffered = (buffered << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffered >>> bits) & 31];
    }
    buffered &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffered << (5 - bits)) & 31];
  return out;
}
