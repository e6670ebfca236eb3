/**
 * One container of a pod, as the kubelet runs it: image, start, startup probe,
 * restart with back-off, liveness kills, stop. Pure: the kubelet service supplies
 * the three runtime actors with `.provide()` and feeds runtime and probe events in.
 *
 *   Waiting.Pending ──START──► PullingImage ──────► Creating ──────► Running.Up
 *      │                         │ pull failed        │ start failed     │ STARTUP_FAILED (Starting) or
 *      │                         ▼                    ▼                  │ LIVENESS_FAILED (Started) ► Killing
 *      │        PullBackOff (ErrImagePull ►   CreateContainerError       │ STOP ► Stopping
 *      │          ImagePullBackOff), or              │ back-off          │ EXITED, restart due
 *      │        ErrImageNeverPull ─back-off─► PullingImage ◄─back-off─ CrashLoopBackOff
 *      └──ADOPT──────────────────────────────────────────────────────► Running.Up
 *   STOP while Waiting, EXITED with no restart due, EXITED while Stopping ──► Terminated (final)
 *
 *   Running.Up has two regions, side by side:
 *     Startup: Starting ──STARTED──► Started   (no startup probe: Started at once)
 *     Uptime:  Settling ──10 min──► Stable     (2 × the back-off cap; Stable resets the crash back-off)
 *
 * Actors the service must provide (each rejects with an Error whose message the
 * user sees as the waiting message):
 *  - `ensureImage({ image, imagePullPolicy }) → { imageID }`: IfNotPresent pulls
 *    only a missing image, Always pulls (resolves the digest), Never only looks and
 *    rejects if the image is missing (the machine then says ErrImageNeverPull).
 *  - `startContainer({ podUid, name, image, imageID, sandboxID, restartCount }) →
 *    { containerID, startedAt }`: create and start one instance in the pod's
 *    sandbox; containerID as Kubernetes shows it (`docker://…`), startedAt RFC 3339.
 *  - `stopContainer({ containerID, graceSeconds })`: SIGTERM, then SIGKILL after the
 *    grace period. It only asks: the exit itself always arrives as EXITED.
 *
 * Events the service sends:
 *  - `START { sandboxID }` once the pod's sandbox exists; `ADOPT { containerID,
 *    startedAt, imageID?, restartCount? }` instead, for a container found running
 *    after a kubelet restart (it is not started again; if it died meanwhile, send
 *    EXITED right after).
 *  - `EXITED { exitCode, reason?, message?, finishedAt }` from the runtime's event
 *    stream (reason e.g. OOMKilled; default Completed for 0, Error otherwise). If
 *    the runtime lost the container, send exit 137, reason ContainerStatusUnknown.
 *  - `STARTED` when the startup probe passed and `STARTUP_FAILED` when it failed
 *    failureThreshold times in a row (a liveness-style kill follows); only while
 *    Starting. Each instance starts again un-started, an adopted one too, so
 *    the service probes it again.
 *  - `READY_CHANGED { ready }` and `LIVENESS_FAILED` from the probe loops; only
 *    heard once Started (before that neither probe runs, as in Kubernetes).
 *  - `STOP { graceSeconds }` from the pod; a shorter grace cuts a stop in progress.
 *
 * Timing (Kubernetes): a restart waits 10 s, doubling to a 5 min cap, and the
 * back-off is forgotten once an instance has run 10 min (twice the cap). Kubernetes'
 * own kubelet restarts the very first crash at once; this machine follows the
 * documented 10 s, 20 s, 40 s, … sequence. Image pulls back off the same way on
 * their own counter; a failed pull shows ErrImagePull until the pod's next sync
 * (10 s, the pod worker's retry period) and ImagePullBackOff for the rest of the
 * back-off. The input `backOff` changes the first wait and the cap (tests use
 * seconds); the reset period follows the cap.
 *
 * `containerStatus(snapshot)` gives the pod's `status.containerStatuses[]` entry.
 */
import { assertEvent, assign, fromPromise, setup, type SnapshotFrom } from 'xstate';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** One ended instance of the container (Kubernetes' ContainerStateTerminated). */
export type Termination = {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  containerID?: string;
};

/** Kubernetes' ContainerState: exactly one of the three keys. */
export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt?: string } }
  | { terminated: Termination };

/** Kubernetes' `status.containerStatuses[]` entry, JSON field names. */
export type ContainerStatus = {
  name: string;
  state: ContainerState;
  /** The previous instance's end; `{}` when there was none. */
  lastState: ContainerState | Record<string, never>;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started: boolean;
};

/** A back-off that starts at `initialMs` and doubles up to `maxMs`. */
export type BackOff = { initialMs: number; maxMs: number };

export type ContainerInput = {
  /** The pod it belongs to, passed on to startContainer so that one provided machine serves every pod. Default ''. */
  podUid?: string;
  name: string;
  image: string;
  /** Default IfNotPresent (the API server defaults it per image tag). */
  imagePullPolicy?: PullPolicy;
  /** The pod's restart policy. Default Always. */
  restartPolicy?: RestartPolicy;
  /** Grace for a liveness or startup kill. Default 30. */
  terminationGracePeriodSeconds?: number;
  /** The container has a startup probe: each instance waits for STARTED. Default false. */
  hasStartupProbe?: boolean;
  /** Crash and image-pull back-off. Default Kubernetes': 10 s doubling to 5 min. */
  backOff?: BackOff;
};

export type ContainerEvent =
  | { type: 'START'; sandboxID: string }
  | { type: 'ADOPT'; containerID: string; startedAt: string; imageID?: string; restartCount?: number }
  | { type: 'EXITED'; exitCode: number; reason?: string; message?: string; finishedAt: string }
  | { type: 'STARTED' }
  | { type: 'STARTUP_FAILED' }
  | { type: 'READY_CHANGED'; ready: boolean }
  | { type: 'LIVENESS_FAILED' }
  | { type: 'STOP'; graceSeconds: number };

export type ContainerContext = Required<ContainerInput> & {
  sandboxID?: string;
  /** '' until the image step resolved it. */
  imageID: string;
  /** The current instance, or the last one. */
  containerID?: string;
  startedAt?: string;
  restartCount: number;
  /** The most recent exit, and the one before it. */
  last?: Termination;
  prior?: Termination;
  ready: boolean;
  /** The current instance passed its startup probe (or has none). */
  started: boolean;
  /** The error behind the current waiting reason. */
  message?: string;
  /** Wait before the next restart; 0 while no back-off is running. */
  crashBackOffMs: number;
  pullBackOffMs: number;
  /** Grace of the stop in progress. */
  graceSeconds: number;
};

export type EnsureImageInput = { image: string; imagePullPolicy: PullPolicy };
export type StartContainerInput = { podUid: string; name: string; image: string; imageID: string; sandboxID: string; restartCount: number };
export type StopContainerInput = { containerID: string; graceSeconds: number };

export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
/** Kubernetes' back-off, the default. */
export const DEFAULT_BACKOFF: BackOff = { initialMs: BACKOFF_INITIAL_MS, maxMs: BACKOFF_MAX_MS };
/** An instance that ran this long resets the default crash back-off (2 × the cap, as in the kubelet). */
export const BACKOFF_RESET_MS = 2 * BACKOFF_MAX_MS;
/** The pod worker's retry period: how long a failed attempt's own reason shows. */
export const POD_SYNC_RETRY_MS = 10_000;

/** The back-off after one that lasted `previousMs` (0: none yet): 10 s, 20 s, … 5 min by default. */
export function nextBackOff(previousMs: number, backOff: BackOff = DEFAULT_BACKOFF): number {
  return Math.min(previousMs === 0 ? backOff.initialMs : previousMs * 2, backOff.maxMs);
}

/** Whether the restart policy restarts a container that exited with `exitCode`. */
export function restartsAfter(policy: RestartPolicy, exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

/** A whole-second duration the way Go prints it, as in kubelet messages: 10s, 1m20s, 5m0s. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (h > 0) return `${h}h${m}m${sec}s`;
  return m > 0 ? `${m}m${sec}s` : `${sec}s`;
}

const notProvided = <TOutput, TInput>(name: string) =>
  fromPromise<TOutput, TInput>(async () => {
    throw new Error(`container machine: actor "${name}" was not provided`);
  });

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const containerMachine = setup({
  types: {
    context: {} as ContainerContext,
    events: {} as ContainerEvent,
    input: {} as ContainerInput,
  },
  actors: {
    ensureImage: notProvided<{ imageID: string }, EnsureImageInput>('ensureImage'),
    startContainer: notProvided<{ containerID: string; startedAt: string }, StartContainerInput>('startContainer'),
    stopContainer: notProvided<void, StopContainerInput>('stopContainer'),
  },
  delays: {
    crashBackOff: ({ context }) => context.crashBackOffMs,
    imagePullBackOff: ({ context }) => context.pullBackOffMs,
    podSyncRetry: POD_SYNC_RETRY_MS,
    backOffReset: ({ context }) => 2 * context.backOff.maxMs,
  },
  guards: {
    pullNever: ({ context }) => context.imagePullPolicy === 'Never',
    withoutStartupProbe: ({ context }) => !context.hasStartupProbe,
    restartDue: ({ context, event }) => {
      assertEvent(event, 'EXITED');
      return restartsAfter(context.restartPolicy, event.exitCode);
    },
    shortensGrace: ({ context, event }) => {
      assertEvent(event, 'STOP');
      return event.graceSeconds < context.graceSeconds;
    },
  },
  actions: {
    recordSandbox: assign(({ event }) => {
      assertEvent(event, 'START');
      return { sandboxID: event.sandboxID };
    }),
    adopt: assign(({ context, event }) => {
      assertEvent(event, 'ADOPT');
      return {
        containerID: event.containerID,
        startedAt: event.startedAt,
        imageID: event.imageID ?? context.imageID,
        restartCount: event.restartCount ?? context.restartCount,
      };
    }),
    recordImage: assign((_, output: { imageID: string }) => ({ imageID: output.imageID, pullBackOffMs: 0, message: undefined })),
    recordImageMissing: assign(({ context }) => ({
      pullBackOffMs: nextBackOff(context.pullBackOffMs, context.backOff),
      message: `Container image "${context.image}" is not present with pull policy of Never`,
    })),
    recordPullFailure: assign(({ context }, { error }: { error: unknown }) => ({
      pullBackOffMs: nextBackOff(context.pullBackOffMs, context.backOff),
      message: errorMessage(error),
    })),
    recordStart: assign((_, output: { containerID: string; startedAt: string }) => ({
      containerID: output.containerID,
      startedAt: output.startedAt,
      message: undefined,
    })),
    recordCreateFailure: assign(({ context }, { error }: { error: unknown }) => ({
      crashBackOffMs: nextBackOff(context.crashBackOffMs, context.backOff),
      message: errorMessage(error),
    })),
    recordExit: assign(({ context, event }) => {
      assertEvent(event, 'EXITED');
      const exit: Termination = {
        exitCode: event.exitCode,
        reason: event.reason ?? (event.exitCode === 0 ? 'Completed' : 'Error'),
        ...(event.message ? { message: event.message } : {}),
        ...(context.startedAt ? { startedAt: context.startedAt } : {}),
        finishedAt: event.finishedAt,
        ...(context.containerID ? { containerID: context.containerID } : {}),
      };
      return { prior: context.last, last: exit, ready: false };
    }),
    scheduleRestart: assign(({ context }) => ({
      restartCount: context.restartCount + 1,
      crashBackOffMs: nextBackOff(context.crashBackOffMs, context.backOff),
    })),
    /** Stopped before any instance ran: Kubernetes reports it as lost, exit 137. */
    stopBeforeRunning: assign(({ context }) =>
      context.last
        ? {}
        : {
            last: {
              exitCode: 137,
              reason: 'ContainerStatusUnknown',
              message: 'The container could not be located when the pod was terminated',
            },
          },
    ),
    recordGrace: assign(({ event }) => {
      assertEvent(event, 'STOP');
      return { graceSeconds: event.graceSeconds };
    }),
    setReady: assign(({ event }) => {
      assertEvent(event, 'READY_CHANGED');
      return { ready: event.ready };
    }),
    markUnready: assign({ ready: false }),
    /** A new instance (started or adopted) has not passed its startup probe yet. */
    unstart: assign({ started: false }),
    markStarted: assign({ started: true }),
    resetCrashBackOff: assign({ crashBackOffMs: 0 }),
    recordStopError: assign((_, { error }: { error: unknown }) => ({ message: errorMessage(error) })),
  },
}).createMachine({
  id: 'container',
  initial: 'Waiting',
  context: ({ input }) => ({
    podUid: input.podUid ?? '',
    name: input.name,
    image: input.image,
    imagePullPolicy: input.imagePullPolicy ?? 'IfNotPresent',
    restartPolicy: input.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: input.terminationGracePeriodSeconds ?? 30,
    hasStartupProbe: input.hasStartupProbe ?? false,
    backOff: input.backOff ?? DEFAULT_BACKOFF,
    imageID: '',
    restartCount: 0,
    ready: false,
    started: false,
    crashBackOffMs: 0,
    pullBackOffMs: 0,
    graceSeconds: input.terminationGracePeriodSeconds ?? 30,
  }),
  states: {
    /** No instance is running; the substate is the Kubernetes waiting reason. */
    Waiting: {
      initial: 'Pending',
      on: { STOP: { target: 'Terminated', actions: 'stopBeforeRunning' } },
      states: {
        /** Created with its pod (ContainerCreating): waiting for the sandbox, or for adoption. */
        Pending: {
          on: {
            START: { target: 'PullingImage', actions: 'recordSandbox' },
            ADOPT: { target: '#container.Running', actions: 'adopt' },
          },
        },
        /** Making sure the image is there, per imagePullPolicy (ContainerCreating). */
        PullingImage: {
          invoke: {
            id: 'ensureImage',
            src: 'ensureImage',
            input: ({ context }) => ({ image: context.image, imagePullPolicy: context.imagePullPolicy }),
            onDone: { target: 'Creating', actions: { type: 'recordImage', params: ({ event }) => event.output } },
            onError: [
              { guard: 'pullNever', target: 'ErrImageNeverPull', actions: 'recordImageMissing' },
              { target: 'PullBackOff', actions: { type: 'recordPullFailure', params: ({ event }) => ({ error: event.error }) } },
            ],
          },
        },
        /** Policy Never and no image: look again after the image back-off. */
        ErrImageNeverPull: {
          after: { imagePullBackOff: 'PullingImage' },
        },
        /** The pull failed; the next one waits out the image back-off. */
        PullBackOff: {
          initial: 'ErrImagePull',
          after: { imagePullBackOff: 'PullingImage' },
          states: {
            /** The failed attempt itself, until the pod's next sync. */
            ErrImagePull: { after: { podSyncRetry: 'ImagePullBackOff' } },
            /** Waiting out the rest of the back-off. */
            ImagePullBackOff: {},
          },
        },
        /** Creating and starting an instance (ContainerCreating). */
        Creating: {
          invoke: {
            id: 'startContainer',
            src: 'startContainer',
            input: ({ context }) => ({
              podUid: context.podUid,
              name: context.name,
              image: context.image,
              imageID: context.imageID,
              sandboxID: context.sandboxID ?? '',
              restartCount: context.restartCount,
            }),
            onDone: { target: '#container.Running', actions: { type: 'recordStart', params: ({ event }) => event.output } },
            onError: { target: 'CreateContainerError', actions: { type: 'recordCreateFailure', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        /** The runtime refused to create or start it; retried after the crash back-off. */
        CreateContainerError: {
          after: { crashBackOff: 'PullingImage' },
        },
        /** It exited and the restart policy restarts it, after the crash back-off. */
        CrashLoopBackOff: {
          after: { crashBackOff: 'PullingImage' },
        },
      },
    },
    /** An instance is running (Kubernetes shows it running until it has exited). */
    Running: {
      initial: 'Up',
      entry: 'unstart',
      on: {
        EXITED: [
          { guard: 'restartDue', target: 'Waiting.CrashLoopBackOff', actions: ['recordExit', 'scheduleRestart'] },
          { target: 'Terminated', actions: 'recordExit' },
        ],
        STOP: { target: '.Stopping', actions: 'recordGrace' },
      },
      states: {
        /** Running and left alone: its startup and its uptime are followed side by side. */
        Up: {
          type: 'parallel',
          states: {
            /** Whether the instance has started (containerStatuses[].started). */
            Startup: {
              initial: 'Starting',
              states: {
                /** The startup probe has not passed yet: no readiness, no liveness. */
                Starting: {
                  always: { guard: 'withoutStartupProbe', target: 'Started' },
                  on: { STARTED: 'Started', STARTUP_FAILED: '#container.Running.Killing' },
                },
                /** Started: the readiness and liveness probes have their say. */
                Started: {
                  entry: 'markStarted',
                  on: { READY_CHANGED: { actions: 'setReady' }, LIVENESS_FAILED: '#container.Running.Killing' },
                },
              },
            },
            /** How long the instance has run, for the crash back-off. */
            Uptime: {
              initial: 'Settling',
              states: {
                /** Running less than 2 × the back-off cap (10 min): a crash now keeps growing the back-off. */
                Settling: { after: { backOffReset: 'Stable' } },
                /** Ran that long: the crash back-off starts over. */
                Stable: { entry: 'resetCrashBackOff' },
              },
            },
          },
        },
        /** Failed its liveness or startup probe: being killed, to be restarted per policy. */
        Killing: {
          entry: 'markUnready',
          invoke: {
            id: 'killContainer',
            src: 'stopContainer',
            input: ({ context }) => ({ containerID: context.containerID ?? '', graceSeconds: context.terminationGracePeriodSeconds }),
            onError: { actions: { type: 'recordStopError', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        /** The pod stops it: it will not be restarted. */
        Stopping: {
          entry: 'markUnready',
          invoke: {
            id: 'stopContainer',
            src: 'stopContainer',
            input: ({ context }) => ({ containerID: context.containerID ?? '', graceSeconds: context.graceSeconds }),
            onError: { actions: { type: 'recordStopError', params: ({ event }) => ({ error: event.error }) } },
          },
          on: {
            EXITED: { target: '#container.Terminated', actions: 'recordExit' },
            STOP: [
              { guard: 'shortensGrace', target: 'Stopping', reenter: true, actions: 'recordGrace' },
              // A longer grace cannot extend a stop already under way.
              {},
            ],
          },
        },
      },
    },
    /** Done for good: exited with no restart due, or stopped with its pod. */
    Terminated: { type: 'final' },
  },
});

export type ContainerSnapshot = SnapshotFrom<typeof containerMachine>;

const terminated = (t: Termination | undefined): ContainerState | Record<string, never> => (t ? { terminated: t } : {});

/** The waiting reason and message the snapshot's substate stands for. */
function waiting(snapshot: ContainerSnapshot): { reason: string; message?: string } {
  const c = snapshot.context;
  if (snapshot.matches({ Waiting: 'ErrImageNeverPull' })) return { reason: 'ErrImageNeverPull', message: c.message };
  if (snapshot.matches({ Waiting: { PullBackOff: 'ErrImagePull' } })) return { reason: 'ErrImagePull', message: c.message };
  if (snapshot.matches({ Waiting: 'PullBackOff' })) return { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` };
  if (snapshot.matches({ Waiting: 'CreateContainerError' })) return { reason: 'CreateContainerError', message: c.message };
  if (snapshot.matches({ Waiting: 'CrashLoopBackOff' })) {
    return { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(c.crashBackOffMs)} restarting failed container=${c.name}` };
  }
  return { reason: 'ContainerCreating' };
}

/** The Kubernetes `containerStatuses[]` entry for this container, from a snapshot alone. */
export function containerStatus(snapshot: ContainerSnapshot): ContainerStatus {
  const c = snapshot.context;
  const running = snapshot.matches('Running');
  let state: ContainerState;
  let lastState = terminated(c.last);
  if (running) state = { running: c.startedAt ? { startedAt: c.startedAt } : {} };
  else if (snapshot.matches('Terminated') && c.last) {
    state = { terminated: c.last };
    lastState = terminated(c.prior);
  } else {
    const w = waiting(snapshot);
    state = { waiting: w.message === undefined ? { reason: w.reason } : w };
  }
  return {
    name: c.name,
    state,
    lastState,
    ready: running && c.ready,
    restartCount: c.restartCount,
    image: c.image,
    imageID: c.imageID,
    ...(c.containerID ? { containerID: c.containerID } : {}),
    started: running && c.started,
  };
}
