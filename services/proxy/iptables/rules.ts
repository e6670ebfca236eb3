/**
 * Service ports → the rules of the backend's own chains, pure (kube-proxy's
 * iptables layout). nat:
 *
 *   PREFIX-SERVICES     -d clusterIP -p proto --dport port → PREFIX-SVC-<hash>, one per
 *                       port with endpoints; last, local destinations → PREFIX-NODEPORTS
 *   PREFIX-NODEPORTS    --dport nodePort → PREFIX-MARK-MASQ, then → PREFIX-SVC-<hash>
 *   PREFIX-SVC-<hash>   (masquerade mark for outside traffic, if configured;) ClientIP
 *                       affinity with `recent`; then `statistic` 1/n, 1/(n-1), ... → SEP
 *   PREFIX-SEP-<hash>   from the endpoint itself (hairpin) → mark; DNAT to ip:port
 *   PREFIX-MARK-MASQ    sets the mark bit
 *   PREFIX-POSTROUTING  marked packets: clear the bit and MASQUERADE
 *
 * filter: PREFIX-SERVICES rejects ports with no endpoints and, last, anything else
 * to the service CIDR; PREFIX-NODEPORTS rejects node ports with no endpoints. A
 * reject answers at once (ECONNREFUSED), where a blackhole would hang the client.
 * The jumps from the built-in chains are in jumps.ts.
 */
import { chainNames, type ChainNames } from './chain-names.js';
import type { RuleOptions } from './options.js';
import { planPorts, type PlannedPort } from './port-plan.js';
import type { TableName } from './jumps.js';
import type { ServicePort } from '../types.js';

/** The chains of one table and their rules, as iptables-restore lines (`-A CHAIN ...`). */
export type TableRules = { chains: string[]; rules: string[] };

/** The rules one service port contributes: what a partial sync compares, port by port. */
export type PortRules = {
  /** The checked port it was made from, as JSON: an equal fingerprint means equal rules. */
  fingerprint: string;
  /** Its own nat chains (PREFIX-SVC-, PREFIX-SEP-) and their rules, in order. */
  chains: { name: string; rules: string[] }[];
  /** Its rules in the shared chains (PREFIX-SERVICES, PREFIX-NODEPORTS), per table, in order. */
  shared: Record<TableName, string[]>;
};

export type RuleSet = {
  nat: TableRules;
  filter: TableRules;
  /** The same rules, by service port key (the shared chains' own rules are only in `nat`/`filter`). */
  ports: Map<string, PortRules>;
  /** Ports or endpoints left out, and why (the backend logs them). */
  notes: string[];
};

const REJECT = '-j REJECT --reject-with icmp-port-unreachable';
/** Node ports on 127.0.0.0/8 would need route_localnet, which this backend does not turn on. */
const LOCAL_NOT_LOOPBACK = '-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8';

/**
 * The whole rule set. Given the rule set of an earlier call with the same
 * options, ports whose checked form did not change reuse their rules (same
 * objects), so a sync of 1,000 ports where one changed makes the rules of one.
 */
export function buildRules(ports: readonly ServicePort[], options: RuleOptions, previous?: RuleSet): RuleSet {
  const names = chainNames(options.prefix);
  const plan = planPorts(ports);
  const mark = markOf(options.masqueradeBit);
  const byKey = new Map<string, PortRules>();
  for (const p of plan.ports) {
    const fingerprint = JSON.stringify(p);
    const before = previous?.ports.get(p.key);
    byKey.set(p.key, before?.fingerprint === fingerprint ? before : portRules(p, fingerprint, names, options));
  }

  const nat: TableRules = { chains: [names.services, names.nodePorts, names.postrouting, names.markMasq], rules: [] };
  const filter: TableRules = { chains: [names.services, names.nodePorts], rules: [] };
  nat.rules.push(
    `-A ${names.markMasq} -j MARK --or-mark ${mark}`,
    `-A ${names.postrouting} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${names.postrouting} -j MARK --xor-mark ${mark}`,
    `-A ${names.postrouting} ${comment('service traffic requiring SNAT')} -j MASQUERADE`,
  );
  for (const r of byKey.values()) {
    for (const c of r.chains) {
      nat.chains.push(c.name);
      nat.rules.push(...c.rules);
    }
    nat.rules.push(...r.shared.nat);
    filter.rules.push(...r.shared.filter);
  }
  nat.rules.push(`-A ${names.services} ${LOCAL_NOT_LOOPBACK} ${comment('node ports, keep this rule last')} -j ${names.nodePorts}`);
  if (options.serviceCIDR !== null) {
    filter.rules.push(`-A ${names.services} -d ${options.serviceCIDR} ${comment('no service port at this cluster IP')} ${REJECT}`);
  }
  return { nat, filter, ports: byKey, notes: plan.notes };
}

function portRules(p: PlannedPort, fingerprint: string, names: ChainNames, options: RuleOptions): PortRules {
  const out: PortRules = { fingerprint, chains: [], shared: { nat: [], filter: [] } };
  if (p.endpoints.length === 0) rejectRules(p, names, out);
  else forwardRules(p, names, options, out);
  return out;
}

/** The mark value of a bit, as iptables prints it (0x4000 for 14). */
export function markOf(bit: number): string {
  return `0x${(2 ** bit).toString(16)}`;
}

function portal(p: PlannedPort): string {
  return `-d ${p.clusterIP}/32 -p ${p.proto} -m ${p.proto} --dport ${p.port}`;
}

function rejectRules(p: PlannedPort, names: ChainNames, out: PortRules): void {
  const why = comment(`${p.key} has no endpoints`);
  out.shared.filter.push(`-A ${names.services} ${portal(p)} ${why} ${REJECT}`);
  if (p.nodePort !== undefined) {
    out.shared.filter.push(`-A ${names.nodePorts} ${LOCAL_NOT_LOOPBACK} -p ${p.proto} -m ${p.proto} --dport ${p.nodePort} ${why} ${REJECT}`);
  }
}

function forwardRules(p: PlannedPort, names: ChainNames, options: RuleOptions, out: PortRules): void {
  const svc = names.service(p.key);
  const shared = out.shared.nat;
  shared.push(`-A ${names.services} ${portal(p)} ${comment(`${p.key} cluster IP`)} -j ${svc}`);
  if (p.nodePort !== undefined) {
    const match = `-p ${p.proto} -m ${p.proto} --dport ${p.nodePort} ${comment(`${p.key} node port`)}`;
    shared.push(`-A ${names.nodePorts} ${match} -j ${names.markMasq}`, `-A ${names.nodePorts} ${match} -j ${svc}`);
  }
  const balance: string[] = [];
  out.chains.push({ name: svc, rules: balance });
  if (options.masqueradeAll) {
    balance.push(`-A ${svc} ${comment(`${p.key} cluster IP`)} -j ${names.markMasq}`);
  } else if (options.clusterCIDR !== null) {
    balance.push(`-A ${svc} ! -s ${options.clusterCIDR} ${portal(p)} ${comment(`${p.key} cluster IP from outside the pod network`)} -j ${names.markMasq}`);
  }

  const seps = p.endpoints.map((ep) => ({ ep, chain: names.endpoint(p.key, ep.ip, ep.port), to: `${p.key} -> ${ep.ip}:${ep.port}` }));
  if (p.affinitySeconds !== undefined) {
    for (const s of seps) {
      balance.push(`-A ${svc} ${comment(s.to)} -m recent --name ${s.chain} --mask 255.255.255.255 --rsource --rcheck --seconds ${p.affinitySeconds} --reap -j ${s.chain}`);
    }
  }
  seps.forEach((s, i) => {
    const left = seps.length - i;
    const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
    balance.push(`-A ${svc} ${comment(s.to)}${pick} -j ${s.chain}`);
  });
  for (const s of seps) {
    const remember = p.affinitySeconds !== undefined ? ` -m recent --name ${s.chain} --set --mask 255.255.255.255 --rsource` : '';
    out.chains.push({
      name: s.chain,
      rules: [
        `-A ${s.chain} -s ${s.ep.ip}/32 ${comment(`${p.key} hairpin`)} -j ${names.markMasq}`,
        `-A ${s.chain} -p ${p.proto} ${comment(s.to)}${remember} -m ${p.proto} -j DNAT --to-destination ${s.ep.ip}:${s.ep.port}`,
      ],
    });
  }
}

/** A comment match; the text is made safe for iptables-restore's quoting and the kernel's 255 bytes. */
export function comment(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9 ._:/>=+,()@-]/g, '_').slice(0, 255);
  return `-m comment --comment "${safe}"`;
}
