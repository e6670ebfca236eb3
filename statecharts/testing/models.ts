/**
 * What model-based coverage explores each machine with. Context and event data
 * stay out of the state key, so a guard that reads them is covered by what is
 * given here: events that carry the data (exit codes, actors' outputs, errors
 * with a reason) and one traversal per input a guard reads. Used by the
 * coverage test (statecharts/coverage.test.ts) and `npm run coverage:statecharts`.
 */
import type { AnyEventObject } from 'xstate';
import type { ContainerInput, ContainerState, ContainerStatus } from '../container.machine.js';
import { LEASE_LOST, type Holder } from '../leader.machine.js';
import type { PodInput } from '../pod.machine.js';
import type { CoverageOptions } from './coverage.js';

/** Status builders for container `name`, as the container actors report them to the pod. */
export const status = (name: string, state: ContainerState, more: Partial<ContainerStatus> = {}): ContainerStatus => ({
  name,
  state,
  lastState: {},
  ready: false,
  restartCount: 0,
  image: 'busybox',
  imageID: '',
  started: 'running' in state,
  ...more,
});
export const running = (name: string, ready = true) => status(name, { running: { startedAt: 'T1' } }, { ready });
export const exited = (name: string, exitCode: number) => status(name, { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } });
export const backingOff = (name: string, exitCode: number) =>
  status(name, { waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode, reason: 'Error' } }, restartCount: 1 });
export const report = (s: ContainerStatus) => ({ type: 'CONTAINER_STATUS' as const, status: s });

const otherHolder = (revision: number): Holder => ({ identity: 'b', term: revision, revision, createdMs: 0 });
const leaseLost = () => Object.assign(new Error('the lease is held by someone else'), { reason: LEASE_LOST });
/** What the API answers when the Node object was deleted (an ApiError with reason NotFound). */
export const nodeNotFound = () => Object.assign(new Error('nodes "n1" not found'), { reason: 'NotFound', code: 404 });

export const COVERAGE_MODELS: Record<string, CoverageOptions> = {
  // The phase guards read the container statuses in context: CONTAINER_STATUS
  // events for each kind of status (running, exited 0 or 1, backing off) under
  // each restart policy. The first DELETE is the longer one, so the shorter one
  // later cuts the grace under way.
  pod: {
    events: [
      { type: 'ADMIT', startTime: 'T0' },
      { type: 'REJECT', reason: 'OutOfcpu', message: "Node didn't have enough resource: cpu" },
      { type: 'ADOPT', sandboxID: 'sb1', startTime: 'T0' },
      { type: 'xstate.done.actor.createSandbox', output: { sandboxID: 'sb1', podIP: '10.42.0.7' } },
      report(running('app')),
      report(exited('app', 0)),
      report(exited('app', 1)),
      report(backingOff('app', 1)),
      { type: 'DELETE', graceSeconds: 30 },
      { type: 'DELETE', graceSeconds: 0 },
    ] as AnyEventObject[],
    inputs: (['Always', 'OnFailure', 'Never'] as const).map(
      (restartPolicy): PodInput => ({ uid: 'u1', name: 'p', containers: [{ name: 'app', image: 'busybox' }], restartPolicy }),
    ),
  },
  // Both exit codes, both directions of a grace change, the actors' outputs; one
  // traversal per restart policy, pull policy Never against the rest, with and
  // without a startup probe. STARTED and STARTUP_FAILED carry no data.
  container: {
    events: [
      { type: 'START', sandboxID: 'sb1' },
      { type: 'ADOPT', containerID: 'docker://a1', startedAt: '2025-01-01T00:00:00Z' },
      { type: 'xstate.done.actor.ensureImage', output: { imageID: 'sha256:1' } },
      { type: 'xstate.done.actor.startContainer', output: { containerID: 'docker://c1', startedAt: '2025-01-01T00:00:00Z' } },
      { type: 'EXITED', exitCode: 0, finishedAt: '2025-01-01T00:01:00Z' },
      { type: 'EXITED', exitCode: 1, finishedAt: '2025-01-01T00:01:00Z' },
      { type: 'READY_CHANGED', ready: true },
      { type: 'STOP', graceSeconds: 30 },
      { type: 'STOP', graceSeconds: 0 },
    ],
    inputs: (['Always', 'OnFailure', 'Never'] as const).flatMap((restartPolicy) =>
      (['IfNotPresent', 'Never'] as const).flatMap((imagePullPolicy) =>
        [false, true].map((hasStartupProbe): ContainerInput => ({ name: 'app', image: 'nginx', restartPolicy, imagePullPolicy, hasStartupProbe })),
      ),
    ),
  },
  // No guards: the derived events (the observations, NODE_DELETED,
  // DISRUPTION_ENDED and the toleration timer) are all there is.
  node: { inputs: [{ nodeName: 'n1', podEvictionTimeoutMs: 5_000 }] },
  // Guards read event data (outputs, revisions, the error's reason) and the term
  // recorded on acquisition: each branch gets an event that takes it.
  leader: {
    events: [
      { type: 'xstate.done.actor.acquire', output: { acquired: true, term: 1, revision: 1, sentMs: 0, ackMs: 10 } },
      { type: 'xstate.done.actor.acquire', output: { acquired: true, term: 1, revision: 1, sentMs: 0, ackMs: 60_000 } },
      { type: 'xstate.done.actor.acquire', output: { acquired: false, holder: otherHolder(3), nowMs: 0 } },
      { type: 'xstate.done.actor.renew', output: { revision: 2, sentMs: 0, ackMs: 10 } },
      { type: 'xstate.done.actor.renew', output: { revision: 2, sentMs: 0, ackMs: 60_000 } },
      { type: 'xstate.error.actor.renew', error: leaseLost() },
      { type: 'xstate.error.actor.renew', error: new Error('503 jetstream is not enabled') },
      { type: 'HOLDER', holder: otherHolder(5), nowMs: 0 },
      { type: 'RELEASED', revision: 9, nowMs: 0 },
    ],
    inputs: [{ identity: 'a' }],
  },
  // The only guard that reads data is "the Node is gone", on reportStatus's
  // error: an ordinary error and a NotFound one. The Stale/Current choice is a
  // stateIn guard, covered by states.
  kubelet: {
    events: [
      { type: 'xstate.error.actor.reportStatus', error: new Error('timeout') },
      { type: 'xstate.error.actor.reportStatus', error: nodeNotFound() },
    ],
    inputs: [{ nodeName: 'n1' }],
  },
  apiserver: {},
};
