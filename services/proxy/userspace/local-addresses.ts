/**
 * Makes cluster IPs local addresses of this node, so that the user-space proxy
 * can listen on them (UserspaceBackend with `clusterIPs: true`): a dummy
 * interface (a port-less bridge where the kernel has no dummy module), like
 * kube-proxy's kube-ipvs0, holding each IP as a host address
 * (/32 or /128); left down, as an address there is local all the same. Needs
 * root (CAP_NET_ADMIN); runs `ip` directly, never a shell.
 * The pure parts (names, argument lists, parsing, the diff) are exported so
 * they can be tested without root.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import type { ServicePort } from '../types.js';

export const DEFAULT_INTERFACE = 'keelson-svc0';

/** Runs `ip ARGS`; resolves with stdout, rejects (with stderr in the message) on failure. */
export type IpRunner = (args: string[]) => Promise<string>;

export type LocalAddressesOptions = {
  /** The dummy interface to create and fill. Default `keelson-svc0`. */
  interfaceName?: string;
  /** Replaces the real `ip` (tests). */
  run?: IpRunner;
  log?: (message: string) => void;
};

/** What one sync did; `failed` holds the IPs that could not be added or removed. */
export type AddressChanges = { added: string[]; removed: string[]; failed: string[] };

/** Linux interface names: 1–15 bytes, no slash, colon or white space, not `.` or `..`. */
export function isValidInterfaceName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/** An IP in the form `ip` prints it (IPv6 compressed, lower case); undefined if not an IP. */
export function canonicalIP(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6 || ip.includes('%')) return undefined;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** `ip` argument lists, one per step. */
export const ipArgs = {
  showLink: (dev: string) => ['-j', 'link', 'show', 'dev', dev],
  addLink: (dev: string, type: 'dummy' | 'bridge' = 'dummy') => ['link', 'add', dev, 'type', type],
  deleteLink: (dev: string) => ['link', 'del', dev],
  showAddresses: (dev: string) => ['-j', 'addr', 'show', 'dev', dev],
  addAddress: (ip: string, dev: string) => ['addr', 'add', hostPrefix(ip), 'dev', dev],
  deleteAddress: (ip: string, dev: string) => ['addr', 'del', hostPrefix(ip), 'dev', dev],
};

function hostPrefix(ip: string): string {
  const family = isIP(ip);
  if (family === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  return `${ip}/${family === 4 ? 32 : 128}`;
}

/** The global addresses in `ip -j addr show dev X` output (link-local ones are the kernel's, not ours). */
export function parseAddresses(json: string): string[] {
  type AddrInfo = { local?: string; scope?: string };
  const links = JSON.parse(json || '[]') as { addr_info?: AddrInfo[] }[];
  return links.flatMap((l) => l.addr_info ?? []).flatMap((a) => (a.local && a.scope !== 'link' ? [a.local] : []));
}

/** What to add and remove so that the interface holds exactly `wanted` (invalid IPs are skipped). */
export function planAddresses(current: string[], wanted: string[]): { add: string[]; remove: string[] } {
  const want = new Set(wanted.flatMap((ip) => canonicalIP(ip) ?? []));
  const have = new Set(current);
  return { add: [...want].filter((ip) => !have.has(ip)), remove: [...have].filter((ip) => !want.has(ip)) };
}

/** The cluster IPs of these service ports, once each. */
export function clusterIPsOf(ports: ServicePort[]): string[] {
  return [...new Set(ports.flatMap((p) => (p.clusterIP && isIP(p.clusterIP) ? [p.clusterIP] : [])))];
}

const runIp: IpRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });

export class LocalAddresses {
  readonly interfaceName: string;
  private readonly run: IpRunner;
  private readonly log: (message: string) => void;

  constructor(options: LocalAddressesOptions = {}) {
    this.interfaceName = options.interfaceName ?? DEFAULT_INTERFACE;
    if (!isValidInterfaceName(this.interfaceName)) {
      throw new Error(`interface name ${JSON.stringify(this.interfaceName)} is not valid: use 1-15 letters, digits, '.', '_' or '-'`);
    }
    this.run = options.run ?? runIp;
    this.log = options.log ?? (() => {});
  }

  /**
   * Makes the interface hold exactly `ips`, creating it if needed. Rejects only
   * when the interface cannot be read or made (usually: not root); an address
   * that cannot be changed is logged and reported in `failed`.
   */
  async sync(ips: string[]): Promise<AddressChanges> {
    await this.ensureInterface();
    const current = parseAddresses(await this.run(ipArgs.showAddresses(this.interfaceName)));
    const plan = planAddresses(current, ips);
    const changes: AddressChanges = { added: [], removed: [], failed: [] };
    for (const ip of plan.remove) await this.change(ip, ipArgs.deleteAddress(ip, this.interfaceName), changes.removed, changes.failed);
    for (const ip of plan.add) await this.change(ip, ipArgs.addAddress(ip, this.interfaceName), changes.added, changes.failed);
    return changes;
  }

  /** Deletes the interface and with it every address; nothing to do when it is absent. */
  async remove(): Promise<void> {
    if (await this.exists()) await this.run(ipArgs.deleteLink(this.interfaceName));
  }

  private async ensureInterface(): Promise<void> {
    if (await this.exists()) return;
    let type: 'dummy' | 'bridge' = 'dummy';
    await this.run(ipArgs.addLink(this.interfaceName)).catch(async (err: Error) => {
      // A kernel without the dummy module (this project's CI machine has none):
      // a bridge with no ports, left down, holds local addresses just as well.
      type = 'bridge';
      await this.run(ipArgs.addLink(this.interfaceName, 'bridge')).catch(() => {
        throw new Error(`cannot create interface ${this.interfaceName} for cluster IPs (needs root): ${err.message}`);
      });
    });
    this.log(`proxy: created ${type} interface ${this.interfaceName} for cluster IPs`);
  }

  private exists(): Promise<boolean> {
    return this.run(ipArgs.showLink(this.interfaceName)).then(
      () => true,
      () => false,
    );
  }

  private async change(ip: string, args: string[], done: string[], failed: string[]): Promise<void> {
    try {
      await this.run(args);
      done.push(ip);
    } catch (err) {
      failed.push(ip);
      this.log(`proxy: ${(err as Error).message}`);
    }
  }
}
