/**
 * Stale UDP flows. NAT happens on a flow's first packet only: a UDP client that
 * keeps its source port keeps going to the endpoint its conntrack entry names,
 * even after that endpoint left the service, until the entry expires. So, as
 * kube-proxy does, after each sync the entries of removed UDP endpoints are
 * deleted, and so are those of a UDP service port that just got its first
 * endpoint (packets sent while it had none may have left entries that bypass
 * the new rules). TCP needs nothing: a closed endpoint resets its connections.
 *
 * `staleUdpDeletions` is pure; `deleteStaleUdp` runs `conntrack -D` per entry
 * set through the backend's command runner.
 */
import type { ServicePort } from '../types.js';
import { EXIT_NOT_FOUND, type CommandRunner } from './runner.js';

/** Arguments of one `conntrack -D` (after `-D`). */
export type ConntrackDeletion = string[];

const udp = (ports: ServicePort[]) => new Map(ports.filter((p) => p.protocol === 'UDP').map((p) => [p.key, p]));

/** The conntrack matches of a service port's frontends: its cluster IP and port, its node port. */
const frontends = (p: ServicePort) => [
  ...(p.clusterIP ? [['--orig-dst', p.clusterIP, '--orig-port-dst', String(p.port)]] : []),
  ...(p.nodePort ? [['--orig-port-dst', String(p.nodePort)]] : []),
];

/** The conntrack deletions a change from `before` to `after` calls for. */
export function staleUdpDeletions(before: ServicePort[], after: ServicePort[]): ConntrackDeletion[] {
  const was = udp(before);
  const is = udp(after);
  const out: ConntrackDeletion[] = [];
  for (const [key, now] of is) {
    const prev = was.get(key);
    if ((!prev || prev.endpoints.length === 0) && now.endpoints.length > 0) {
      for (const f of frontends(now)) out.push(['-p', 'udp', ...f]);
      continue;
    }
    if (!prev) continue;
    const kept = new Set(now.endpoints.map((e) => `${e.ip}:${e.port}`));
    for (const gone of prev.endpoints.filter((e) => !kept.has(`${e.ip}:${e.port}`))) {
      for (const f of frontends(prev)) out.push(['-p', 'udp', ...f, '--dst-nat', gone.ip]);
    }
  }
  for (const [key, prev] of was) {
    if (is.has(key)) continue;
    // The service port is gone: its flows must not keep reaching what it pointed at.
    for (const e of prev.endpoints) if (prev.clusterIP) out.push(['-p', 'udp', '--orig-dst', prev.clusterIP, '--orig-port-dst', String(prev.port), '--dst-nat', e.ip]);
  }
  return out;
}

/**
 * Runs the deletions; resolves with a problem to log (undefined when all went
 * well). `conntrack -D` exits 1 when nothing matched: that is success here.
 */
export async function deleteStaleUdp(run: CommandRunner, deletions: ConntrackDeletion[]): Promise<string | undefined> {
  for (const d of deletions) {
    const r = await run(['conntrack', '-D', ...d]);
    if (r.code === 0 || (r.code === 1 && /0 flow entries/.test(r.stderr))) continue;
    if (r.code === EXIT_NOT_FOUND) return 'conntrack is not installed: UDP clients keep reaching removed endpoints until their flows expire (apt-get install conntrack)';
    return `conntrack -D ${d.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`;
  }
  return undefined;
}
