/**
 * `keelson status`: the health of the cluster — masters, NATS peers and stream
 * leaders, election leaders, nodes. Read from an API server over HTTP
 * (`--server URL`, `--kubeconfig FILE`: through the load balancer in HA), or
 * gathered here over NATS (`--nats`, KEELSON_NATS) with the same gatherer the
 * API server uses (services/apiserver/cluster-status).
 */
import { NATS_AUTH_HELP, NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { parseArgs } from 'node:util';
import { clusterStatus, type ClusterStatus, type NatsSection } from '../apiserver/cluster-status/index.js';
import type { Election } from '../lib/leader-election/index.js';
import type { NatsConnection } from '../lib/nats/index.js';
import { fetchStatus, gatherOverNats, kubeconfigTarget } from './status-source.js';

export const STATUS_HELP = `  status             Cluster health: masters, NATS peers and stream leaders, election leaders, nodes
      --server URL       read it from an API server (or the load balancer): GET URL/keelson/v1/status
      --kubeconfig FILE  the same, from the kubeconfig's current-context server (e.g. DIR/kubeconfig of \`keelson up\`)
      --nats URL[,URL]   else gather it over NATS (default $KEELSON_NATS or nats://127.0.0.1:4222)
${NATS_AUTH_HELP}      --bucket NAME      the store bucket, over NATS (default keelson)
      -o json            print the report as JSON
`;

/** The elections every cluster has; others show up when they are held. */
export const KNOWN_ELECTIONS = ['kube-controller-manager', 'kube-scheduler'];

type Write = (text: string) => void;

/** `keelson status [flags]`: prints the report; 1 when it could not be had. */
export async function runStatus(argv: string[], out: Write = (s) => void process.stdout.write(s), err: Write = (s) => void process.stderr.write(s)): Promise<number> {
  let report: ClusterStatus;
  let output: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        server: { type: 'string' },
        kubeconfig: { type: 'string' },
        ...NATS_FLAGS,
        bucket: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
    });
    output = values.output;
    if (output !== undefined && output !== 'json') throw new Error(`-o takes json, not "${output}"`);
    if (values.server && values.kubeconfig) throw new Error('give --server or --kubeconfig, not both');
    const target = values.server ? { server: values.server } : values.kubeconfig ? kubeconfigTarget(values.kubeconfig) : undefined;
    report = target ? await fetchStatus(target) : await gatherOverNats(natsFlagTarget(values), values.bucket);
  } catch (e) {
    const reason = (e as { reason?: string }).reason;
    err(reason ? `Error from server (${reason}): ${(e as Error).message}\n` : `error: ${(e as Error).message}\n`);
    return 1;
  }
  out(output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
  return 0;
}

/** The printed report of this connection's cluster (over NATS). */
export async function statusReport(nc: NatsConnection, nowMs = Date.now()): Promise<string> {
  return formatStatus(await clusterStatus(nc, { nowMs }));
}

/** Every section, as `keelson status` prints it. */
export function formatStatus(r: ClusterStatus): string {
  const nowMs = Date.parse(r.time);
  const by = r.source.via === 'apiserver' ? `the API server at ${r.source.apiserver ?? '?'} (${r.source.hostname})` : `NATS from ${r.source.hostname}`;
  const parts = [
    `Cluster status at ${r.time}, gathered by ${by}\n`,
    `Masters:\n${r.masters.error ? failed(r.masters.error) : mastersTable(r.masters)}`,
    natsText(r.nats),
    `Leaders:\n${r.leaders.error ? failed(r.leaders.error) : leadersTable(r.leaders.items, r.leaders.leaseMs, nowMs)}`,
    `Nodes:\n${r.nodes.error ? failed(r.nodes.error) : nodesTable(r.nodes)}`,
  ];
  return parts.join('\n');
}

function mastersTable(m: ClusterStatus['masters']): string {
  if (!m.items.length) return '  (none: no API server has renewed its place within the lease)\n';
  const rows = m.items.map((a) => [a.hostname || '?', `${hostPort(a.address, a.port)}`, `${seconds(a.lastSeenAgoMs)} ago`]);
  return table(['HOSTNAME', 'ADDRESS', 'LAST SEEN'], rows) + `  (a master not seen for ${seconds(m.leaseMs)} drops out)\n`;
}

function natsText(n: NatsSection): string {
  const s = n.server;
  const where = s ? `${s.name} (nats-server ${s.version}, ${n.clustered ? `cluster ${s.cluster ?? '?'}` : 'single server, no cluster'})` : '?';
  const head = `NATS: connected to ${where}\n`;
  if (n.error) return head + failed(n.error);
  const peers = table(
    ['PEER', 'CURRENT', 'LAG', 'LAST HEARD', 'LEADS'],
    n.peers.map((p) => [p.name, p.offline ? 'offline' : p.current ? 'yes' : 'no', String(p.lag), p.activeMs === undefined ? '-' : `${seconds(p.activeMs)} ago`, `${p.leads}/${p.streams} streams`]),
  );
  const streams = n.streams.length
    ? table(
        ['STREAM', 'REPLICAS', 'LEADER', 'FOLLOWERS'],
        n.streams.map((st) => [st.name, String(st.replicas), st.leader ?? '<none>', st.followers.map((f) => f.name + followerNote(f)).join(', ') || '-']),
      )
    : '  (no streams)\n';
  return head + peers + streams;
}

function followerNote(f: NatsSection['streams'][number]['followers'][number]): string {
  if (f.offline) return ' (offline)';
  if (!f.current) return ` (not current${f.lag ? `, behind ${f.lag}` : ''})`;
  return f.lag ? ` (behind ${f.lag})` : '';
}

function nodesTable(n: ClusterStatus['nodes']): string {
  if (!n.items.length) return '  (none)\n';
  const rows = n.items.map((x) => [
    x.name,
    x.ready + (x.unschedulable ? ',SchedulingDisabled' : ''),
    x.reason ?? '',
    x.lease ? `${seconds(x.lease.renewedAgoMs)} ago` : '<none>',
  ]);
  return table(['NAME', 'READY', 'REASON', 'LEASE RENEWED'], rows);
}

/** One row per election: its holder, term, last renewal and time left on the lease. */
export function leadersTable(held: Election[], leaseMs: number, nowMs: number): string {
  const byName = new Map(held.map((e) => [e.election, e]));
  const names = [...new Set([...KNOWN_ELECTIONS, ...byName.keys()])].sort();
  const rows = names.map((name) => {
    const e = byName.get(name);
    if (!e) return [name, '<none>', '', '', ''];
    const left = e.createdMs + leaseMs - nowMs;
    return [name, e.holderIdentity, String(e.term), seconds(nowMs - e.createdMs) + ' ago', left > 0 ? seconds(left) : 'expired'];
  });
  return table(['ELECTION', 'HOLDER', 'TERM', 'RENEWED', 'EXPIRES IN'], rows);
}

/** Columns padded to their widest cell, indented two spaces, three between. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}`).join('\n') + '\n';
}

function failed(error: string): string {
  return `  error: ${error}\n`;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}
