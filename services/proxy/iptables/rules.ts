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
import type { ServicePort } from '../types.js';

/** The chains of one table and their rules, as iptables-restore lines (`-A CHAIN ...`). */
export type TableRules = { chains: string[]; rules: string[] };

export type RuleSet = {
  nat: TableRules;
  filter: TableRules;
  /** Ports or endpoints left out, and why (the backend logs them). */
  notes: string[];
};

const REJECT = '-j REJECT --reject-with icmp-port-unreachable';
/** Node ports on 127.0.0.0/8 would need route_localnet, which this backend does not turn on. */
const LOCAL_NOT_LOOPBACK = '-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8';

export function buildRules(ports: readonly ServicePort[], options: RuleOptions): RuleSet {
  const names = chainNames(options.prefix);
  const plan = planPorts(ports);
  const nat: TableRules = { chains: [names.services, names.nodePorts, names.postrouting, names.markMasq], rules: [] };
  const filter: TableRules = { chains: [names.services, names.nodePorts], rules: [] };
  const mark = markOf(options.masqueradeBit);

  nat.rules.push(
    `-A ${names.markMasq} -j MARK --or-mark ${mark}`,
    `-A ${names.postrouting} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${names.postrouting} -j MARK --xor-mark ${mark}`,
    `-A ${names.postrouting} ${comment('service traffic requiring SNAT')} -j MASQUERADE`,
  );
  for (const p of plan.ports) {
    if (p.endpoints.length === 0) rejectRules(p, names, filter);
    else forwardRules(p, names, options, nat);
  }
  nat.rules.push(`-A ${names.services} ${LOCAL_NOT_LOOPBACK} ${comment('node ports, keep this rule last')} -j ${names.nodePorts}`);
  if (options.serviceCIDR !== null) {
    filter.rules.push(`-A ${names.services} -d ${options.serviceCIDR} ${comment('no service port at this cluster IP')} ${REJECT}`);
  }
  return { nat, filter, notes: plan.notes };
}

/** The mark value of a bit, as iptables prints it (0x4000 for 14). */
export function markOf(bit: number): string {
  return `0x${(2 ** bit).toString(16)}`;
}

function portal(p: PlannedPort): string {
  return `-d ${p.clusterIP}/32 -p ${p.proto} -m ${p.proto} --dport ${p.port}`;
}

function rejectRules(p: PlannedPort, names: ChainNames, filter: TableRules): void {
  const why = comment(`${p.key} has no endpoints`);
  filter.rules.push(`-A ${names.services} ${portal(p)} ${why} ${REJECT}`);
  if (p.nodePort !== undefined) {
    filter.rules.push(`-A ${names.nodePorts} ${LOCAL_NOT_LOOPBACK} -p ${p.proto} -m ${p.proto} --dport ${p.nodePort} ${why} ${REJECT}`);
  }
}

function forwardRules(p: PlannedPort, names: ChainNames, options: RuleOptions, nat: TableRules): void {
  const svc = names.service(p.key);
  nat.chains.push(svc);
  nat.rules.push(`-A ${names.services} ${portal(p)} ${comment(`${p.key} cluster IP`)} -j ${svc}`);
  if (p.nodePort !== undefined) {
    const match = `-p ${p.proto} -m ${p.proto} --dport ${p.nodePort} ${comment(`${p.key} node port`)}`;
    nat.rules.push(`-A ${names.nodePorts} ${match} -j ${names.markMasq}`, `-A ${names.nodePorts} ${match} -j ${svc}`);
  }
  if (options.masqueradeAll) {
    nat.rules.push(`-A ${svc} ${comment(`${p.key} cluster IP`)} -j ${names.markMasq}`);
  } else if (options.clusterCIDR !== null) {
    nat.rules.push(`-A ${svc} ! -s ${options.clusterCIDR} ${portal(p)} ${comment(`${p.key} cluster IP from outside the pod network`)} -j ${names.markMasq}`);
  }

  const seps = p.endpoints.map((ep) => ({ ep, chain: names.endpoint(p.key, ep.ip, ep.port), to: `${p.key} -> ${ep.ip}:${ep.port}` }));
  if (p.affinitySeconds !== undefined) {
    for (const s of seps) {
      nat.rules.push(`-A ${svc} ${comment(s.to)} -m recent --name ${s.chain} --mask 255.255.255.255 --rsource --rcheck --seconds ${p.affinitySeconds} --reap -j ${s.chain}`);
    }
  }
  seps.forEach((s, i) => {
    const left = seps.length - i;
    const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
    nat.rules.push(`-A ${svc} ${comment(s.to)}${pick} -j ${s.chain}`);
  });
  for (const s of seps) {
    nat.chains.push(s.chain);
    const remember = p.affinitySeconds !== undefined ? ` -m recent --name ${s.chain} --set --mask 255.255.255.255 --rsource` : '';
    nat.rules.push(
      `-A ${s.chain} -s ${s.ep.ip}/32 ${comment(`${p.key} hairpin`)} -j ${names.markMasq}`,
      `-A ${s.chain} -p ${p.proto} ${comment(s.to)}${remember} -m ${p.proto} -j DNAT --to-destination ${s.ep.ip}:${s.ep.port}`,
    );
  }
}

/** A comment match; the text is made safe for iptables-restore's quoting and the kernel's 255 bytes. */
export function comment(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9 ._:/>=+,()@-]/g, '_').slice(0, 255);
  return `-m comment --comment "${safe}"`;
}
