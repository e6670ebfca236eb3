/**
 * N hollow nodes in one process, as a child of the kubelet benchmark: N
 * kubelets (`startKubelet`, each with its own FakeRuntime, so its own NATS
 * connection, pod informer and lifecycle actor — exactly what `keelson kubelet
 * --runtime fake` runs, N times):
 *
 *   node [--import tsx] bench/lib/hollow-nodes-child.(ts|js) '<json config>'
 *
 * Starts them `parallel` at a time and prints on stdout:
 *   HOLLOW-PROGRESS <ready> <failed> <ms since start>   about once a second
 *   HOLLOW-READY <ready> <failed> <ms> <first error>    when all have started (or the start deadline passed)
 *   HOLLOW-STATS <json>                                 in answer to a "stats" line on stdin
 * `reset-loop` on stdin restarts the event-loop delay histogram, `heap <file>`
 * writes a heap snapshot. On SIGTERM/SIGINT, or when stdin closes (the parent
 * is gone), stops every kubelet (bounded) and exits; also after a hard limit.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { FakeRuntime } from '../../services/kubelet/runtime/index.js';
import { serveCommands } from './child-commands.js';
import {
  HOLLOW_PROGRESS,
  HOLLOW_READY,
  HOLLOW_STATS,
  leaseNodeName,
  LOOP_RESOLUTION_MS,
  loopDelay,
  type HollowConfig,
  type HollowStats,
} from './lease-protocol.js';

const HARD_LIMIT_MS = 40 * 60_000;
const STOP_BOUND_MS = 60_000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as HollowConfig;
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const kubelets: Kubelet[] = [];
  let failed = 0;
  let firstError = '';
  let stopping = false;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(code || 1), STOP_BOUND_MS + 5_000).unref();
    const all = [...kubelets];
    let next = 0;
    const deadline = performance.now() + STOP_BOUND_MS;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < all.length && performance.now() < deadline) await all[next++]!.stop().catch(() => undefined);
      }),
    );
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  setTimeout(() => void stop(1), HARD_LIMIT_MS).unref();
  serveCommands(() => void stop(0), {
    stats: () => process.stdout.write(`${HOLLOW_STATS} ${JSON.stringify(stats(kubelets, loop))}\n`),
    'reset-loop': () => loop.reset(),
  });

  const progress = setInterval(() => process.stdout.write(`${HOLLOW_PROGRESS} ${kubelets.length} ${failed} ${ms()}\n`), 1_000);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(cfg.parallel, cfg.count) }, async () => {
      while (next < cfg.count && !stopping && ms() < cfg.startDeadlineMs) {
        const nodeName = leaseNodeName(cfg.prefix, next++);
        try {
          const kubelet = await startKubelet({
            nats: [cfg.nats],
            nodeName,
            runtime: new FakeRuntime({ images: ['busybox:latest'] }),
            heartbeatMs: cfg.heartbeatMs,
            statusMs: cfg.statusMs,
            log: (m) => process.stderr.write(`${m}\n`),
          });
          if (stopping) await kubelet.stop();
          else kubelets.push(kubelet);
        } catch (e) {
          failed++;
          firstError ||= `${nodeName}: ${(e as Error).message}`;
        }
      }
    }),
  );
  clearInterval(progress);
  loop.reset();
  process.stdout.write(`${HOLLOW_READY} ${kubelets.length} ${failed} ${ms()} ${firstError.replace(/\n/g, ' ')}\n`);
}

/** What the parent asks for after the heartbeat window: how the kubelets and the event loop fared. */
function stats(kubelets: Kubelet[], loop: ReturnType<typeof monitorEventLoopDelay>): HollowStats {
  let ready = 0;
  let leaseFailuresNow = 0;
  const errors = new Map<string, number>();
  for (const k of kubelets) {
    const s = k.actor.getSnapshot();
    if (s.matches({ Online: 'Ready' })) ready++;
    leaseFailuresNow += s.context.leaseFailures;
    if (s.context.lastError) errors.set(s.context.lastError, (errors.get(s.context.lastError) ?? 0) + 1);
  }
  const top = [...errors.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { kubelets: kubelets.length, ready, leaseFailuresNow, errors: top, eventLoopDelayMs: loopDelay(loop) };
}

main().catch((e) => {
  process.stderr.write(`hollow nodes child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
