/**
 * Phase `sync` of `npm run bench -- proxy`: how long after a write to a
 * Service or an Endpoints object the proxy has synced it, with `--services`
 * Services in the cluster, beside how long a bare store watch in the same
 * process takes to see the same write.
 *
 * Its own nats-server and API server (a child, compiled) hold `--services`
 * selector-less NodePort Services in one namespace (one port each; node ports
 * from a private range, 21000-22999, so they never meet another session's
 * 30000-32767), each with an Endpoints object of 2-3 addresses in
 * 192.0.2.0/24 (documentation range: never connected to in this phase). For
 * each backend, the front door runs in a child (proxy-sync-child.ts):
 *
 *   userspace  UserspaceBackend, node ports on 127.0.0.1 (so every Service
 *              really gets a listening socket), cluster IPs off;
 *   iptables   (root) IptablesBackend, its rules in a fresh network namespace.
 *
 * Then `--changes` writes, one at a time (the next only after the last was
 * synced, plus a pause, so that no two share a sync), alternating an Endpoints
 * change (2 ↔ 3 addresses, new ones) and a Service change (port 80 ↔ 81).
 */
import { readFileSync } from 'node:fs';
import type { KObject } from '../../services/lib/api/resources.js';
import type { KeelsonClient } from '../../services/lib/client/index.js';
import { IptablesBackend } from '../../services/proxy/iptables/index.js';
import { closedLoop } from './load.js';
import { benchChild } from './proxy-data-phase.js';
import { createNetns, netnsName, type BenchNetns } from './proxy-netns.js';
import { endpointsText, SYNC_DONE, SYNC_EXPECTING, SYNC_READY, SYNC_SEEN, SYNC_STATS, type Expectation, type FirstSync, type SyncChildConfig } from './proxy-protocol.js';
import type { NodeChild } from './node-child.js';
import { cpuSeconds, rssMB, sleep, withTimeout, type Cleanup } from './proc.js';
import { nowMs, Samples, type Summary } from './stats.js';

export const SYNC_NAMESPACE = 'bench-proxy';
/** `--service-node-port-range` of the benchmark's API server. */
export const NODE_PORT_RANGE = '21000-22999';
const ENDPOINT_PORT = 8080;

export type SyncPhaseInput = {
  client: KeelsonClient;
  natsUrl: string;
  pids: { api: number; nats: number };
  buildRoot: string;
  cleanup: Cleanup;
  log: (s: string) => void;
  services: number;
  changes: number;
  /** Pause after each change is synced: this, up to twice this (random). */
  gapMs: number;
  timeoutMs: number;
  backends: ('userspace' | 'iptables')[];
};

export type ChangeSample = { id: number; resource: 'services' | 'endpoints'; writeMs: number; seenMs: number; syncedMs: number; proxyMs: number };

export type SyncVariant = {
  backend: 'userspace' | 'iptables';
  /** Child spawned → proxy running (connect, bare watches synced, startProxy). */
  spawnToReadyMs: number;
  first: FirstSync;
  samples: ChangeSample[];
  /** write call → ...: synced by the proxy, seen by the bare watch; the write's own round trip; the proxy's own figure. */
  synced: Summary;
  seen: Summary;
  write: Summary;
  proxy: Summary;
  syncedByResource: { services: Summary; endpoints: Summary };
  /** Cores during the changes: the proxy child, its children (iptables-save/restore), API server, nats-server. */
  cores: Record<string, number>;
  rssMB: number;
  stats: Record<string, unknown>;
  netns?: string;
};

export type SyncPhaseResult = { createMs: number; variants: SyncVariant[]; skipped: string[] };

export function serviceName(i: number): string {
  return `svc-${String(i).padStart(5, '0')}`;
}

function endpointIPs(i: number, generation: number): string[] {
  const count = 2 + (generation % 2);
  return Array.from({ length: count }, (_, k) => `192.0.2.${1 + ((i + generation * 37 + k * 83) % 250)}`).sort((a, b) => lastOctet(a) - lastOctet(b));
}
const lastOctet = (ip: string) => Number(ip.slice(ip.lastIndexOf('.') + 1));

function serviceObject(i: number): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(i), namespace: SYNC_NAMESPACE },
    spec: { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: ENDPOINT_PORT }] },
  };
}

function endpointsObject(i: number, generation: number): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: serviceName(i), namespace: SYNC_NAMESPACE },
    subsets: [{ addresses: endpointIPs(i, generation).map((ip) => ({ ip })), ports: [{ name: 'http', port: ENDPOINT_PORT, protocol: 'TCP' }] }],
  };
}

/** The cluster: `count` Services and their Endpoints, 16 writes in flight. Keeps the stored objects for later updates. */
export async function createServices(client: KeelsonClient, count: number, timeoutMs: number): Promise<{ ms: number; services: KObject[]; endpoints: KObject[] }> {
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYNC_NAMESPACE } });
  const services: KObject[] = new Array(count);
  const endpoints: KObject[] = new Array(count);
  const t0 = nowMs();
  const r = await closedLoop(count, 16, timeoutMs, async (i) => {
    services[i] = await client.create(serviceObject(i));
    endpoints[i] = await client.create(endpointsObject(i, 0));
  });
  if (r.errors || r.timedOut) throw new Error(`creating ${count} Services: ${r.errors} errors${r.timedOut ? ', timed out' : ''}; first: ${r.firstError}`);
  return { ms: nowMs() - t0, services, endpoints };
}

/** CPU seconds of a process's children it has waited for (cutime + cstime): iptables-save/restore for the iptables backend. */
function childrenCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return NaN;
  }
}

export async function syncVariant(
  input: SyncPhaseInput,
  backend: 'userspace' | 'iptables',
  cluster: { services: KObject[]; endpoints: KObject[]; generations: number[] },
): Promise<SyncVariant> {
  const { cleanup, log, client } = input;
  let netns: BenchNetns | undefined;
  if (backend === 'iptables') {
    const ns = await createNetns(netnsName('sync'), {}, cleanup);
    netns = ns;
    const probe = await IptablesBackend.available({ run: ns.run });
    if (!probe.ok) throw new Error(`iptables in ${ns.name}: ${probe.reason}`);
  }
  const cfg: SyncChildConfig = { natsUrl: input.natsUrl, namespace: SYNC_NAMESPACE, backend, bindAddress: '127.0.0.1', netns: netns?.name };
  const spawned = nowMs();
  const child: NodeChild = await benchChild(input, `proxy (${backend})`, 'proxy-sync-child.js', SYNC_READY, [JSON.stringify(cfg)]);
  const spawnToReadyMs = nowMs() - spawned;
  cleanup.add(`proxy (${backend})`, () => child.stop());
  const first = JSON.parse(child.readyLine) as FirstSync;
  log(`${backend}: proxy running ${(spawnToReadyMs / 1000).toFixed(1)} s after spawn; first full sync of ${first.servicePorts} service ports in ${first.proxyStartMs.toFixed(0)} ms (backend ${first.backendFirstSyncMs.toFixed(0)} ms)`);

  const waits = new Map<number, { seen?: number; done?: number; proxyMs?: number; resolve: () => void }>();
  const settle = (id: number, fill: (w: { seen?: number; done?: number; proxyMs?: number }) => void) => {
    const w = waits.get(id);
    if (!w) return;
    fill(w);
    if (w.seen !== undefined && w.done !== undefined) w.resolve();
  };
  child.onLine(SYNC_SEEN, (rest) => {
    const [id, t] = rest.split(' ').map(Number) as [number, number];
    settle(id, (w) => (w.seen = t));
  });
  child.onLine(SYNC_DONE, (rest) => {
    const [id, t, ms] = rest.split(' ').map(Number) as [number, number, number];
    settle(id, (w) => ((w.done = t), (w.proxyMs = ms)));
  });

  const cpu = () => ({ t: nowMs(), proxy: cpuSeconds(child.pid), iptables: childrenCpuSeconds(child.pid), api: cpuSeconds(input.pids.api), nats: cpuSeconds(input.pids.nats) });
  const before = cpu();
  const samples: ChangeSample[] = [];
  const n = cluster.services.length;
  for (let c = 0; c < input.changes; c++) {
    const id = c;
    const i = (c * 7919 + (backend === 'iptables' ? 3 : 0)) % n;
    const resource = c % 2 === 0 ? 'endpoints' : 'services';
    const svc = cluster.services[i]!;
    const svcPorts = (svc.spec as { ports: Record<string, unknown>[] }).ports;
    let next: KObject;
    let port = svcPorts[0]!.port as number;
    let ips = endpointIPs(i, cluster.generations[i]!);
    if (resource === 'endpoints') {
      cluster.generations[i]!++;
      ips = endpointIPs(i, cluster.generations[i]!);
      next = { ...endpointsObject(i, cluster.generations[i]!), metadata: { ...cluster.endpoints[i]!.metadata } };
    } else {
      port = port === 80 ? 81 : 80;
      next = { ...svc, spec: { ...(svc.spec as object), ports: [{ ...svcPorts[0], port }] } };
    }
    const e: Expectation = {
      id,
      key: `${SYNC_NAMESPACE}/${serviceName(i)}:http/TCP`,
      resource,
      namespace: SYNC_NAMESPACE,
      name: serviceName(i),
      port,
      endpoints: endpointsText(ips.map((ip) => ({ ip, port: ENDPOINT_PORT }))),
    };
    const ack = child.nextLine(`${SYNC_EXPECTING} ${id}`, 10_000);
    child.send(`expect ${JSON.stringify(e)}`);
    await ack;
    const both = new Promise<void>((resolve) => waits.set(id, { resolve }));
    const t0 = nowMs();
    const stored = await client.update(next);
    const tWrite = nowMs();
    if (resource === 'endpoints') cluster.endpoints[i] = stored;
    else cluster.services[i] = stored;
    await withTimeout(Promise.race([both, child.died]), input.timeoutMs, `${backend}: change ${id} (${resource} ${serviceName(i)}) synced and seen`);
    const w = waits.get(id)!;
    waits.delete(id);
    samples.push({ id, resource, writeMs: tWrite - t0, seenMs: w.seen! - t0, syncedMs: w.done! - t0, proxyMs: w.proxyMs! });
    if ((c + 1) % 50 === 0) log(`${backend}: ${c + 1}/${input.changes} changes, last synced ${(w.done! - t0).toFixed(1)} ms after the write`);
    await sleep(input.gapMs * (1 + Math.random()));
  }
  const after = cpu();
  const wall = (after.t - before.t) / 1000;
  const cores = {
    proxy: (after.proxy - before.proxy) / wall,
    ...(backend === 'iptables' ? { 'iptables-save/restore': (after.iptables - before.iptables) / wall } : {}),
    'API server': (after.api - before.api) / wall,
    'nats-server': (after.nats - before.nats) / wall,
  };
  const statsLine = child.nextLine(SYNC_STATS, 10_000);
  child.send('stats');
  const stats = JSON.parse(await statsLine) as Record<string, unknown>;
  const rss = rssMB(child.pid);
  await child.stop();
  await netns?.close();
  const sum = (pick: (s: ChangeSample) => number, of = samples) => {
    const x = new Samples(of.length);
    for (const s of of) x.push(pick(s));
    return x.summary();
  };
  return {
    backend,
    spawnToReadyMs,
    first,
    samples,
    synced: sum((s) => s.syncedMs),
    seen: sum((s) => s.seenMs),
    write: sum((s) => s.writeMs),
    proxy: sum((s) => s.proxyMs),
    syncedByResource: {
      services: sum((s) => s.syncedMs, samples.filter((s) => s.resource === 'services')),
      endpoints: sum((s) => s.syncedMs, samples.filter((s) => s.resource === 'endpoints')),
    },
    cores,
    rssMB: rss,
    stats,
    netns: netns?.name,
  };
}

/** Both variants over one cluster; iptables only as root. */
export async function syncPhase(input: SyncPhaseInput): Promise<SyncPhaseResult> {
  const { log } = input;
  log(`sync: creating ${input.services} Services and their Endpoints`);
  const created = await createServices(input.client, input.services, input.timeoutMs * 10);
  log(`sync: ${input.services} Services + Endpoints created in ${(created.ms / 1000).toFixed(1)} s`);
  const cluster = { services: created.services, endpoints: created.endpoints, generations: created.services.map(() => 0) };
  const variants: SyncVariant[] = [];
  const skipped: string[] = [];
  for (const backend of input.backends) {
    if (backend === 'iptables' && process.getuid?.() !== 0) {
      skipped.push('iptables: not root (it creates a network namespace and programs iptables inside it)');
      continue;
    }
    variants.push(await syncVariant(input, backend, cluster));
  }
  return { createMs: created.ms, variants, skipped };
}

