/**
 * One pod as the kubelet drives it. Pure: the service supplies three actors and
 * two actions with `.provide()` and feeds in admission, deletion and the pod's
 * container statuses.
 *
 *   Pending ──ADMIT──► ContainerCreating ─────────────────► Running ──► Succeeded / Failed
 *      │ REJECT ► Failed   (CreatingSandbox ⇄ SandboxBackOff,
 *      └ ADOPT ──────────►  StartingContainers)
 *   DELETE (from anywhere) ► Terminating (Stopping ─grace─► Killing ► RemovingSandbox) ► Terminated (final)
 *
 * How the pod relates to its containers: it does not spawn them. Each container
 * runs its own `containerMachine` actor, which the service creates; the pod only
 * receives their Kubernetes status entries as `CONTAINER_STATUS { status }`
 * (`containerStatus(snapshot)` of each container actor, on every change). So
 * both machines stay pure and are tested alone with plain events; the pod's
 * decisions rest on the same data the API shows (Kubernetes' own getPhase works on
 * container statuses too), and a hollow node can feed statuses without running
 * container machines at all.
 *
 * The service provides:
 *  - actor `createSandbox({ uid, name, namespace }) → { sandboxID, podIP? }`: the
 *    pod's shared network namespace (pause container or equivalent). Its AbortSignal
 *    is not relied on: a DELETE during creation waits for it to settle.
 *  - actor `killContainers({ uid, sandboxID? })`: SIGKILL what still runs, once
 *    the grace period is over.
 *  - actor `removeSandbox({ uid, sandboxID? })`: remove the sandbox and every
 *    container of the pod, found by the `io.keelson.pod-uid` label (so it also
 *    cleans up after a creation that raced a deletion). Retried every 10 s.
 *  - action `startContainers({ sandboxID, podIP? })`: send each container actor
 *    `START { sandboxID }` (or `ADOPT` for one found running after a restart).
 *  - action `stopContainers({ graceSeconds })`: send each container actor
 *    `STOP { graceSeconds }`. Runs again if a later DELETE shortens the grace.
 * The two actions do nothing by default. The test "wired as the service will
 * wire it" in pod.machine.test.ts shows the whole wiring with a fake runtime.
 *
 * Events: `ADMIT { startTime }` (admission passed), `REJECT { reason, message }`
 * (admission failed, e.g. OutOfcpu), `ADOPT { sandboxID, podIP?, startTime }`
 * (after a kubelet restart the sandbox already runs), `CONTAINER_STATUS { status }`,
 * `DELETE { graceSeconds? }` (default: the pod's terminationGracePeriodSeconds;
 * a shorter one cuts the grace under way, as `kubectl delete --grace-period`).
 *
 * `podStatus(snapshot)` gives the pod's `status` (phase, conditions,
 * containerStatuses, startTime, podIP). At Terminated the service deletes the pod.
 */
import { assertEvent, assign, fromPromise, setup, stateIn, type SnapshotFrom } from 'xstate';
import type { ContainerStatus, RestartPolicy } from './container.machine.js';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Kubernetes' PodCondition (without times: the service stamps lastTransitionTime). */
export type PodCondition = {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';
  status: 'True' | 'False';
  reason?: string;
  message?: string;
};

/** Kubernetes' PodStatus, the part the kubelet owns; JSON field names. */
export type PodStatus = {
  phase: PodPhase;
  conditions: PodCondition[];
  message?: string;
  reason?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  containerStatuses: ContainerStatus[];
};

export type PodContainer = { name: string; image: string };

export type PodInput = {
  uid: string;
  name: string;
  namespace?: string;
  containers: PodContainer[];
  /** Default Always. */
  restartPolicy?: RestartPolicy;
  /** Default 30. */
  terminationGracePeriodSeconds?: number;
};

export type PodEvent =
  | { type: 'ADMIT'; startTime: string }
  | { type: 'REJECT'; reason: string; message: string }
  | { type: 'ADOPT'; sandboxID: string; podIP?: string; startTime: string }
  | { type: 'CONTAINER_STATUS'; status: ContainerStatus }
  | { type: 'DELETE'; graceSeconds?: number };

export type PodContext = {
  uid: string;
  name: string;
  namespace: string;
  containers: PodContainer[];
  restartPolicy: RestartPolicy;
  terminationGracePeriodSeconds: number;
  /** The latest status of each container, by name. */
  statuses: Record<string, ContainerStatus>;
  /** The phase reported; kept while Terminating, settled at Terminated. */
  phase: PodPhase;
  sandboxID?: string;
  podIP?: string;
  startTime?: string;
  reason?: string;
  message?: string;
  /** Grace of the deletion under way. */
  graceSeconds: number;
  lastError?: string;
};

export type SandboxInput = { uid: string; name: string; namespace: string };
export type SandboxRef = { sandboxID: string; podIP?: string };
export type PodCleanupInput = { uid: string; sandboxID?: string };

/** How long a failed sandbox step waits before the next try (the pod worker's retry period). */
export const SANDBOX_RETRY_MS = 10_000;

/** A container's status before it reported any (Kubernetes shows ContainerCreating). */
export function pendingStatus(c: PodContainer): ContainerStatus {
  return {
    name: c.name,
    state: { waiting: { reason: 'ContainerCreating' } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: c.image,
    imageID: '',
    started: false,
  };
}

/** Kubernetes' getPhase: the pod phase its container statuses and restart policy imply. */
export function podPhase(statuses: ContainerStatus[], restartPolicy: RestartPolicy): PodPhase {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const { state, lastState } of statuses) {
    if ('running' in state) running++;
    else if ('terminated' in state) {
      stopped++;
      if (state.terminated.exitCode === 0) succeeded++;
    } else if ('terminated' in lastState) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (restartPolicy === 'Always') return 'Running';
  if (stopped === succeeded) return 'Succeeded';
  return restartPolicy === 'Never' ? 'Failed' : 'Running';
}

const statusList = (c: Pick<PodContext, 'containers' | 'statuses'>) => c.containers.map((k) => c.statuses[k.name] ?? pendingStatus(k));
const phaseOf = (c: PodContext) => podPhase(statusList(c), c.restartPolicy);
const anyRunning = (c: PodContext) => statusList(c).some((s) => 'running' in s.state);

const notProvided = <TOutput, TInput>(name: string) =>
  fromPromise<TOutput, TInput>(async () => {
    throw new Error(`pod machine: actor "${name}" was not provided`);
  });

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const podMachine = setup({
  types: {
    context: {} as PodContext,
    events: {} as PodEvent,
    input: {} as PodInput,
  },
  actors: {
    createSandbox: notProvided<SandboxRef, SandboxInput>('createSandbox'),
    killContainers: notProvided<void, PodCleanupInput>('killContainers'),
    removeSandbox: notProvided<void, PodCleanupInput>('removeSandbox'),
  },
  delays: {
    sandboxRetry: SANDBOX_RETRY_MS,
    grace: ({ context }) => context.graceSeconds * 1000,
  },
  guards: {
    phaseRunning: ({ context }) => phaseOf(context) === 'Running',
    phaseSucceeded: ({ context }) => phaseOf(context) === 'Succeeded',
    phaseFailed: ({ context }) => phaseOf(context) === 'Failed',
    noneRunning: ({ context }) => !anyRunning(context),
    shortensGrace: ({ context, event }) => {
      assertEvent(event, 'DELETE');
      return (event.graceSeconds ?? context.terminationGracePeriodSeconds) < context.graceSeconds;
    },
  },
  actions: {
    /** The service sends START (or ADOPT) to each container actor. */
    startContainers: (_, _params: SandboxRef) => undefined,
    /** The service sends STOP { graceSeconds } to each container actor. */
    stopContainers: (_, _params: { graceSeconds: number }) => undefined,
    admit: assign(({ event }) => {
      assertEvent(event, 'ADMIT');
      return { startTime: event.startTime };
    }),
    reject: assign(({ event }) => {
      assertEvent(event, 'REJECT');
      return { reason: event.reason, message: event.message };
    }),
    adopt: assign(({ event }) => {
      assertEvent(event, 'ADOPT');
      return { sandboxID: event.sandboxID, podIP: event.podIP, startTime: event.startTime };
    }),
    recordSandbox: assign((_, sandbox: SandboxRef) => ({ sandboxID: sandbox.sandboxID, podIP: sandbox.podIP })),
    recordStatus: assign(({ context, event }) => {
      assertEvent(event, 'CONTAINER_STATUS');
      return { statuses: { ...context.statuses, [event.status.name]: event.status } };
    }),
    recordGrace: assign(({ context, event }) => {
      assertEvent(event, 'DELETE');
      return { graceSeconds: event.graceSeconds ?? context.terminationGracePeriodSeconds };
    }),
    recordError: assign((_, { error }: { error: unknown }) => ({ lastError: errorMessage(error) })),
    setPhase: assign((_, phase: PodPhase) => ({ phase })),
    /** Deleted: Succeeded only if every container ended with 0 (as the kubelet does). */
    settlePhase: assign(({ context }) => ({
      phase:
        context.phase !== 'Failed' && statusList(context).every((s) => 'terminated' in s.state && s.state.terminated.exitCode === 0)
          ? ('Succeeded' as const)
          : ('Failed' as const),
    })),
  },
}).createMachine({
  id: 'pod',
  initial: 'Pending',
  context: ({ input }) => ({
    uid: input.uid,
    name: input.name,
    namespace: input.namespace ?? 'default',
    containers: input.containers,
    restartPolicy: input.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: input.terminationGracePeriodSeconds ?? 30,
    statuses: {},
    phase: 'Pending',
    graceSeconds: input.terminationGracePeriodSeconds ?? 30,
  }),
  on: {
    CONTAINER_STATUS: { actions: 'recordStatus' },
    DELETE: { target: '.Terminating', actions: 'recordGrace' },
  },
  states: {
    /** Bound to this node, not yet admitted by the kubelet. */
    Pending: {
      on: {
        ADMIT: { target: 'ContainerCreating', actions: 'admit' },
        REJECT: { target: 'Failed', actions: 'reject' },
        ADOPT: { target: 'ContainerCreating.StartingContainers', actions: 'adopt' },
      },
    },
    /** Admitted; phase Pending until every container has started (or ended). */
    ContainerCreating: {
      initial: 'CreatingSandbox',
      states: {
        /** Creating the pod's sandbox; a DELETE now waits for it to settle. */
        CreatingSandbox: {
          initial: 'Creating',
          invoke: {
            id: 'createSandbox',
            src: 'createSandbox',
            input: ({ context }) => ({ uid: context.uid, name: context.name, namespace: context.namespace }),
            onDone: [
              {
                guard: stateIn('#pod.ContainerCreating.CreatingSandbox.DeleteRequested'),
                target: '#pod.Terminating',
                actions: { type: 'recordSandbox', params: ({ event }) => event.output },
              },
              { target: 'StartingContainers', actions: { type: 'recordSandbox', params: ({ event }) => event.output } },
            ],
            onError: [
              {
                guard: stateIn('#pod.ContainerCreating.CreatingSandbox.DeleteRequested'),
                target: '#pod.Terminating',
                actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) },
              },
              { target: 'SandboxBackOff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
            ],
          },
          states: {
            Creating: { on: { DELETE: { target: 'DeleteRequested', actions: 'recordGrace' } } },
            /** Deleted mid-creation: terminate as soon as the sandbox settles. */
            DeleteRequested: {
              on: { DELETE: [{ guard: 'shortensGrace', actions: 'recordGrace' }, {}] },
            },
          },
        },
        /** The sandbox could not be created; try again shortly. */
        SandboxBackOff: {
          after: { sandboxRetry: 'CreatingSandbox' },
        },
        /** The containers are being started; waiting for their statuses. */
        StartingContainers: {
          entry: { type: 'startContainers', params: ({ context }) => ({ sandboxID: context.sandboxID ?? '', podIP: context.podIP }) },
          always: [
            { guard: 'phaseRunning', target: '#pod.Running' },
            { guard: 'phaseSucceeded', target: '#pod.Succeeded' },
            { guard: 'phaseFailed', target: '#pod.Failed' },
          ],
        },
      },
    },
    /** Every container has started; some run, or will be restarted. */
    Running: {
      entry: { type: 'setPhase', params: 'Running' },
      always: [
        { guard: 'phaseSucceeded', target: 'Succeeded' },
        { guard: 'phaseFailed', target: 'Failed' },
      ],
    },
    /** Every container ended with 0 and none will be restarted. */
    Succeeded: {
      entry: { type: 'setPhase', params: 'Succeeded' },
    },
    /** Rejected, or every container ended, one of them in failure, and none will be restarted. */
    Failed: {
      entry: { type: 'setPhase', params: 'Failed' },
    },
    /** Deleted: stop the containers, kill them after the grace period, remove the sandbox. */
    Terminating: {
      initial: 'Stopping',
      on: { DELETE: {} },
      states: {
        /** Containers were asked to stop; waiting for them, at most the grace period. */
        Stopping: {
          entry: { type: 'stopContainers', params: ({ context }) => ({ graceSeconds: context.graceSeconds }) },
          always: { guard: 'noneRunning', target: 'RemovingSandbox' },
          after: { grace: 'Killing' },
          on: {
            DELETE: [{ guard: 'shortensGrace', target: 'Stopping', reenter: true, actions: 'recordGrace' }, {}],
          },
        },
        /** The grace period is over: kill what still runs. */
        Killing: {
          invoke: {
            id: 'killContainers',
            src: 'killContainers',
            input: ({ context }) => ({ uid: context.uid, sandboxID: context.sandboxID }),
            onDone: 'RemovingSandbox',
            onError: { target: 'RemovingSandbox', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        /** Removing the sandbox and the pod's containers. */
        RemovingSandbox: {
          invoke: {
            id: 'removeSandbox',
            src: 'removeSandbox',
            input: ({ context }) => ({ uid: context.uid, sandboxID: context.sandboxID }),
            onDone: '#pod.Terminated',
            onError: { target: 'RemoveBackOff', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        /** Removal failed; try again shortly. */
        RemoveBackOff: {
          after: { sandboxRetry: 'RemovingSandbox' },
        },
      },
    },
    /** Nothing of the pod is left on the node: the service deletes the pod object. */
    Terminated: {
      type: 'final',
      entry: 'settlePhase',
    },
  },
});

export type PodSnapshot = SnapshotFrom<typeof podMachine>;

function readiness(type: 'ContainersReady' | 'Ready', phase: PodPhase, statuses: ContainerStatus[]): PodCondition {
  if (phase === 'Succeeded') return { type, status: 'False', reason: 'PodCompleted' };
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  if (unready.length === 0 && phase === 'Running') return { type, status: 'True' };
  return { type, status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
}

/** The pod's Kubernetes `status`, from a snapshot alone. */
export function podStatus(snapshot: PodSnapshot): PodStatus {
  const c = snapshot.context;
  const containerStatuses = statusList(c);
  return {
    phase: c.phase,
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Initialized', status: c.startTime ? 'True' : 'False' },
      readiness('ContainersReady', c.phase, containerStatuses),
      readiness('Ready', c.phase, containerStatuses),
    ],
    ...(c.message ? { message: c.message } : {}),
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.podIP ? { podIP: c.podIP, podIPs: [{ ip: c.podIP }] } : {}),
    ...(c.startTime ? { startTime: c.startTime } : {}),
    containerStatuses,
  };
}
