/**
 * The scheduler as a child process of the scheduler benchmark, so that its
 * CPU and memory are read alone:
 *
 *   node [--import tsx] bench/lib/scheduler-child.(ts|js) '<json SchedulerChildConfig>'
 *
 * Prints on stdout:
 *   SCHED-READY <ms>       once startScheduler resolved (informers synced, loop running)
 *   SCHED-STATS <json>     in answer to a "stats" line on stdin: stats() + event-loop delay + log counts
 * Stops (scheduler, then its NATS connection) on SIGTERM/SIGINT or when stdin
 * closes (the parent is gone); exits after a hard limit in any case.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { startScheduler, type RunningScheduler } from '../../services/scheduler/index.js';
import { serveChild } from './child-commands.js';
import { SCHED_READY, SCHED_STATS, type SchedulerChildConfig } from './scheduler-cluster.js';

const HARD_LIMIT_MS = 30 * 60_000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as SchedulerChildConfig;
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // The scheduler's log, counted: a storm of "dropped an Event" lines must not flood the parent.
  const logCounts = new Map<string, number>();
  let printed = 0;
  const log = (m: string) => {
    const kind = m.replace(/[0-9a-f-]{8,}|\d+/g, '#').slice(0, 100);
    logCounts.set(kind, (logCounts.get(kind) ?? 0) + 1);
    if (printed++ < 20) process.stderr.write(`${m}\n`);
  };
  const client = await KeelsonClient.connect(cfg.natsUrl, 'keelson-bench-scheduler', { timeoutMs: 30_000 });
  let scheduler: RunningScheduler | undefined;
  const cleanup = async () => {
    await scheduler?.stop().catch(() => undefined);
    await client.close().catch(() => undefined);
  };
  serveChild({ hardLimitMs: HARD_LIMIT_MS, cleanup }, {
    stats: () => {
      const stats = {
        ...scheduler!.stats(),
        loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        log: Object.fromEntries(logCounts),
      };
      process.stdout.write(`${SCHED_STATS} ${JSON.stringify(stats)}\n`);
    },
    'reset-loop': () => loop.reset(),
  });
  scheduler = await startScheduler({ client, bindParallelism: cfg.bindParallelism, percentageOfNodesToScore: cfg.percentageOfNodesToScore, eventsInFlight: cfg.eventsInFlight, log });
  process.stdout.write(`${SCHED_READY} ${Math.round(performance.now() - t0)}\n`);
}

main().catch((e) => {
  process.stderr.write(`scheduler child failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
