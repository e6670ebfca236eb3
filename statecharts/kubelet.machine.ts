/**
 * The kubelet's own lifecycle on one node. Pure: the service supplies the four
 * actors with `.provide()`, turns NATS status changes into NATS_DISCONNECTED /
 * NATS_RECONNECTED, and sends NODE_STATUS_CHANGED and SHUTDOWN.
 *
 *   Online ─┬ Registration (Registering ⇄ RegisterBackOff)
 *           └ Ready ∥ Lease  (Renewing ⇄ Waiting every heartbeatMs, ⇄ RenewBackOff on failure)
 *                   ∥ Status (Reporting ⇄ Idle, every statusMs or on change)
 *        ▲ NATS_RECONNECTED (back where it was)    │ NATS_DISCONNECTED
 *        └──────────────── NatsLost ◄──────────────┘
 *   SHUTDOWN (from anywhere) ──► Draining ──► Stopped
 *
 * Actors the service must provide (input `{ nodeName }` for each):
 *  - `registerNode`: create or update the Node (capacity, allocatable, nodeInfo,
 *    conditions). Idempotent; retried 100 ms doubling to 2 s (registerRetryDelay).
 *  - `renewLease`: create or renew the node's Lease in kube-node-lease. A failure
 *    is retried 200 ms later, doubling up to the heartbeat (leaseRetryDelay).
 *  - `reportStatus`: write the Node's status. Rejecting with an error whose
 *    `reason` is 'NotFound' (an ApiError) means the Node was deleted: register again.
 *  - `drain`: stop the pods (each with its grace period), report their status,
 *    mark the node not ready, leave NATS. Either way the kubelet then stops.
 *
 * The service admits new pods only while the snapshot has the tag `acceptsPods`
 * (Ready); NatsLost keeps running pods but takes no new ones. Entering Ready,
 * including coming back from NatsLost, renews the lease and reports the status
 * at once: the lease likely lapsed meanwhile.
 */
import { assign, fromPromise, setup, stateIn, type SnapshotFrom } from 'xstate';

export type KubeletInput = {
  nodeName: string;
  /** Lease renewal period. Default 10 s (Kubernetes: a quarter of the 40 s lease). */
  heartbeatMs?: number;
  /** Node status period when nothing changed. Default 60 s. */
  statusMs?: number;
};

export type KubeletEvent =
  | { type: 'NATS_DISCONNECTED' }
  | { type: 'NATS_RECONNECTED' }
  | { type: 'NODE_STATUS_CHANGED' }
  | { type: 'SHUTDOWN' };

export type KubeletContext = Required<KubeletInput> & {
  /** Failed registrations since the last success. */
  registerAttempts: number;
  /** Failed lease renewals in a row. */
  leaseFailures: number;
  lastError?: string;
};

export type NodeRef = { nodeName: string };

/**
 * Back-off before the next registration: 100 ms doubling up to 2 s. Kubernetes'
 * kubelet goes up to 7 s, beside a 40 s node grace period; here a node is
 * given 5 s + 5 s before its pods are evicted, so a kubelet that started
 * before the API servers (a whole cluster restarting) must find them within
 * 2 s of their coming up, not 7.
 */
export function registerRetryDelay(attempts: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempts - 1), 2_000);
}

/**
 * Wait before renewing again after `failures` failed renewals in a row: 200 ms
 * doubling, never longer than the heartbeat (Kubernetes' node lease controller
 * retries the same way). One lost request (an API server killed with it) then
 * costs the node a request timeout and 200 ms, not a whole heartbeat more.
 */
export function leaseRetryDelay(failures: number, heartbeatMs: number): number {
  return Math.min(200 * 2 ** Math.max(0, failures - 1), heartbeatMs);
}

const notProvided = (name: string) =>
  fromPromise<void, NodeRef>(async () => {
    throw new Error(`kubelet machine: actor "${name}" was not provided`);
  });

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
const REPORT_STALE = '#kubelet.Online.Ready.Status.Reporting.Stale';

export const kubeletMachine = setup({
  types: {
    context: {} as KubeletContext,
    events: {} as KubeletEvent,
    input: {} as KubeletInput,
  },
  actors: {
    registerNode: notProvided('registerNode'),
    renewLease: notProvided('renewLease'),
    reportStatus: notProvided('reportStatus'),
    drain: notProvided('drain'),
  },
  delays: {
    registerRetry: ({ context }) => registerRetryDelay(context.registerAttempts),
    heartbeat: ({ context }) => context.heartbeatMs,
    leaseRetry: ({ context }) => leaseRetryDelay(context.leaseFailures, context.heartbeatMs),
    statusInterval: ({ context }) => context.statusMs,
  },
  guards: {
    nodeNotFound: (_, { error }: { error: unknown }) => (error as { reason?: unknown } | undefined)?.reason === 'NotFound',
  },
  actions: {
    recordRegisterError: assign(({ context }, { error }: { error: unknown }) => ({
      registerAttempts: context.registerAttempts + 1,
      lastError: errorMessage(error),
    })),
    registered: assign({ registerAttempts: 0 }),
    recordLeaseFailure: assign(({ context }, { error }: { error: unknown }) => ({
      leaseFailures: context.leaseFailures + 1,
      lastError: errorMessage(error),
    })),
    leaseRenewed: assign({ leaseFailures: 0 }),
    recordError: assign((_, { error }: { error: unknown }) => ({ lastError: errorMessage(error) })),
  },
}).createMachine({
  id: 'kubelet',
  initial: 'Online',
  context: ({ input }) => ({
    nodeName: input.nodeName,
    heartbeatMs: input.heartbeatMs ?? 10_000,
    statusMs: input.statusMs ?? 60_000,
    registerAttempts: 0,
    leaseFailures: 0,
  }),
  on: { SHUTDOWN: '.Draining' },
  states: {
    /** Connected to NATS: registering, or serving as a Ready node. */
    Online: {
      initial: 'Registration',
      on: { NATS_DISCONNECTED: 'NatsLost' },
      states: {
        /** Making sure the Node object exists and describes this node. */
        Registration: {
          initial: 'Registering',
          states: {
            Registering: {
              invoke: {
                id: 'registerNode',
                src: 'registerNode',
                input: ({ context }) => ({ nodeName: context.nodeName }),
                onDone: { target: '#kubelet.Online.Ready', actions: 'registered' },
                onError: {
                  target: 'RegisterBackOff',
                  actions: { type: 'recordRegisterError', params: ({ event }) => ({ error: event.error }) },
                },
              },
            },
            /** Waiting before the next registration attempt. */
            RegisterBackOff: {
              after: { registerRetry: 'Registering' },
            },
          },
        },
        /** Registered: renewing the lease and reporting status; pods are admitted. */
        Ready: {
          type: 'parallel',
          tags: 'acceptsPods',
          states: {
            Lease: {
              initial: 'Renewing',
              states: {
                Renewing: {
                  invoke: {
                    id: 'renewLease',
                    src: 'renewLease',
                    input: ({ context }) => ({ nodeName: context.nodeName }),
                    onDone: { target: 'Waiting', actions: 'leaseRenewed' },
                    onError: { target: 'RenewBackOff', actions: { type: 'recordLeaseFailure', params: ({ event }) => ({ error: event.error }) } },
                  },
                },
                /** Until the next heartbeat. */
                Waiting: {
                  after: { heartbeat: 'Renewing' },
                },
                /** A renewal failed: again soon, before the lease runs out. */
                RenewBackOff: {
                  after: { leaseRetry: 'Renewing' },
                },
              },
            },
            Status: {
              initial: 'Reporting',
              states: {
                /** Writing the node status; a change meanwhile makes it Stale, to be written again. */
                Reporting: {
                  initial: 'Current',
                  invoke: {
                    id: 'reportStatus',
                    src: 'reportStatus',
                    input: ({ context }) => ({ nodeName: context.nodeName }),
                    onDone: [{ guard: stateIn(REPORT_STALE), target: 'Reporting', reenter: true }, { target: 'Idle' }],
                    onError: [
                      {
                        guard: { type: 'nodeNotFound', params: ({ event }) => ({ error: event.error }) },
                        target: '#kubelet.Online.Registration',
                        actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) },
                      },
                      { target: 'Idle', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
                    ],
                  },
                  states: {
                    Current: { on: { NODE_STATUS_CHANGED: 'Stale' } },
                    Stale: {},
                  },
                },
                /** Until the next status period, or a change. */
                Idle: {
                  after: { statusInterval: 'Reporting' },
                  on: { NODE_STATUS_CHANGED: 'Reporting' },
                },
              },
            },
          },
        },
        /** Where NATS_RECONNECTED returns to: Registration or Ready, each from its start. */
        Resume: { type: 'history' },
      },
    },
    /** NATS is unreachable: pods keep running, nothing can be reported. */
    NatsLost: {
      on: { NATS_RECONNECTED: 'Online.Resume' },
    },
    /** Shutting down: no new pods; the drain actor stops the running ones. */
    Draining: {
      on: { SHUTDOWN: {} },
      invoke: {
        id: 'drain',
        src: 'drain',
        input: ({ context }) => ({ nodeName: context.nodeName }),
        onDone: 'Stopped',
        onError: { target: 'Stopped', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    Stopped: { type: 'final' },
  },
});

export type KubeletSnapshot = SnapshotFrom<typeof kubeletMachine>;

/** Whether the kubelet takes new pods now. */
export function acceptsPods(snapshot: KubeletSnapshot): boolean {
  return snapshot.hasTag('acceptsPods');
}
