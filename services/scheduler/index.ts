/**
 * The scheduler's front door. `startScheduler` watches nodes and pods, and
 * binds every pending pod that names this scheduler (or none) to a node:
 * filters (resources, node name, readiness, cordon, taints, selectors and
 * affinity, host ports), scores (load, image and affinity locality, spreading
 * a controller's pods), binding through the pod's /binding subresource, and
 * Events. Leader election and the health/metrics server wrap it from outside:
 * this runs while it leads, with the client it is given.
 */
import type { Informer } from '../lib/informer/index.js';
import { Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.js';

export type { SchedulerOptions, SchedulerStats } from './scheduler.js';
export type { BackOff, QueueLengths } from './queue/index.js';
export type { LatencySummary } from './latency.js';

export type RunningScheduler = {
  /** Stops taking pods, waits (bounded) for the bindings in flight, and stops its informers. */
  stop(): Promise<void>;
  stats(): SchedulerStats;
};

/** Resolves once the informers have synced and the scheduling loop runs. */
export async function startScheduler(opts: SchedulerOptions): Promise<RunningScheduler> {
  const informers: Informer[] = [];
  const stopInformers = () => Promise.all(informers.map((i) => i.stop().catch(() => undefined)));
  let scheduler: Scheduler;
  try {
    // Nodes first: the pending pods that arrive next find a cache that knows where they can go.
    informers.push(await opts.client.informer('nodes'));
    informers.push(await opts.client.informer('pods'));
    scheduler = new Scheduler(opts);
    scheduler.start(informers[0]!, informers[1]!);
  } catch (e) {
    await stopInformers();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        await scheduler.stop();
        await stopInformers();
      })()),
    stats: () => scheduler.stats(),
  };
}
