/**
 * Leader election for the scheduler and the controller-manager: the leader
 * statechart (statecharts/leader.machine.ts) run on a JetStream KV lease.
 *
 *   const election = await startLeaderElection({
 *     nc, election: 'kube-scheduler', identity,
 *     onStartedLeading: ({ token, signal }) => runScheduler(client.withToken(token), signal),
 *   });
 *   ...
 *   await election.stop(); // graceful: stops the work, deletes the lease, a standby takes over at once
 *
 * While leading, every write goes through a client carrying the token: the API
 * server refuses a token whose term was superseded (409), so a deposed leader can
 * never write. The leader also keeps the Lease `kube-system/<election>` up to date
 * for `kubectl get leases`.
 *
 * Defaults (LEADER_TIMING): lease 1.5 s, renew 0.5 s after each success, margin 0.25 s.
 *  - Crash → standby acting: the key outlives the leader's last renewal by one
 *    lease, and a follower's timer fires at that entry's created + lease (+5 ms),
 *    then one create: at most ~1.5 s plus a round trip (the target is p99 ≤ 2 s).
 *  - A leader acts until its last acknowledged send + 1.25 s: it rides out two lost
 *    renewals (retrying every 0.1 s meanwhile) before it stops.
 *  - The margin absorbs pauses (GC, a busy event loop) up to ~0.25 s and clock-rate
 *    drift (1e-4 × 1.5 s); past it, fencing keeps a late leader's writes out.
 *  - 2 writes/s per election: nothing for the store.
 *  - An R3 stream-leader failover stalls writes 5–6 s (FACTS.md), longer than the
 *    lease: the leader steps down and another is elected after the stall. Safe,
 *    with a gap; accepted.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/nats-core';
import { createActor, fromPromise, waitFor, type ActorRefFrom } from 'xstate';
import { startInspector, type Inspector } from '../inspect/index.js';
import { isLeading, LEADER_TIMING, leaderMachine, type LeaderSnapshot } from '../../../statecharts/leader.machine.js';
import { KeelsonClient } from '../client/index.js';
import { decodeElection, ElectionLease, ElectionsBucket, holderOf } from './elections-bucket.js';
import { followKv } from '../kv/index.js';
import { LeaseMirror } from './lease-mirror.js';
import { formatToken, isStaleLeaderToken } from './token.js';

export { ELECTIONS_BUCKET, ElectionsBucket, decodeElection, type Election, type LeaseRecord } from './elections-bucket.js';
export { LEASE_NAMESPACE, microTime } from './lease-mirror.js';
export {
  formatToken,
  isStaleLeaderToken,
  LEADER_TOKEN_HEADER,
  parseToken,
  STALE_LEADER_TOKEN,
  staleTokenError,
  type LeaderToken,
} from './token.js';

/** How often a leader writes its Lease `kube-system/<election>` by default. */
export const LEASE_MIRROR_MS = 2_000;

export type LeadingContext = {
  /** The fencing token (`election:term`): send it with every write (KeelsonClient `withToken`). */
  token: string;
  term: number;
  /** Aborted the moment leadership ends (deadline, deposed, stop): stop all work at once. */
  signal: AbortSignal;
  /** Where the work's actors report their transitions (live inspection): the candidate's own. */
  inspector: Inspector;
};

export type LeaderElectionOptions = {
  nc: NatsConnection;
  /** The election's name: the KV key and the Lease's name, e.g. `kube-scheduler`. */
  election: string;
  /** Who this candidate is, as shown to others. Default: `<hostname>_<random>`. */
  identity?: string;
  /** Lease duration; the bucket's TTL wins if the bucket already exists with another. */
  leaseMs?: number;
  renewMs?: number;
  marginMs?: number;
  retryMs?: number;
  /** Replicas of the elections bucket when it is created (default: as the object store's). */
  replicas?: number;
  /** Mirror the leader into the Lease `kube-system/<election>` (default true), every `mirrorMs` (2 s). */
  mirrorLease?: boolean;
  mirrorMs?: number;
  /** How long a graceful stop waits for the work to end before releasing (default 250 ms). */
  stopTimeoutMs?: number;
  /** Starts the work. A promise returned is awaited (bounded) before a graceful release. */
  onStartedLeading(ctx: LeadingContext): void | Promise<unknown>;
  onStoppedLeading?(): void;
  /** The holder changed, as this candidate sees it (undefined: nobody holds it). */
  onNewLeader?(identity: string | undefined): void;
  log?: (message: string) => void;
  /** Where the candidate's actor reports its transitions (live inspection); default: inspected on `nc` as `<election>/<identity>`. */
  inspector?: Inspector;
};

export type LeaderElection = {
  readonly identity: string;
  /** Leading and before the deadline: safe to act now. */
  readonly isLeader: boolean;
  /** The current holder as last seen. */
  readonly leader: string | undefined;
  /** The fencing token while leading. */
  readonly token: string | undefined;
  readonly leaseMs: number;
  readonly actor: ActorRefFrom<typeof leaderMachine>;
  /** Graceful: stops the work, then deletes the lease so that a standby takes over at once. */
  stop(): Promise<void>;
};

/** Election names are KV keys and Lease names: a DNS subdomain. */
const ELECTION_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export async function startLeaderElection(opts: LeaderElectionOptions): Promise<LeaderElection> {
  const { nc, election } = opts;
  const log = opts.log ?? (() => undefined);
  if (!ELECTION_NAME.test(election)) throw new Error(`election name "${election}" must be a DNS subdomain (lower case, digits, '-' and '.'), e.g. kube-scheduler`);
  const bucket = await openBucket(nc, opts);
  const leaseMs = bucket.leaseMs;
  if (opts.leaseMs && opts.leaseMs !== leaseMs) log(`leader election ${election}: the elections bucket's TTL is ${leaseMs} ms, so that is the lease (not ${opts.leaseMs} ms)`);
  const timing = { ...LEADER_TIMING, ...definedOnly({ renewMs: opts.renewMs, marginMs: opts.marginMs, retryMs: opts.retryMs }), leaseMs };
  if (!(timing.marginMs >= 0 && timing.renewMs > 0 && timing.renewMs < leaseMs - timing.marginMs)) {
    throw new Error(`leader election ${election}: need 0 < renewMs (${timing.renewMs}) < leaseMs (${leaseMs}) − marginMs (${timing.marginMs})`);
  }
  const identity = opts.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
  const lease = new ElectionLease(bucket, election, identity, randomUUID());
  // A candidate is a component of its own in inspection (`kube-scheduler/master-1`,
  // actor `leader/kube-scheduler`), and its leader's work reports there too.
  const ownInspector = opts.inspector ? undefined : startInspector(nc, `${election}/${identity}`);
  const inspector = opts.inspector ?? ownInspector!;
  const tracked = inspector.track(`leader/${election}`, 'leader');
  const stopTimeoutMs = opts.stopTimeoutMs ?? 250;
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };

  /** The work of the current (or last) term. */
  let work: { abort: AbortController; done: Promise<unknown>; mirror?: LeaseMirror; mirrored: Promise<void> } | undefined;
  let lastRenewMs = 0;

  const startWork = (term: number) => {
    const token = formatToken(election, term);
    const abort = new AbortController();
    let done: Promise<unknown>;
    try {
      done = Promise.resolve(opts.onStartedLeading({ token, term, signal: abort.signal, inspector })).catch((e) => log(`leader election ${election}: the leader's work failed: ${(e as Error).message}`));
    } catch (e) {
      log(`leader election ${election}: onStartedLeading threw: ${(e as Error).message}`);
      done = Promise.resolve();
    }
    const mirror = opts.mirrorLease === false ? undefined : new LeaseMirror(new KeelsonClient(nc, { timeoutMs: 2_000 }).withToken(token), election, identity, leaseMs, Date.now());
    const mirrored = mirror ? keepMirrored(mirror, abort.signal, opts.mirrorMs ?? LEASE_MIRROR_MS, () => lastRenewMs, log) : Promise.resolve();
    work = { abort, done, mirror, mirrored };
  };
  const stopWork = () => {
    if (!work || work.abort.signal.aborted) return;
    work.abort.abort(new Error(`no longer the ${election} leader`));
    try {
      opts.onStoppedLeading?.();
    } catch (e) {
      log(`leader election ${election}: onStoppedLeading threw: ${(e as Error).message}`);
    }
  };

  const machine = leaderMachine.provide({
    actors: {
      acquire: fromPromise(async ({ input, signal }) => {
        const out = await lease.acquire();
        if (out.acquired) {
          lastRenewMs = out.sentMs;
          // Stopped while the create was on its way: do not sit on the lease until it expires.
          if (signal.aborted) track(lease.release({ ...input, term: out.term, revision: out.revision }).catch(() => undefined));
        }
        return out;
      }),
      renew: fromPromise(async ({ input }) => {
        const out = await lease.renew(input);
        lastRenewMs = out.sentMs;
        return out;
      }),
      release: fromPromise(async ({ input }) => {
        // The work was aborted on leaving Leader; its last writes land before the lease goes.
        const last = work;
        if (last) {
          await within(Promise.all([last.done, last.mirrored]), stopTimeoutMs);
          if (last.mirror) await within(last.mirror.release(Date.now()), 200);
        }
        await lease.release(input);
      }),
    },
    actions: {
      startLeading: ({ context }) => startWork(context.term),
      stopLeading: () => stopWork(),
    },
  });
  const actor = createActor(machine, { input: { identity, ...timing }, systemId: `leader-election-${election}`, inspect: tracked.inspect });

  let lastLeader: string | undefined;
  const leaderOf = (s: LeaderSnapshot) => (s.hasTag('leading') ? identity : s.context.holder?.identity);
  actor.subscribe((s) => {
    const now = leaderOf(s);
    if (now === lastLeader) return;
    lastLeader = now;
    try {
      opts.onNewLeader?.(now);
    } catch (e) {
      log(`leader election ${election}: onNewLeader threw: ${(e as Error).message}`);
    }
  });
  actor.start();

  const follow = followKv(nc, bucket.kv, { key: election, log }, (e) => {
    if (actor.getSnapshot().status !== 'active') return;
    const rec = decodeElection(e);
    if (rec) actor.send({ type: 'HOLDER', holder: holderOf(rec), nowMs: Date.now() });
    else if (e.operation !== 'PUT') actor.send({ type: 'RELEASED', revision: e.revision, nowMs: Date.now() });
  });
  // Without a connection nothing can be renewed: stop at once rather than at the deadline.
  void nc.closed().then(() => {
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'STOP' });
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'STOP' });
      await waitFor(actor, (s) => s.status === 'done', { timeout: leaseMs + stopTimeoutMs + 2_000 }).catch(() => actor.stop());
      await follow.stop();
      await Promise.allSettled([...background]);
      tracked.done();
      await ownInspector?.stop();
    })());

  // Resolve once the first attempt is decided, so that `leader` means something.
  await waitFor(actor, (s) => !s.matches({ Candidate: 'Acquiring' }), { timeout: leaseMs }).catch(() => undefined);

  return {
    identity,
    leaseMs,
    actor,
    get isLeader() {
      return isLeading(actor.getSnapshot(), Date.now());
    },
    get leader() {
      return leaderOf(actor.getSnapshot());
    },
    get token() {
      const s = actor.getSnapshot();
      return isLeading(s, Date.now()) ? formatToken(election, s.context.term) : undefined;
    },
    stop,
  };
}

/** Opens (or creates) the bucket, retrying while a new cluster elects its JetStream leader. */
async function openBucket(nc: NatsConnection, opts: LeaderElectionOptions): Promise<ElectionsBucket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ElectionsBucket.open(nc, { leaseMs: opts.leaseMs ?? LEADER_TIMING.leaseMs, replicas: opts.replicas });
    } catch (e) {
      if (attempt >= 40 || nc.isClosed()) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Writes the Lease now and every `everyMs` until the signal aborts; failures are logged once per streak. */
async function keepMirrored(mirror: LeaseMirror, signal: AbortSignal, everyMs: number, renewedMs: () => number, log: (m: string) => void): Promise<void> {
  let failing = false;
  while (!signal.aborted) {
    try {
      await mirror.write(renewedMs() || Date.now());
      if (failing) log(`leader election ${mirror.election}: the Lease kube-system/${mirror.election} is written again`);
      failing = false;
    } catch (e) {
      if (isStaleLeaderToken(e)) return;
      if (!failing) log(`leader election ${mirror.election}: could not write the Lease kube-system/${mirror.election}: ${(e as Error).message}`);
      failing = true;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, everyMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}

/** Waits for `p`, but no longer than `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
