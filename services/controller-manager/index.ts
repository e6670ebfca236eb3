/**
 * The controller-manager's front door: every controller of this folder started
 * on one set of shared informers with one client (the leader's, carrying its
 * fencing token), and stopped together. Leader election and the health server
 * wrap this from outside (the CLI); this starts the work of one leader term.
 */
import type { Inspector } from '../lib/inspect/index.js';
import type { KeelsonClient } from '../lib/client/index.js';
import type { ControllerStats } from '../lib/controller/index.js';
import { controllerContext, type ControllerContext, type ControllerManagerOptions, type RunningController } from './context.js';
import { startDeploymentController } from './deployment.controller.js';
import { startEndpointsController } from './endpoints.controller.js';
import { startGarbageCollectorController } from './garbage-collector.controller.js';
import { startNodeLifecycleController } from './node-lifecycle.controller.js';
import { startReplicaSetController, startReplicationController } from './replication.controller.js';

export { controllerContext, DEFAULT_CONTROLLER_MANAGER_OPTIONS, type ControllerContext, type ControllerManagerOptions, type RunningController } from './context.js';

/** Every controller, by the name `--controllers` uses. */
export const CONTROLLERS: Record<string, (ctx: ControllerContext) => Promise<RunningController>> = {
  replicationcontroller: startReplicationController,
  replicaset: startReplicaSetController,
  deployment: startDeploymentController,
  endpoints: startEndpointsController,
  nodelifecycle: startNodeLifecycleController,
  garbagecollector: startGarbageCollectorController,
};

export type ControllerManagerStartOptions = {
  client: KeelsonClient;
  options?: Partial<ControllerManagerOptions>;
  /** Which controllers to run (default: all of CONTROLLERS). */
  controllers?: string[];
  log?: (message: string) => void;
  /** Where the controllers' actors (a node lifecycle per node) report their transitions. */
  inspector?: Inspector;
};

export type ControllerManager = {
  stats(): Record<string, ControllerStats>;
  stop(): Promise<void>;
};

export async function startControllerManager(opts: ControllerManagerStartOptions): Promise<ControllerManager> {
  const names = opts.controllers ?? Object.keys(CONTROLLERS);
  for (const n of names) {
    if (!CONTROLLERS[n]) throw new Error(`unknown controller "${n}"; known: ${Object.keys(CONTROLLERS).join(', ')}`);
  }
  const log = opts.log ?? (() => undefined);
  const ctx = controllerContext({ client: opts.client, ...(opts.options ? { options: opts.options } : {}), ...(opts.inspector ? { inspector: opts.inspector } : {}), log });
  const informers = ctx.informers;
  const running: RunningController[] = [];
  const stop = async () => {
    await Promise.all(running.splice(0).map((c) => c.stop().catch((e: Error) => log(`controller ${c.name} did not stop cleanly: ${e.message}`))));
    await informers.stop();
  };
  try {
    for (const n of names) running.push(await CONTROLLERS[n]!(ctx));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    stats: () => Object.fromEntries(running.map((c) => [c.name, c.stats()])),
    stop,
  };
}
