/**
 * The raw baseline of the hollow nodes' heartbeats: N node leases renewed with
 * a bare `kv.put` from one process on one NATS connection, on the kubelet's
 * schedule (the next renewal `heartbeatMs` after the previous one finished),
 * each put carrying the protobuf Lease with a fresh renewTime — what N
 * heartbeats cost JetStream with no API server, no client and no kubelet:
 *
 *   node [--import tsx] bench/lib/raw-leases-child.(ts|js) '<json RawLeasesConfig>'
 *
 * The first renewals are spread evenly over one period. Prints
 * `RAW-LEASES-READY <count> <ms>` once every lease was written once; answers
 * `stats` with `RAW-LEASES-STATS <json>`; stops on SIGTERM or when stdin closes.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resourceForKind, type KObject } from '../../services/lib/api/resources.js';
import { encodeObject } from '../../services/lib/codec/index.js';
import { connectNats } from '../../services/lib/nats/index.js';
import { Store, storeKey } from '../../services/lib/store/index.js';
import { serveCommands } from './child-commands.js';
import { leaseNodeName, LOOP_RESOLUTION_MS, loopDelay, RAW_READY, RAW_STATS, type RawLeasesConfig, type RawStats } from './lease-protocol.js';

const LEASES = resourceForKind('Lease')!;
const NAMESPACE = 'kube-node-lease';
const HARD_LIMIT_MS = 40 * 60_000;

/** Kubernetes' metav1.MicroTime, as the kubelet writes renewTime. */
function microTime(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const micros = Math.min(999, Math.round((epochMs - whole) * 1000));
  return `${new Date(whole).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

function lease(name: string, nowMs: number): KObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: NAMESPACE },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(nowMs) },
  };
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as RawLeasesConfig;
  const t0 = performance.now();
  const nc = await connectNats(cfg.nats, 'keelson-bench-raw-leases');
  const store = await Store.open(nc, { bucket: cfg.bucket, bindOnly: true });
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const stats: Omit<RawStats, 'eventLoopDelayMs'> = { puts: 0, failures: 0, firstError: '' };
  let stopping = false;
  const timers = new Set<NodeJS.Timeout>();

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearTimeout(t);
    setTimeout(() => process.exit(1), 10_000).unref();
    await nc.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  setTimeout(() => void stop(), HARD_LIMIT_MS).unref();
  serveCommands(() => void stop(), {
    stats: () => process.stdout.write(`${RAW_STATS} ${JSON.stringify({ ...stats, eventLoopDelayMs: loopDelay(loop) } satisfies RawStats)}\n`),
    'reset-loop': () => loop.reset(),
  });

  let firstRound = cfg.count;
  const renew = async (name: string, key: string) => {
    try {
      await store.kv.put(key, encodeObject(LEASES.protoType, lease(name, performance.timeOrigin + performance.now())));
      stats.puts++;
    } catch (e) {
      stats.failures++;
      stats.firstError ||= (e as Error).message;
    }
  };
  const schedule = (name: string, key: string, delayMs: number, first: boolean) => {
    if (stopping) return;
    const t = setTimeout(() => {
      timers.delete(t);
      void renew(name, key).then(() => {
        if (first && --firstRound === 0) process.stdout.write(`${RAW_READY} ${cfg.count} ${Math.round(performance.now() - t0)}\n`);
        schedule(name, key, cfg.heartbeatMs, false);
      });
    }, delayMs);
    timers.add(t);
  };
  for (let i = 0; i < cfg.count; i++) {
    const name = leaseNodeName(cfg.prefix, i);
    schedule(name, storeKey(LEASES, NAMESPACE, name), (i * cfg.heartbeatMs) / cfg.count, true);
  }
}

main().catch((e) => {
  process.stderr.write(`raw leases child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
