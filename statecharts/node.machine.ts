/**
 * One node as the node lifecycle controller sees it (Kubernetes' node lifecycle
 * controller with taint-based eviction). Pure: the controller turns what it reads
 * — the node's heartbeat Lease and its Ready condition — into events, and plugs
 * the writes in as actions with `.provide()`.
 *
 *   Observing ─┬─ KUBELET_READY ──────────► Ready ◄──────── KUBELET_READY ────────┐
 *              └─ NOT_READY / EXPIRED ─┐      │ KUBELET_NOT_READY / LEASE_EXPIRED │
 *                                      ▼      ▼                                   │
 *                          Unhealthy ∥ Condition: NotReady ⇄ Unknown ─────────────┘
 *                                    ∥ Eviction:  Tolerating ──after toleration──► Evicting
 *                                                 ▲ DISRUPTION_ENDED (starts over) ┘
 *   NODE_DELETED (from anywhere) ──► Gone
 *
 * The two regions of Unhealthy are independent on purpose: a node that turns
 * from NotReady to Unknown (a kubelet that said "shutting down", then stopped
 * renewing its lease) keeps the eviction clock that started when it first
 * became unhealthy, as Kubernetes' taint manager keeps the earliest eviction.
 *
 * Events (the controller sends one per observation; repeats change nothing):
 *  - KUBELET_READY: the lease is fresh and the kubelet posts Ready=True.
 *  - KUBELET_NOT_READY: the lease is fresh and the kubelet posts Ready=False.
 *  - LEASE_EXPIRED: neither the lease nor the node status was renewed within the
 *    grace period (nodeMonitorGracePeriod).
 *  - NODE_DELETED: the Node object is gone.
 *  - DISRUPTION_ENDED: the controller saw no Ready node at all (a full
 *    disruption: more likely its own view of the cluster was lost than every
 *    machine) and sees one again; as Kubernetes re-taints then, the unhealthy
 *    nodes' tolerations start over instead of emptying them all at once.
 *
 * Actions the service provides (no-ops here):
 *  - `removeTaints`: take the not-ready / unreachable taints off the node.
 *  - `taint({ key })`: put `key` on the node with NoSchedule and NoExecute (and
 *    take the other lifecycle taint off).
 *  - `setConditionsUnknown`: Ready and the pressure conditions to Unknown,
 *    reason NodeStatusUnknown, "Kubelet stopped posting node status.".
 *  - `markPodsNotReady`: the node's pods' Ready condition to False.
 *  - `startTolerating`: the eviction clock starts now (pods with their own
 *    tolerationSeconds count from here).
 *  - `evictPods`: the default toleration is over: evict the pods that do not
 *    tolerate the node's NoExecute taint.
 *  - `recordStatusChange({ status })`: an Event NodeNotReady / NodeReady.
 *  - `forget`: drop what is kept about the node.
 */
import { setup, type SnapshotFrom } from 'xstate';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export type LifecycleTaintKey = typeof TAINT_NOT_READY | typeof TAINT_UNREACHABLE;

export type NodeLifecycleInput = {
  nodeName: string;
  /** How long pods without a toleration of their own stay on an unhealthy node. */
  podEvictionTimeoutMs: number;
};

export type NodeLifecycleContext = NodeLifecycleInput;

export type NodeLifecycleEvent =
  | { type: 'KUBELET_READY' }
  | { type: 'KUBELET_NOT_READY' }
  | { type: 'LEASE_EXPIRED' }
  | { type: 'NODE_DELETED' }
  | { type: 'DISRUPTION_ENDED' };

export const nodeLifecycleMachine = setup({
  types: {
    context: {} as NodeLifecycleContext,
    events: {} as NodeLifecycleEvent,
    input: {} as NodeLifecycleInput,
  },
  delays: {
    toleration: ({ context }) => context.podEvictionTimeoutMs,
  },
  actions: {
    removeTaints: () => undefined,
    taint: (_, _params: { key: LifecycleTaintKey }) => undefined,
    setConditionsUnknown: () => undefined,
    markPodsNotReady: () => undefined,
    startTolerating: () => undefined,
    evictPods: () => undefined,
    recordStatusChange: (_, _params: { status: 'NodeNotReady' | 'NodeReady' }) => undefined,
    forget: () => undefined,
  },
}).createMachine({
  id: 'node',
  initial: 'Observing',
  context: ({ input }) => ({ ...input }),
  on: { NODE_DELETED: '.Gone' },
  states: {
    /** Just met (a new node, or a controller that just became leader): nothing decided yet. */
    Observing: {
      on: {
        KUBELET_READY: 'Ready',
        KUBELET_NOT_READY: 'Unhealthy.Condition.NotReady',
        LEASE_EXPIRED: 'Unhealthy.Condition.Unknown',
      },
    },
    /** The kubelet renews its lease and posts Ready=True: no lifecycle taints. */
    Ready: {
      tags: 'ready',
      entry: 'removeTaints',
      on: {
        KUBELET_NOT_READY: {
          target: 'Unhealthy.Condition.NotReady',
          actions: { type: 'recordStatusChange', params: { status: 'NodeNotReady' } },
        },
        LEASE_EXPIRED: {
          target: 'Unhealthy.Condition.Unknown',
          actions: { type: 'recordStatusChange', params: { status: 'NodeNotReady' } },
        },
      },
    },
    /** Tainted NoExecute: its pods wait out their toleration, then are evicted. */
    Unhealthy: {
      type: 'parallel',
      tags: 'unhealthy',
      on: {
        KUBELET_READY: {
          target: 'Ready',
          actions: { type: 'recordStatusChange', params: { status: 'NodeReady' } },
        },
      },
      states: {
        Condition: {
          initial: 'NotReady',
          states: {
            /** The kubelet is there but says Ready=False: taint not-ready. */
            NotReady: {
              tags: 'notReady',
              entry: [{ type: 'taint', params: { key: TAINT_NOT_READY } }, 'markPodsNotReady'],
              on: { LEASE_EXPIRED: 'Unknown' },
            },
            /** Nothing heard within the grace period: conditions Unknown, taint unreachable. */
            Unknown: {
              tags: 'unreachable',
              entry: ['setConditionsUnknown', { type: 'taint', params: { key: TAINT_UNREACHABLE } }, 'markPodsNotReady'],
              on: { KUBELET_NOT_READY: 'NotReady' },
            },
          },
        },
        Eviction: {
          initial: 'Tolerating',
          states: {
            /** Pods tolerate the taint for the default toleration (or their own tolerationSeconds). */
            Tolerating: {
              entry: 'startTolerating',
              after: { toleration: 'Evicting' },
              on: { DISRUPTION_ENDED: { target: 'Tolerating', reenter: true } },
            },
            /** The default toleration is over: pods that do not tolerate the taint go. */
            Evicting: {
              tags: 'evicting',
              entry: 'evictPods',
              on: { DISRUPTION_ENDED: 'Tolerating' },
            },
          },
        },
      },
    },
    /** The Node object was deleted. */
    Gone: {
      type: 'final',
      entry: 'forget',
    },
  },
});

export type NodeLifecycleSnapshot = SnapshotFrom<typeof nodeLifecycleMachine>;

/**
 * The lifecycle taint the node should carry in this state: a key, `null` for
 * none (Ready), or `undefined` when the machine has no opinion yet (Observing,
 * Gone) and the taints are left as they are.
 */
export function lifecycleTaint(s: NodeLifecycleSnapshot): LifecycleTaintKey | null | undefined {
  if (s.hasTag('unreachable')) return TAINT_UNREACHABLE;
  if (s.hasTag('notReady')) return TAINT_NOT_READY;
  if (s.hasTag('ready')) return null;
  return undefined;
}

/** Whether the controller should hold the node's conditions at Unknown. */
export function conditionsUnknown(s: NodeLifecycleSnapshot): boolean {
  return s.hasTag('unreachable');
}

/** Whether the default toleration is over, so untolerating pods are evicted. */
export function evicting(s: NodeLifecycleSnapshot): boolean {
  return s.hasTag('evicting');
}

/** Whether the node is NotReady or Unknown. */
export function unhealthy(s: NodeLifecycleSnapshot): boolean {
  return s.hasTag('unhealthy');
}
