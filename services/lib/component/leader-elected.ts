/**
 * A control-plane component that works only while it leads: the scheduler and
 * the controller-manager. Each leader term gets its own work, started with a
 * client whose writes carry the term's fencing token, and stopped the moment
 * the term ends (deadline missed, deposed, or a graceful stop that then hands
 * the lease over).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeelsonClient } from '../client/index.js';
import type { Inspector } from '../inspect/index.js';
import { startLeaderElection, type LeaderElection } from '../leader-election/index.js';

export type LeaderElectedOptions<W extends { stop(): Promise<void> }> = {
  client: KeelsonClient;
  /** `kube-scheduler`, `kube-controller-manager`. */
  election: string;
  identity?: string;
  leaseMs?: number;
  /** Starts one term's work with the leader's client (and the candidate's inspector, for the work's actors). */
  start: (client: KeelsonClient, inspector: Inspector) => Promise<W>;
  log?: (message: string) => void;
};

export type LeaderElected<W> = {
  readonly election: LeaderElection;
  /** The work of the current term, while leading. */
  current(): W | undefined;
  /** Stops the work and releases the lease (a standby takes over at once). */
  stop(): Promise<void>;
};

/** The first pause after a failed start, and the longest. */
const START_RETRY_MS = 250;
const MAX_START_RETRY_MS = 4_000;

export async function runLeaderElected<W extends { stop(): Promise<void> }>(opts: LeaderElectedOptions<W>): Promise<LeaderElected<W>> {
  const log = opts.log ?? (() => undefined);
  let current: W | undefined;
  const election = await startLeaderElection({
    nc: opts.client.nc,
    election: opts.election,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    log,
    onNewLeader: (who) => log(`${opts.election}: leader is now ${who ?? '(none)'}`),
    onStartedLeading: async ({ token, signal, inspector }) => {
      log(`${opts.election}: leading (${token})`);
      // Starting needs the store (informers list everything): during a store
      // failover it fails for a few seconds. A leader that gave up would hold
      // the lease and do nothing, so it keeps trying for as long as it leads.
      let work: W | undefined;
      for (let pause = START_RETRY_MS; !work && !signal.aborted; pause = Math.min(pause * 2, MAX_START_RETRY_MS)) {
        try {
          work = await opts.start(opts.client.withToken(token), inspector);
        } catch (e) {
          log(`${opts.election}: could not start work (${(e as Error).message}); trying again in ${pause} ms`);
          await sleep(pause, undefined, { signal }).catch(() => undefined); // an abort ends the pause
        }
      }
      if (!work) {
        log(`${opts.election}: stopped leading before its work started`);
        return;
      }
      if (!signal.aborted) {
        current = work;
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        current = undefined;
      }
      log(`${opts.election}: stopped leading`);
      await work.stop().catch((e: Error) => log(`${opts.election}: work did not stop cleanly: ${e.message}`));
    },
  });
  return { election, current: () => current, stop: () => election.stop() };
}
