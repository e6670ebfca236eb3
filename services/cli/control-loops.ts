/**
 * `keelson scheduler` and `keelson controller-manager`: leader-elected control
 * loops. Any number may run against one cluster; one of each acts, the others
 * stand by and take over when its lease runs out (or at once on SIGTERM).
 * Health and metrics on 10251 / 10252.
 */
import { NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { parseArgs } from 'node:util';
import { KeelsonClient } from '../lib/client/index.js';
import { metric, runLeaderElected, serveComponent, type Metric } from '../lib/component/index.js';
import { startControllerManager, type ControllerManager } from '../controller-manager/index.js';
import { startScheduler, type RunningScheduler } from '../scheduler/index.js';

export const CONTROL_LOOPS_HELP = `  scheduler          Binds pending pods to nodes (leader-elected; health and metrics on --port 10251)
  controller-manager Replication, Deployment, Endpoints, node lifecycle, garbage collection
                     (leader-elected; health and metrics on --port 10252)
      --port N           health/metrics port; --host ADDR its address (default 0.0.0.0)
      --identity ID      this candidate's name in the election (default <hostname>_<random>)
      --node-grace-ms N  (controller-manager) lease age that makes a node Unknown (default 5000)
      --eviction-ms N    (controller-manager) how long pods tolerate an unhealthy node (default 5000)
      --unreachable-eviction-ms N  (controller-manager) the same for a node whose lease ran out,
                         if shorter or longer than for one that says it is not ready (default: --eviction-ms)
`;

type Kind = 'scheduler' | 'controller-manager';

export type ControlLoopOptions = {
  /** The NATS connection the loop works through (the caller closes it). */
  client: KeelsonClient;
  /** Health and metrics server. */
  host: string;
  port: number;
  identity?: string;
  /** controller-manager: lease age that makes a node Unknown, and how long pods tolerate an unhealthy (an unreachable) node. */
  nodeGraceMs?: number;
  evictionMs?: number;
  unreachableEvictionMs?: number;
  log: (message: string) => void;
};

export type ControlLoop = { identity: string; election: string; healthUrl: string; stop(): Promise<void> };

/** One leader-elected candidate with its health and metrics server; `stop()` hands the lease over and closes the server. */
export async function startControlLoop(kind: Kind, o: ControlLoopOptions): Promise<ControlLoop> {
  const { client, log } = o;
  const election = kind === 'scheduler' ? 'kube-scheduler' : 'kube-controller-manager';
  const loop = await runLeaderElected<RunningScheduler | ControllerManager>({
    client,
    election,
    ...(o.identity ? { identity: o.identity } : {}),
    log,
    start: (leader, inspector) =>
      kind === 'scheduler'
        ? startScheduler({ client: leader, log })
        : startControllerManager({
            client: leader,
            log,
            inspector,
            options: {
              ...(o.nodeGraceMs !== undefined ? { nodeMonitorGracePeriodMs: o.nodeGraceMs } : {}),
              ...(o.evictionMs !== undefined ? { podEvictionTimeoutMs: o.evictionMs } : {}),
              ...(o.unreachableEvictionMs !== undefined ? { unreachableEvictionTimeoutMs: o.unreachableEvictionMs } : {}),
            },
          }),
  });
  const server = await serveComponent({
    name: election,
    host: o.host,
    port: o.port,
    healthz: () => ({ ok: !client.nc.isClosed(), message: 'the NATS connection is closed' }),
    // A standby is ready too: it is doing its job, which is to wait.
    readyz: () => ({ ok: !client.nc.isClosed(), message: 'the NATS connection is closed' }),
    metrics: () => loopMetrics(election, loop.election.isLeader, loop.current()),
  }).catch(async (e) => {
    await loop.stop();
    throw e;
  });
  return {
    identity: loop.election.identity,
    election,
    healthUrl: `${server.url}/healthz`,
    stop: async () => {
      await loop.stop();
      await server.close();
    },
  };
}

/** The flags both loops take (and `keelson server`, which runs both). */
export const CONTROL_LOOP_FLAGS = {
  identity: { type: 'string' },
  'node-grace-ms': { type: 'string' },
  'eviction-ms': { type: 'string' },
  'unreachable-eviction-ms': { type: 'string' },
} as const;

/** The node lifecycle's times from CONTROL_LOOP_FLAGS' values. */
export function nodeLifecycleFlags(values: { 'node-grace-ms'?: string; 'eviction-ms'?: string; 'unreachable-eviction-ms'?: string }): Pick<
  ControlLoopOptions,
  'nodeGraceMs' | 'evictionMs' | 'unreachableEvictionMs'
> {
  return {
    nodeGraceMs: wholeFlag(values['node-grace-ms'], '--node-grace-ms'),
    evictionMs: wholeFlag(values['eviction-ms'], '--eviction-ms'),
    unreachableEvictionMs: wholeFlag(values['unreachable-eviction-ms'], '--unreachable-eviction-ms'),
  };
}

/** A whole number >= 0 from a flag, or undefined when the flag is absent. */
export function wholeFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number >= 0, not "${v}"`);
  return n;
}

/** `keelson scheduler` / `keelson controller-manager`. */
export async function runControlLoop(kind: Kind, argv: string[], onStop: (stop: () => Promise<void>) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...NATS_FLAGS,
      port: { type: 'string', default: kind === 'scheduler' ? '10251' : '10252' },
      host: { type: 'string', default: '0.0.0.0' },
      ...CONTROL_LOOP_FLAGS,
    },
  });
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const port = wholeFlag(values.port, '--port')!;
  const lifecycle = nodeLifecycleFlags(values);
  const client = await KeelsonClient.connect(natsFlagTarget(values), `keelson-${kind}`);
  const loop = await startControlLoop(kind, { client, host: values.host, port, identity: values.identity, ...lifecycle, log }).catch(async (e) => {
    await client.close();
    throw e;
  });
  onStop(async () => {
    await loop.stop();
    await client.close();
  });
  process.stdout.write(`keelson ${kind}: candidate ${loop.identity} in election ${loop.election}; health on ${loop.healthUrl}\n`);
}

function loopMetrics(election: string, leading: boolean, work: RunningScheduler | ControllerManager | undefined): Metric[] {
  const out: Metric[] = [metric('keelson_leader_election_master_status', 'gauge', 'Whether this instance leads (1) or stands by (0).', leading ? 1 : 0, { name: election })];
  if (!work) return out;
  const stats = work.stats() as unknown as Record<string, unknown>;
  const samples = (prefix: string, obj: Record<string, unknown>, labels: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'number') out.push(metric(`${prefix}_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, 'gauge', `${k} (see stats()).`, v, labels));
    }
  };
  if ('scheduled' in stats) samples('keelson_scheduler', stats);
  else for (const [name, s] of Object.entries(stats)) samples('keelson_controller', s as Record<string, unknown>, { controller: name });
  return out;
}
