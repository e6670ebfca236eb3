/**
 * The iptables backend's options: what shapes the rules (`RuleOptions`, all the
 * pure generator needs) and how and where they are applied (binary family, command
 * runner, resync). Defaults follow kube-proxy's where it has one.
 */
import { checkPrefix, DEFAULT_PREFIX } from './chain-names.js';
import { isIPv4CIDR } from './ipv4.js';
import type { CommandRunner } from './runner.js';

/** Which iptables binaries: `iptables` is the system's choice (nft on Debian 12). */
export type IptablesFamily = 'iptables' | 'iptables-nft' | 'iptables-legacy';

export type RuleOptions = {
  /** Chain name prefix, default `KEELSON`. */
  prefix: string;
  /** Traffic to this CIDR that matches no service port is rejected; null turns that off. Default 10.96.0.0/16. */
  serviceCIDR: string | null;
  /** The pod network: traffic to a cluster IP from outside it is masqueraded (kube-proxy's --cluster-cidr). */
  clusterCIDR: string | null;
  /** Masquerade all service traffic (kube-proxy's --masquerade-all). */
  masqueradeAll: boolean;
  /** The fwmark bit that asks for masquerading, 0..31; default 14 (0x4000), as kube-proxy's. */
  masqueradeBit: number;
};

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

export type IptablesOptions = Partial<RuleOptions> & {
  family?: IptablesFamily;
  /** Runs iptables-save / iptables-restore; default: on this host (see `netnsRunner`). */
  run?: CommandRunner;
  /**
   * Re-applies the last service ports this long after a successful sync, so that
   * rules removed by someone else come back (kube-proxy's sync period); 0 turns it off.
   * Default 30 s.
   */
  resyncMs?: number;
  /** Retries a sync that iptables refused this long after, unless a newer sync came. Default 5 s. */
  retryMs?: number;
  log?: (message: string) => void;
};

/** Complete, checked rule options; throws on a configuration iptables would refuse. */
export function ruleOptions(options: Partial<RuleOptions> = {}): RuleOptions {
  const out: RuleOptions = {
    prefix: options.prefix ?? DEFAULT_PREFIX,
    serviceCIDR: options.serviceCIDR === undefined ? DEFAULT_SERVICE_CIDR : options.serviceCIDR,
    clusterCIDR: options.clusterCIDR ?? null,
    masqueradeAll: options.masqueradeAll ?? false,
    masqueradeBit: options.masqueradeBit ?? 14,
  };
  checkPrefix(out.prefix);
  for (const [name, cidr] of [['serviceCIDR', out.serviceCIDR], ['clusterCIDR', out.clusterCIDR]] as const) {
    if (cidr !== null && !isIPv4CIDR(cidr)) throw new Error(`iptables backend: ${name} "${cidr}" is not an IPv4 CIDR like 10.96.0.0/16`);
  }
  if (!Number.isInteger(out.masqueradeBit) || out.masqueradeBit < 0 || out.masqueradeBit > 31) {
    throw new Error(`iptables backend: masqueradeBit ${out.masqueradeBit} must be an integer 0..31`);
  }
  return out;
}
