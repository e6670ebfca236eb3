/**
 * The proxy a node runs (`keelson proxy`, and inside `keelson agent` and
 * `keelson up`): the front door (index.ts) with the backends of one mode.
 *
 *   iptables   NAT rules (iptables/): cluster IPs and node ports for pods and
 *              the host, balanced in the kernel; needs root (CAP_NET_ADMIN).
 *   userspace  Node.js sockets (userspace/): node ports on `bindAddress`; cluster
 *              IPs too when it may make them local addresses (root: an interface
 *              holding every cluster IP), else node ports only.
 *   auto       iptables where it works here, else userspace.
 */
import type { KeelsonClient } from '../lib/client/index.js';
import type { SharedInformers } from '../lib/informer/index.js';
import { startProxy, type Proxy, type ProxyBackend, type ServicePort } from './index.js';
import { IptablesBackend } from './iptables/index.js';
import { clusterIPsOf, defaultForwarders, LocalAddresses, UserspaceBackend } from './userspace/index.js';

export type ProxyMode = 'userspace' | 'iptables';
export const PROXY_MODES = ['auto', 'userspace', 'iptables'] as const;

export type NodeProxyOptions = {
  client: KeelsonClient;
  mode?: ProxyMode | 'auto';
  /** Where user-space node ports listen (default 0.0.0.0). */
  bindAddress?: string;
  /** User space: make cluster IPs local and listen on them (default: when running as root). */
  clusterIPs?: boolean;
  /** User space: processes besides the proxy's own that forward TCP (default one per further core). */
  forwarders?: number;
  /** The interface that holds cluster IPs in user space (default keelson-svc0). */
  interfaceName?: string;
  /** iptables: traffic to this range that matches no service is rejected (default 10.96.0.0/16). */
  serviceCIDR?: string;
  /** iptables: the prefix of its chains (default KEELSON). */
  chainPrefix?: string;
  informers?: SharedInformers;
  log?: (message: string) => void;
};

export type NodeProxy = Proxy & {
  mode: ProxyMode;
  /** One line on what this mode forwards here, for the start-up message. */
  summary: string;
  backendStats(): Record<string, unknown>;
};

export function parseProxyMode(value: string | undefined): ProxyMode | 'auto' {
  const mode = value ?? 'auto';
  if (!(PROXY_MODES as readonly string[]).includes(mode)) throw new Error(`--proxy-mode must be one of ${PROXY_MODES.join(', ')}, not "${value}"`);
  return mode as ProxyMode | 'auto';
}

/** A `--forwarders` value: a whole number ≥ 0; undefined for the default. */
export function parseForwarders(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || value.trim() === '') throw new Error(`${flag} must be a whole number ≥ 0, not "${value}"`);
  return n;
}

export async function startNodeProxy(opts: NodeProxyOptions): Promise<NodeProxy> {
  const log = opts.log ?? (() => undefined);
  let mode = opts.mode ?? 'auto';
  if (mode === 'auto') {
    const probe = await IptablesBackend.available({ prefix: opts.chainPrefix });
    mode = probe.ok ? 'iptables' : 'userspace';
    if (!probe.ok) log(`proxy: user-space mode (${probe.reason})`);
  }
  if (mode === 'iptables') {
    const backend = new IptablesBackend({ prefix: opts.chainPrefix, ...(opts.serviceCIDR ? { serviceCIDR: opts.serviceCIDR } : {}), log });
    const proxy = await startProxy({ client: opts.client, backends: [backend], informers: opts.informers, log });
    return { ...proxy, mode, summary: 'iptables mode: cluster IPs and node ports in NAT rules', backendStats: () => ({ ...backend.lastSync() }) };
  }
  const clusterIPs = opts.clusterIPs ?? process.getuid?.() === 0;
  const forwarders = opts.forwarders ?? defaultForwarders();
  const userspace = new UserspaceBackend({ bindAddress: opts.bindAddress ?? '0.0.0.0', clusterIPs, forwarders, log });
  const backends: ProxyBackend[] = clusterIPs ? [new LocalAddressBackend(new LocalAddresses({ interfaceName: opts.interfaceName, log })), userspace] : [userspace];
  const proxy = await startProxy({ client: opts.client, backends, informers: opts.informers, log });
  const where = `node ports on ${opts.bindAddress ?? '0.0.0.0'}`;
  const processes = forwarders > 0 ? `; ${forwarders} forwarder process(es) take TCP connections too while long ones keep it busy` : '';
  return {
    ...proxy,
    mode,
    summary: (clusterIPs ? `user-space mode: ${where} and cluster IPs` : `user-space mode: ${where} only (cluster IPs need root)`) + processes,
    backendStats: () => ({ ...userspace.stats() }),
  };
}

const RECHECK_LOCAL_ADDRESSES_MS = 30_000;

/**
 * Keeps every cluster IP a local address, before the user-space backend binds
 * to them. Most syncs change only endpoints: the `ip` commands run when the set
 * of cluster IPs changed, and otherwise at most every 30 s (an address
 * someone removed comes back then).
 */
class LocalAddressBackend implements ProxyBackend {
  private applied = '';
  private appliedAt = 0;

  constructor(private readonly local: LocalAddresses) {}

  async sync(ports: ServicePort[]): Promise<void> {
    const ips = clusterIPsOf(ports);
    const wanted = [...ips].sort().join(',');
    if (wanted === this.applied && performance.now() - this.appliedAt < RECHECK_LOCAL_ADDRESSES_MS) return;
    this.applied = '';
    await this.local.sync(ips);
    this.applied = wanted;
    this.appliedAt = performance.now();
  }

  stop(): Promise<void> {
    return this.local.remove();
  }
}
