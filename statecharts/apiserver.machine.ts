/**
 * The API server's lifecycle. Pure: the service supplies the four actors (connect,
 * syncCaches, startServers, drain) with `.provide()`, and turns NATS status
 * changes into NATS_DISCONNECTED / NATS_RECONNECTED events.
 *
 *   Connecting ──► SyncingCaches ──► StartingServers ──► Serving ⇄ Degraded
 *        ▲  │             │                 │                  │
 *        └ RetryWait ◄────┘               Failed        SHUTDOWN ▼
 *                                                       Draining ──► Stopped
 */
import { assign, fromPromise, setup } from 'xstate';

export type ApiServerEvent = { type: 'SHUTDOWN' } | { type: 'NATS_DISCONNECTED' } | { type: 'NATS_RECONNECTED' };

export type ApiServerContext = {
  /** Failed attempts to connect and sync since the last success. */
  attempts: number;
  lastError?: string;
};

const notProvided = (name: string) =>
  fromPromise<void>(async () => {
    throw new Error(`apiserver machine: actor "${name}" was not provided`);
  });

/** Back-off before the next connect attempt: 250 ms doubling up to 5 s. */
export function retryDelay(attempts: number): number {
  return Math.min(250 * 2 ** Math.max(0, attempts - 1), 5_000);
}

export const apiServerMachine = setup({
  types: {
    context: {} as ApiServerContext,
    events: {} as ApiServerEvent,
  },
  actors: {
    connect: notProvided('connect'),
    syncCaches: notProvided('syncCaches'),
    startServers: notProvided('startServers'),
    drain: notProvided('drain'),
  },
  delays: {
    retryDelay: ({ context }) => retryDelay(context.attempts),
  },
  actions: {
    recordError: assign({
      attempts: ({ context }) => context.attempts + 1,
      lastError: ({ event }) => String((event as { error?: unknown }).error),
    }),
    resetAttempts: assign({ attempts: 0, lastError: undefined }),
  },
}).createMachine({
  id: 'apiserver',
  initial: 'Connecting',
  context: { attempts: 0 },
  on: {
    SHUTDOWN: '.Draining',
  },
  states: {
    /** Connecting to NATS and opening the store bucket. */
    Connecting: {
      invoke: {
        src: 'connect',
        onDone: 'SyncingCaches',
        onError: { target: 'RetryWait', actions: 'recordError' },
      },
    },
    /** Waiting before the next connect attempt (back-off). */
    RetryWait: {
      after: { retryDelay: 'Connecting' },
    },
    /** Loading the watch cache and creating the system namespaces. */
    SyncingCaches: {
      invoke: {
        src: 'syncCaches',
        onDone: { target: 'StartingServers', actions: 'resetAttempts' },
        onError: { target: 'RetryWait', actions: 'recordError' },
      },
    },
    /** Binding the HTTP port and joining the NATS service queue group. */
    StartingServers: {
      invoke: {
        src: 'startServers',
        onDone: 'Serving',
        onError: { target: 'Failed', actions: 'recordError' },
      },
    },
    /** Ready: reads and writes are served. */
    Serving: {
      on: { NATS_DISCONNECTED: 'Degraded' },
    },
    /** NATS is unreachable: reads are answered from the cache, writes fail with 503. */
    Degraded: {
      on: { NATS_RECONNECTED: 'Serving' },
    },
    /** Shutting down: closing listeners, leaving the queue group, draining NATS. */
    Draining: {
      on: { SHUTDOWN: {} },
      invoke: {
        src: 'drain',
        onDone: 'Stopped',
        onError: { target: 'Stopped', actions: 'recordError' },
      },
    },
    Stopped: { type: 'final' },
    /** Could not start (e.g. the port is taken); the service drains and exits. */
    Failed: {},
  },
});
