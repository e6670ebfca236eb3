/**
 * Leader election on a lease held in a key-value store with compare-and-swap and
 * a server-side expiry (a JetStream KV bucket whose TTL is the lease duration).
 * One actor per candidate. Pure: the service supplies the three actors and the two
 * leadership actions with `.provide()`, and turns the store's watch into HOLDER /
 * RELEASED events; every time comes in from outside (events and actor outputs carry
 * the local clock), so the machine never reads a clock of its own.
 *
 *                              held by another
 *   Candidate ─────────────────────────────────────────► Follower
 *   (Acquiring (Current → Superseded) ⇄ BackOff) ◄── timer at created + lease, or RELEASED
 *        │ acquired in time                                 ▲
 *        ▼                                                  │ HOLDER of a newer term
 *   Leader ∥ Lease    (Waiting → Renewing ⇄ RetryWait) ─────┘
 *          ∥ Deadline (Counting)
 *        │ deadline passed, LeaseLost, RELEASED, renewal acknowledged too late ──► Candidate
 *   STOP: Leader ──► Releasing ──► Stopped;  Follower / Candidate ──► Stopped
 *
 * The safety rule: a leader acts only until its deadline, which is the local send
 * time of its last acknowledged write (acquire or renew) + lease − margin. The
 * server stamps that write no earlier than it was sent and expires it lease later,
 * so nobody else can create the key before the deadline has passed (see
 * leader.safety.md). Leaving Leader, by any path, runs `stopLeading` first.
 *
 * Actors the service must provide:
 *  - `acquire` (input {@link LeaseRef} with term/revision 0): create the key. If it
 *    exists but holds this very instance's value (an earlier create whose answer was
 *    lost), renew it instead. On a replicated bucket, confirm the create by reading
 *    the key a moment later (nats-server#4320). Resolves an {@link AcquireOutput};
 *    rejects on store errors (retried after `retryMs`).
 *  - `renew` (input {@link LeaseRef}): update the key at `revision`. Resolves a
 *    {@link RenewOutput}. Rejects with an error whose `reason` is 'LeaseLost' when
 *    the key is no longer this leader's (then it steps down at once); any other
 *    rejection is retried every `retryMs` until the deadline.
 *  - `release` (input {@link LeaseRef}): delete the key at `revision` (graceful
 *    hand-over: watchers see the deletion and take over at once).
 *
 * Actions: `startLeading` on entering Leader (start the work with the token),
 * `stopLeading` on leaving it (abort the work, synchronously).
 *
 * Events: HOLDER (the key was written: who holds it, since when on the server's
 * clock), RELEASED (the key was deleted), STOP (shut down, releasing if leading).
 */
import { assign, fromPromise, setup, stateIn, type SnapshotFrom } from 'xstate';

/** Lease timing. The defaults and why: services/lib/leader-election. */
export type LeaderTiming = {
  /** The bucket TTL: how long a written lease lives on the server. */
  leaseMs: number;
  /** Pause between a successful renewal and the next. */
  renewMs: number;
  /** How long before the server could expire the lease the leader stops acting. */
  marginMs: number;
  /** Pause before retrying a failed acquire or renew. */
  retryMs: number;
  /** Added to a holder's expiry before trying to take over (the server's expiry runs a few ms late). */
  expirySlackMs: number;
};

export type LeaderInput = Partial<LeaderTiming> & { identity: string };

/** A holder of the lease as the store shows it. */
export type Holder = {
  identity: string;
  /** Revision of the create that began this holder's term (the fencing token's number). */
  term: number;
  /** Revision of the latest write. */
  revision: number;
  /** When the server stamped the latest write (server clock, epoch ms). */
  createdMs: number;
};

export type LeaderEvent =
  | { type: 'HOLDER'; holder: Holder; nowMs: number }
  | { type: 'RELEASED'; revision: number; nowMs: number }
  | { type: 'STOP' };

/** What the acquire, renew and release actors get. */
export type LeaseRef = { identity: string; term: number; revision: number };

export type AcquireOutput =
  | { acquired: true; term: number; revision: number; sentMs: number; ackMs: number }
  /** Held by someone else (or vanished meanwhile: no holder). */
  | { acquired: false; holder?: Holder; nowMs: number };

export type RenewOutput = { revision: number; sentMs: number; ackMs: number };

export type LeaderContext = LeaderTiming & {
  identity: string;
  /** The holder last seen (possibly this candidate). */
  holder?: Holder;
  /** The newest store revision seen for the key, writes and deletions alike. */
  knownRevision: number;
  /** Follower: when to try to take over, from the moment the holder was seen. */
  expiresInMs: number;
  /** This candidate's latest term and the revision of its last acknowledged write (0 before it first leads). */
  term: number;
  revision: number;
  /** Local epoch ms after which this leader must not act (0 when not leading). */
  deadlineAtMs: number;
  /** The same deadline, from the moment it was computed (for the timer). */
  deadlineInMs: number;
  lastError?: string;
};

export const LEADER_TIMING: LeaderTiming = {
  leaseMs: 1_500,
  renewMs: 500,
  marginMs: 250,
  retryMs: 100,
  expirySlackMs: 5,
};

/** The `reason` a renew rejects with when the key is no longer this leader's. */
export const LEASE_LOST = 'LeaseLost';

/** A deadline: the send time of an acknowledged write + lease − margin. */
export function deadlineOf(timing: Pick<LeaderTiming, 'leaseMs' | 'marginMs'>, sentMs: number): number {
  return sentMs + timing.leaseMs - timing.marginMs;
}

/** How long a follower waits before trying to take over from `holder`, seen at `nowMs`. */
export function takeoverDelay(timing: LeaderTiming, holder: Holder | undefined, nowMs: number): number {
  if (!holder) return timing.retryMs;
  const left = holder.createdMs + timing.leaseMs + timing.expirySlackMs - nowMs;
  // Past its expiry but still there (server clock ahead of ours): poll, don't spin.
  return left > 0 ? left : timing.retryMs;
}

const notProvided = <T>(name: string) =>
  fromPromise<T, LeaseRef>(async () => {
    throw new Error(`leader machine: actor "${name}" was not provided`);
  });

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
const SUPERSEDED = '#leader.Candidate.Acquiring.Superseded';
type Acquired = Extract<AcquireOutput, { acquired: true }>;

export const leaderMachine = setup({
  types: {
    context: {} as LeaderContext,
    events: {} as LeaderEvent,
    input: {} as LeaderInput,
  },
  actors: {
    acquire: notProvided<AcquireOutput>('acquire'),
    renew: notProvided<RenewOutput>('renew'),
    release: notProvided<void>('release'),
  },
  delays: {
    untilExpiry: ({ context }) => context.expiresInMs,
    renewInterval: ({ context }) => context.renewMs,
    retry: ({ context }) => context.retryMs,
    deadline: ({ context }) => context.deadlineInMs,
  },
  guards: {
    /** A write or deletion newer than anything seen: stale watch events are ignored. */
    newer: ({ context }, { revision }: { revision: number }) => revision > context.knownRevision,
    newerByOther: ({ context }, { holder }: { holder: Holder }) => holder.revision > context.knownRevision && holder.identity !== context.identity,
    /** Someone else's term began after this leader's last write: it was deposed. */
    deposed: ({ context }, { holder }: { holder: Holder }) => holder.term !== context.term && holder.revision > context.revision,
    /** The key was deleted after this leader's last write. */
    releasedAfterUs: ({ context }, { revision }: { revision: number }) => revision > context.revision,
    acquired: (_, { output }: { output: AcquireOutput }) => output.acquired,
    /** Acquired, and the answer came before the deadline it implies. */
    acquiredInTime: ({ context }, { output }: { output: AcquireOutput }) =>
      output.acquired && deadlineOf(context, output.sentMs) > output.ackMs,
    renewedInTime: ({ context }, { output }: { output: RenewOutput }) => deadlineOf(context, output.sentMs) > output.ackMs,
    leaseLost: (_, { error }: { error: unknown }) => (error as { reason?: unknown } | undefined)?.reason === LEASE_LOST,
  },
  actions: {
    startLeading: () => {},
    stopLeading: () => {},
    recordHolder: assign(({ context }, { holder, nowMs }: { holder?: Holder; nowMs: number }) => ({
      holder,
      knownRevision: Math.max(context.knownRevision, holder?.revision ?? 0),
      expiresInMs: takeoverDelay(context, holder, nowMs),
    })),
    recordRelease: assign(({ context }, { revision }: { revision: number }) => ({
      holder: undefined,
      knownRevision: Math.max(context.knownRevision, revision),
    })),
    recordAcquired: assign(({ context }, { output }: { output: Acquired }) => {
      const deadlineAtMs = deadlineOf(context, output.sentMs);
      return {
        term: output.term,
        revision: output.revision,
        knownRevision: Math.max(context.knownRevision, output.revision),
        holder: { identity: context.identity, term: output.term, revision: output.revision, createdMs: output.sentMs },
        deadlineAtMs,
        deadlineInMs: deadlineAtMs - output.ackMs,
        lastError: undefined,
      };
    }),
    recordRenewal: assign(({ context }, { output }: { output: RenewOutput }) => {
      const deadlineAtMs = deadlineOf(context, output.sentMs);
      return {
        revision: output.revision,
        knownRevision: Math.max(context.knownRevision, output.revision),
        deadlineAtMs,
        deadlineInMs: deadlineAtMs - output.ackMs,
        lastError: undefined,
      };
    }),
    /** Not leading any more (term and revision stay: Releasing deletes at them). */
    clearDeadline: assign({ deadlineAtMs: 0, deadlineInMs: 0 }),
    recordError: assign((_, { error }: { error: unknown }) => ({ lastError: errorMessage(error) })),
  },
}).createMachine({
  id: 'leader',
  initial: 'Candidate',
  context: ({ input }) => ({
    ...LEADER_TIMING,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
    identity: input.identity,
    knownRevision: 0,
    expiresInMs: 0,
    term: 0,
    revision: 0,
    deadlineAtMs: 0,
    deadlineInMs: 0,
  }),
  on: { STOP: '.Stopped' },
  states: {
    /** Someone else holds the lease: wait for its expiry (or its release), watching. */
    Follower: {
      after: { untilExpiry: 'Candidate' },
      on: {
        HOLDER: {
          guard: { type: 'newer', params: ({ event }) => ({ revision: event.holder.revision }) },
          target: 'Follower',
          reenter: true,
          actions: { type: 'recordHolder', params: ({ event }) => event },
        },
        RELEASED: {
          guard: { type: 'newer', params: ({ event }) => ({ revision: event.revision }) },
          target: 'Candidate',
          actions: { type: 'recordRelease', params: ({ event }) => event },
        },
      },
    },
    /** Trying to create the lease. */
    Candidate: {
      initial: 'Acquiring',
      states: {
        Acquiring: {
          initial: 'Current',
          invoke: {
            id: 'acquire',
            src: 'acquire',
            input: ({ context }) => ({ identity: context.identity, term: 0, revision: 0 }),
            onDone: [
              // Someone else wrote, or the key was deleted, while we asked: the answer may be stale.
              { guard: stateIn(SUPERSEDED), target: 'Acquiring', reenter: true },
              {
                guard: { type: 'acquiredInTime', params: ({ event }) => ({ output: event.output }) },
                target: '#leader.Leader',
                actions: { type: 'recordAcquired', params: ({ event }) => ({ output: event.output as Acquired }) },
              },
              // Ours, but answered too late to act on: write it again for a fresh deadline.
              { guard: { type: 'acquired', params: ({ event }) => ({ output: event.output }) }, target: 'Acquiring', reenter: true },
              {
                target: '#leader.Follower',
                actions: {
                  type: 'recordHolder',
                  params: ({ event }) => (event.output.acquired ? { nowMs: 0 } : { holder: event.output.holder, nowMs: event.output.nowMs }),
                },
              },
            ],
            onError: { target: 'BackOff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
          states: {
            /** Nothing newer than what the create will find has been seen. */
            Current: {
              on: {
                HOLDER: {
                  guard: { type: 'newerByOther', params: ({ event }) => ({ holder: event.holder }) },
                  target: 'Superseded',
                  actions: { type: 'recordHolder', params: ({ event }) => event },
                },
                RELEASED: {
                  guard: { type: 'newer', params: ({ event }) => ({ revision: event.revision }) },
                  target: 'Superseded',
                  actions: { type: 'recordRelease', params: ({ event }) => event },
                },
              },
            },
            /**
             * Another's write or a deletion came in meanwhile. On a replicated bucket
             * two creates can both be acknowledged (nats-server#4320): whatever the
             * answer, ask again.
             */
            Superseded: {},
          },
        },
        /** The store failed: try again after `retryMs`, or follow whoever wins meanwhile. */
        BackOff: {
          after: { retry: 'Acquiring' },
          on: {
            HOLDER: {
              guard: { type: 'newer', params: ({ event }) => ({ revision: event.holder.revision }) },
              target: '#leader.Follower',
              actions: { type: 'recordHolder', params: ({ event }) => event },
            },
            RELEASED: {
              guard: { type: 'newer', params: ({ event }) => ({ revision: event.revision }) },
              target: 'Acquiring',
              actions: { type: 'recordRelease', params: ({ event }) => event },
            },
          },
        },
      },
    },
    /** Holding the lease and acting, until the deadline unless renewed before it. */
    Leader: {
      type: 'parallel',
      tags: 'leading',
      entry: 'startLeading',
      exit: ['stopLeading', 'clearDeadline'],
      on: {
        HOLDER: {
          guard: { type: 'deposed', params: ({ event }) => ({ holder: event.holder }) },
          target: 'Follower',
          actions: { type: 'recordHolder', params: ({ event }) => event },
        },
        RELEASED: {
          guard: { type: 'releasedAfterUs', params: ({ event }) => ({ revision: event.revision }) },
          target: 'Candidate',
          actions: { type: 'recordRelease', params: ({ event }) => event },
        },
        STOP: 'Releasing',
      },
      states: {
        Lease: {
          initial: 'Waiting',
          states: {
            /** Until the next renewal. */
            Waiting: { after: { renewInterval: 'Renewing' } },
            Renewing: {
              invoke: {
                id: 'renew',
                src: 'renew',
                input: ({ context }) => ({ identity: context.identity, term: context.term, revision: context.revision }),
                onDone: [
                  {
                    guard: { type: 'renewedInTime', params: ({ event }) => ({ output: event.output }) },
                    // Both regions: the deadline timer starts again from this renewal.
                    target: ['#leader.Leader.Lease.Waiting', '#leader.Leader.Deadline.Counting'],
                    actions: { type: 'recordRenewal', params: ({ event }) => ({ output: event.output }) },
                  },
                  // Answered after its own deadline: it extends nothing.
                  { target: '#leader.Candidate' },
                ],
                onError: [
                  {
                    guard: { type: 'leaseLost', params: ({ event }) => ({ error: event.error }) },
                    target: '#leader.Candidate',
                    actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) },
                  },
                  { target: 'RetryWait', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                ],
              },
            },
            /** A renewal failed (store unavailable, timeout): try again, until the deadline. */
            RetryWait: { after: { retry: 'Renewing' } },
          },
        },
        Deadline: {
          initial: 'Counting',
          states: {
            /** Until the deadline of the last acknowledged write: then stop at once. */
            Counting: { after: { deadline: '#leader.Candidate' } },
          },
        },
      },
    },
    /** Shutting down as leader (work already stopped): deleting the lease so a follower takes over now. */
    Releasing: {
      on: { STOP: {} },
      invoke: {
        id: 'release',
        src: 'release',
        input: ({ context }) => ({ identity: context.identity, term: context.term, revision: context.revision }),
        onDone: 'Stopped',
        onError: { target: 'Stopped', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    Stopped: { type: 'final' },
  },
});

export type LeaderSnapshot = SnapshotFrom<typeof leaderMachine>;

/** Whether this candidate leads now: in Leader and before its deadline. */
export function isLeading(snapshot: LeaderSnapshot, nowMs: number): boolean {
  return snapshot.hasTag('leading') && nowMs < snapshot.context.deadlineAtMs;
}
