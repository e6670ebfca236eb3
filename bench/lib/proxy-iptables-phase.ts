/**
 * Phase `iptables` of `npm run bench -- proxy` (root only): TCP to a cluster
 * IP through Keelson's iptables rules beside TCP straight to an endpoint's IP,
 * inside a network namespace the benchmark creates and always deletes.
 *
 * In the namespace: the loopback and a veth pair whose both ends stay inside,
 * 192.0.2.1/24 plus the three endpoint addresses 192.0.2.11-13 on it, and a
 * route for 10.96.0.0/16 to it (so that connect() finds a route; the DNAT in
 * nat OUTPUT then sends the connection to a local endpoint). The backend
 * servers and the load client run inside (`ip netns exec`); the
 * IptablesBackend runs here and writes its rules there through netnsRunner.
 *
 * Two rule sets, each measured with both targets, interleaved by round:
 *   one   the service port alone;
 *   many  `--iptables-services` - 1 other service ports first, the measured
 *         one last in the chain (a new connection's first packet walks every
 *         service rule before it: kube-proxy's iptables-mode cost). A direct
 *         connection walks them too (nat OUTPUT sees it before it knows it is
 *         not for a service), so each rule set has its own direct baseline.
 */
import { join } from 'node:path';
import { IptablesBackend, type SyncReport } from '../../services/proxy/iptables/index.js';
import type { ServicePort } from '../../services/proxy/types.js';
import { createNetns, netnsName, startNetnsChild, type LineChild } from './proxy-netns.js';
import { rounds, type LoadSettings, type Run, type Target, type TargetFigures } from './proxy-load.js';
import { CLIENT_READY, SERVERS_READY } from './proxy-protocol.js';
import type { Cleanup } from './proc.js';

export type IptablesPhaseInput = {
  buildRoot: string;
  cleanup: Cleanup;
  log: (s: string) => void;
  settings: LoadSettings;
  /** Service ports in the `many` rule set, the measured one included. */
  services: number;
};

export type IptablesPhaseResult =
  | { skipped: string }
  | { figures: TargetFigures[]; runs: Run[]; netns: string; syncOne?: SyncReport; syncMany?: SyncReport; family: string };

const NODE_IP = '192.0.2.1';
const ENDPOINT_IPS = ['192.0.2.11', '192.0.2.12', '192.0.2.13'];
const ENDPOINT_PORT = 8080;
const CLUSTER_IP = '10.96.0.10';
const SERVICE_PORT = 80;

function servicePort(name: string, clusterIP: string, endpointPort: number): ServicePort {
  return {
    key: `bench-proxy/${name}:http/TCP`,
    namespace: 'bench-proxy',
    name,
    portName: 'http',
    protocol: 'TCP',
    clusterIP,
    port: SERVICE_PORT,
    sessionAffinity: { type: 'None' },
    endpoints: ENDPOINT_IPS.map((ip) => ({ ip, port: endpointPort })),
  };
}

/** `count` - 1 other service ports (cluster IPs from 10.96.1.1 on, never connected to), then the measured one. */
export function ruleSet(count: number): ServicePort[] {
  const others = Array.from({ length: count - 1 }, (_, i) => servicePort(`other-${String(i).padStart(5, '0')}`, `10.96.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, 9));
  return [...others, servicePort('measured', CLUSTER_IP, ENDPOINT_PORT)];
}

export async function iptablesPhase(input: IptablesPhaseInput): Promise<IptablesPhaseResult> {
  if (process.getuid?.() !== 0) return { skipped: 'not root: it creates a network namespace and programs iptables inside it (run the benchmark as root)' };
  const { cleanup, log } = input;
  const ns = await createNetns(netnsName('data'), { addresses: [`${NODE_IP}/24`, ...ENDPOINT_IPS], routes: ['10.96.0.0/16'] }, cleanup);
  const children: LineChild[] = [];
  let removeRules: (() => Promise<void>) | undefined;
  try {
    const probe = await IptablesBackend.available({ run: ns.run });
    if (!probe.ok) return { skipped: probe.reason };
    const family = (await ns.run(['iptables', '--version'])).stdout.trim();
    const child = async (name: string, script: string, readyMark: string, args: string[] = []) => {
      const c = await startNetnsChild({ name, netns: ns.name, cwd: input.buildRoot, script: join(input.buildRoot, 'bench', 'lib', script), args, readyMark, cleanup });
      cleanup.add(name, () => c.stop());
      children.push(c);
      return c;
    };
    const servers = await child('backend servers (netns)', 'proxy-servers-child.js', SERVERS_READY, [JSON.stringify(ENDPOINT_IPS.map((ip) => `${ip}:${ENDPOINT_PORT}`))]);
    const client = await child('load client (netns)', 'proxy-client-child.js', CLIENT_READY);
    const b = new IptablesBackend({ run: ns.run, resyncMs: 0, log: (m) => log(m) });
    let removed: Promise<void> | undefined;
    removeRules = () => (removed ??= b.stop());
    cleanup.add('iptables rules', removeRules);
    log(`network namespace ${ns.name}: endpoints ${ENDPOINT_IPS.join(', ')}:${ENDPOINT_PORT}, cluster IP ${CLUSTER_IP}:${SERVICE_PORT}`);

    const one = ruleSet(1);
    const many = ruleSet(input.services);
    const reports: { one?: SyncReport; many?: SyncReport } = {};
    const targets: Target[] = [
      { id: 'direct-one', label: 'direct (1 service port in the rules)', host: ENDPOINT_IPS[0]!, port: ENDPOINT_PORT },
      { id: 'cluster-one', label: 'cluster IP (1 service port)', host: CLUSTER_IP, port: SERVICE_PORT },
      { id: 'direct-many', label: `direct (${input.services} service ports in the rules)`, host: ENDPOINT_IPS[0]!, port: ENDPOINT_PORT },
      { id: 'cluster-many', label: `cluster IP (${input.services} service ports, it last)`, host: CLUSTER_IP, port: SERVICE_PORT },
    ];
    const { figures, runs } = await rounds({
      client,
      targets,
      settings: input.settings,
      pidsFor: () => ({ client: client.pid, servers: servers.pid }),
      deaths: [servers.died, client.died],
      log,
      groupOf: (t) => (t.id.endsWith('-one') ? 'one' : 'many'),
      beforeGroup: async (g) => {
        await b.sync(g === 'one' ? one : many);
        const r = b.lastSync()!;
        reports[g as 'one' | 'many'] = r;
        log(`iptables: ${r.ports} service ports, ${r.chains} chains, ${r.rules} rules written in ${r.totalMs.toFixed(0)} ms`);
      },
    });
    return { figures, runs, netns: ns.name, syncOne: reports.one, syncMany: reports.many, family };
  } finally {
    await removeRules?.().catch((e: Error) => log(`removing the iptables rules: ${e.message}`));
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await ns.close().catch((e: Error) => log(`deleting ${ns.name}: ${e.message}`));
  }
}
