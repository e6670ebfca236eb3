/** `kubectl get pods`: NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES. */
import type { KObject } from '../../lib/api/resources.js';
import { age, humanDuration, parseTime } from './age.js';
import { ageColumn, arr, column, nameColumn, num, rec, str, wide } from './format.js';
import type { Printer, TableRowCondition } from './types.js';

type State = {
  waiting?: { reason?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; signal?: number; reason?: string; finishedAt?: string };
};

type ContainerStatus = {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: State;
  lastState?: State;
};

type Condition = { type?: string; status?: string; reason?: string };

/** Pod.status.reason set by the node lifecycle controller for pods on a lost node. */
const NODE_UNREACHABLE_REASON = 'NodeLost';

function statuses(v: unknown): ContainerStatus[] {
  return arr(v).map((s) => rec(s) as ContainerStatus);
}

/** The moment a container last terminated, if it ever did. */
function lastTermination(s: ContainerStatus): number | undefined {
  return parseTime(rec(rec(s.lastState).terminated).finishedAt);
}

function conditionTrue(conditions: Condition[], type: string): boolean {
  return conditions.some((c) => c.type === type && c.status === 'True');
}

/** The READY, STATUS and RESTARTS facts, following kubectl's printPod. */
export function podStatus(pod: KObject): {
  ready: number;
  total: number;
  reason: string;
  restarts: number;
  lastRestart: number | undefined;
} {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const containers = arr(spec.containers);
  const initSpecs = arr(spec.initContainers).map(rec);
  const conditions = arr(status.conditions).map((c) => rec(c) as Condition);

  // Sidecars (init containers with restartPolicy Always) count as pod containers.
  const sidecars = new Set(initSpecs.filter((c) => c.restartPolicy === 'Always').map((c) => str(c.name)));
  const total = containers.length + sidecars.size;

  const phase = str(status.phase);
  let reason = str(status.reason) || phase;
  if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) {
    reason = 'SchedulingGated';
  }

  let ready = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let sidecarRestarts = 0;
  let sidecarLastRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined) =>
    a === undefined ? b : b === undefined ? a : Math.max(a, b);

  let initializing = false;
  const initStatuses = statuses(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    const isSidecar = sidecars.has(str(c.name));
    restarts += num(c.restartCount);
    lastRestart = later(lastRestart, lastTermination(c));
    if (isSidecar) {
      sidecarRestarts += num(c.restartCount);
      sidecarLastRestart = later(sidecarLastRestart, lastTermination(c));
    }
    const state = rec(c.state) as State;
    const terminated = state.terminated ? rec(state.terminated) : undefined;
    const waitingReason = state.waiting ? str(rec(state.waiting).reason) : '';
    if (terminated && num(terminated.exitCode) === 0) continue;
    if (isSidecar && c.started === true) {
      if (c.ready === true) ready++;
      continue;
    }
    if (terminated) {
      // Initialisation failed.
      const why = str(terminated.reason);
      if (why) reason = `Init:${why}`;
      else if (num(terminated.signal) !== 0) reason = `Init:Signal:${num(terminated.signal)}`;
      else reason = `Init:ExitCode:${num(terminated.exitCode)}`;
    } else if (waitingReason && waitingReason !== 'PodInitializing') {
      reason = `Init:${waitingReason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(conditions, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = sidecarLastRestart;
    let hasRunning = false;
    const main = statuses(status.containerStatuses);
    for (let i = main.length - 1; i >= 0; i--) {
      const c = main[i]!;
      restarts += num(c.restartCount);
      lastRestart = later(lastRestart, lastTermination(c));
      const state = rec(c.state) as State;
      const waitingReason = state.waiting ? str(rec(state.waiting).reason) : '';
      const terminated = state.terminated ? rec(state.terminated) : undefined;
      if (waitingReason) {
        reason = waitingReason;
      } else if (terminated && str(terminated.reason)) {
        reason = str(terminated.reason);
      } else if (terminated) {
        reason =
          num(terminated.signal) !== 0
            ? `Signal:${num(terminated.signal)}`
            : `ExitCode:${num(terminated.exitCode)}`;
      } else if (c.ready === true && state.running) {
        hasRunning = true;
        ready++;
      }
    }
    // A pod whose last-listed container completed but others still run is not done.
    if (reason === 'Completed' && hasRunning) {
      reason = conditionTrue(conditions, 'Ready') ? 'Running' : 'NotReady';
    }
  }

  const deleting = str(pod.metadata?.deletionTimestamp) !== '';
  if (deleting && str(status.reason) === NODE_UNREACHABLE_REASON) {
    reason = 'Unknown';
  } else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') {
    reason = 'Terminating';
  }

  return { ready, total, reason, restarts, lastRestart };
}

function readinessGates(pod: KObject): string {
  const gates = arr(rec(pod.spec).readinessGates).map(rec);
  if (gates.length === 0) return '<none>';
  const conditions = arr(rec(pod.status).conditions).map((c) => rec(c) as Condition);
  let passed = 0;
  for (const gate of gates) {
    const cond = conditions.find((c) => c.type === gate.conditionType);
    if (cond?.status === 'True') passed++;
  }
  return `${passed}/${gates.length}`;
}

function podIP(pod: KObject): string {
  const status = rec(pod.status);
  const first = rec(arr(status.podIPs)[0]);
  return str(first.ip) || str(status.podIP) || '<none>';
}

export const podPrinter: Printer = {
  columns: [
    nameColumn(),
    column('Ready', 'string', 'Ready containers out of all containers in the pod.'),
    column('Status', 'string', 'The aggregate status of the containers in this pod.'),
    column('Restarts', 'string', 'Container restarts in this pod, and how long ago the last one was.'),
    ageColumn(),
    wide('IP', 'string', 'The IP address allocated to the pod.'),
    wide('Node', 'string', 'The node the pod is bound to.'),
    wide('Nominated Node', 'string', 'The node the scheduler nominated for this pod while it preempts others.'),
    wide('Readiness Gates', 'string', 'Readiness gate conditions that are true out of all gates.'),
  ],
  cells(pod, { now }) {
    const s = podStatus(pod);
    const restarts =
      s.restarts !== 0 && s.lastRestart !== undefined
        ? `${s.restarts} (${humanDuration(now.getTime() - s.lastRestart)} ago)`
        : String(s.restarts);
    const spec = rec(pod.spec);
    const status = rec(pod.status);
    return [
      str(pod.metadata?.name),
      `${s.ready}/${s.total}`,
      s.reason,
      restarts,
      age(pod.metadata?.creationTimestamp, now),
      podIP(pod),
      str(spec.nodeName) || '<none>',
      str(status.nominatedNodeName) || '<none>',
      readinessGates(pod),
    ];
  },
  conditions(pod): TableRowCondition[] | undefined {
    switch (rec(pod.status).phase) {
      case 'Succeeded':
        return [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
      case 'Failed':
        return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
      default:
        return undefined;
    }
  },
};
