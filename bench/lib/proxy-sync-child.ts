/**
 * Keelson's proxy front door as a child process of the proxy benchmark's sync
 * phase: startProxy (informers on Services and Endpoints → the service map →
 * one backend) with a UserspaceBackend (node ports on `bindAddress`, cluster
 * IPs off) or an IptablesBackend writing into the network namespace `netns`.
 * Beside it, in the same process and on the same NATS connection, two bare
 * store watches (services, endpoints): the raw baseline, what any consumer of
 * a change waits for.
 *
 *   node proxy-sync-child.js '<json SyncChildConfig>'
 *
 * Prints `PROXY-SYNC-READY <json FirstSync>` once the proxy runs. Then, for
 * each `expect <json Expectation>` line it answers `PROXY-SYNC-EXPECTING <id>`
 * and later `PROXY-SYNC-SEEN <id> <t>` (a bare watch got the write) and
 * `PROXY-SYNC-DONE <id> <t> <ms>` (the first sync after which the service
 * port has exactly the expected port and endpoints; ms is the proxy's own
 * figure, first change seen → sync done). t is CLOCK_MONOTONIC in ms, the
 * bench's clock too. `stats` answers `PROXY-SYNC-STATS <json>`. Stops (proxy
 * stopped: listeners closed or rules removed) on SIGTERM or when stdin closes.
 */
import { KeelsonClient } from '../../services/lib/client/index.js';
import type { StoreEvent } from '../../services/lib/store/index.js';
import { startProxy, type Proxy, type ServicePort } from '../../services/proxy/index.js';
import { IptablesBackend, netnsRunner } from '../../services/proxy/iptables/index.js';
import { UserspaceBackend } from '../../services/proxy/userspace/index.js';
import { serveChild } from './child-commands.js';
import { endpointsText, SYNC_DONE, SYNC_EXPECTING, SYNC_READY, SYNC_SEEN, SYNC_STATS, type Expectation, type FirstSync, type SyncChildConfig } from './proxy-protocol.js';
import { nowMs } from './stats.js';

const HARD_LIMIT_MS = 40 * 60_000;

/** The service port `key` in `ports` (sorted by key, as the front door keeps them). */
function find(ports: ServicePort[], key: string): ServicePort | undefined {
  let lo = 0;
  let hi = ports.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = ports[mid]!.key;
    if (k === key) return ports[mid];
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as SyncChildConfig;
  const logs = new Map<string, number>();
  const log = (m: string) => {
    const kind = m.replace(/\d+/g, '#').slice(0, 120);
    logs.set(kind, (logs.get(kind) ?? 0) + 1);
    if (logs.get(kind)! <= 3) process.stderr.write(`${m}\n`);
  };
  const client = await KeelsonClient.connect(cfg.natsUrl, `keelson-bench-proxy-${cfg.backend}`, { timeoutMs: 30_000 });

  // Changes being waited for: by id for the proxy, by `resource/namespace/name` for the bare watches.
  const pending = new Map<number, Expectation>();
  const unseen = new Map<string, number>();
  let rawObjects = 0;
  const watcher = (resource: 'services' | 'endpoints') => (ev: StoreEvent) => {
    rawObjects++;
    const id = unseen.get(`${resource}/${ev.key.namespace}/${ev.key.name}`);
    if (id === undefined) return;
    unseen.delete(`${resource}/${ev.key.namespace}/${ev.key.name}`);
    process.stdout.write(`${SYNC_SEEN} ${id} ${nowMs()}\n`);
  };
  const t0 = nowMs();
  const watches = await Promise.all([client.watch('services', undefined, watcher('services')), client.watch('endpoints', undefined, watcher('endpoints'))]);
  await Promise.all(watches.map((w) => w.synced));
  const rawWatchSyncMs = nowMs() - t0;
  const rawSeen = rawObjects;

  const userspace = cfg.backend === 'userspace' ? new UserspaceBackend({ bindAddress: cfg.bindAddress, clusterIPs: false, log }) : undefined;
  const iptables = cfg.backend === 'iptables' ? new IptablesBackend({ run: netnsRunner(cfg.netns!), log }) : undefined;
  const t1 = nowMs();
  const proxy: Proxy = await startProxy({ client, backends: [userspace ?? iptables!], log });
  const proxyStartMs = nowMs() - t1;
  proxy.onSync((ms) => {
    if (!pending.size) return;
    const t = nowMs();
    const ports = proxy.current();
    for (const [id, e] of pending) {
      const p = find(ports, e.key);
      if (!p || p.port !== e.port || endpointsText(p.endpoints) !== e.endpoints) continue;
      pending.delete(id);
      process.stdout.write(`${SYNC_DONE} ${id} ${t} ${ms}\n`);
    }
  });

  const cleanup = async () => {
    await Promise.all(watches.map((w) => w.stop())).catch(() => undefined);
    await proxy.stop().catch((e: Error) => process.stderr.write(`proxy stop: ${e.message}\n`));
    await client.close().catch(() => undefined);
  };
  serveChild({ hardLimitMs: HARD_LIMIT_MS, cleanup }, {
    expect: (arg) => {
      const e = JSON.parse(arg) as Expectation;
      pending.set(e.id, e);
      unseen.set(`${e.resource}/${e.namespace}/${e.name}`, e.id);
      process.stdout.write(`${SYNC_EXPECTING} ${e.id}\n`);
    },
    stats: () => {
      const backend = userspace ? (({ servicePorts: _omit, ...rest }) => rest)(userspace.stats()) : iptables!.lastSync();
      process.stdout.write(`${SYNC_STATS} ${JSON.stringify({ proxy: proxy.stats(), backend, log: Object.fromEntries(logs) })}\n`);
    },
  });

  const stats = proxy.stats();
  const first: FirstSync = {
    rawWatchSyncMs,
    rawObjects: rawSeen,
    proxyStartMs,
    backendFirstSyncMs: userspace ? userspace.stats().lastSyncMs : (iptables!.lastSync()?.totalMs ?? NaN),
    servicePorts: stats.servicePorts,
    syncErrors: stats.syncErrors,
    endpoints: stats.endpoints,
    ...(userspace ? { listeners: userspace.stats().listeners, pendingListeners: userspace.stats().pendingListeners } : {}),
    ...(iptables ? { chains: iptables.lastSync()?.chains, rules: iptables.lastSync()?.rules } : {}),
  };
  process.stdout.write(`${SYNC_READY} ${JSON.stringify(first)}\n`);
}

main().catch((e) => {
  process.stderr.write(`proxy sync child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
