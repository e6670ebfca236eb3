/**
 * Keelson's statecharts, by the name the CLI, the exports and the dashboard use.
 * Each machine is pure (no I/O): the services provide its actors and actions.
 */
import type { AnyStateMachine } from 'xstate';
import { apiServerMachine } from './apiserver.machine.js';
import { containerMachine } from './container.machine.js';
import { kubeletMachine } from './kubelet.machine.js';
import { leaderMachine } from './leader.machine.js';
import { nodeLifecycleMachine } from './node.machine.js';
import { podMachine } from './pod.machine.js';

export type Statechart = { name: string; machine: AnyStateMachine; description: string };

export const STATECHARTS: readonly Statechart[] = [
  { name: 'pod', machine: podMachine, description: "a pod's lifecycle on its node, as the kubelet runs it" },
  { name: 'container', machine: containerMachine, description: "one container's start, probes, restarts and back-off" },
  { name: 'node', machine: nodeLifecycleMachine, description: 'a node as the node controller sees it (Ready, NotReady, Unknown; taints, evictions)' },
  { name: 'leader', machine: leaderMachine, description: 'leader election on a Lease (scheduler, controller-manager)' },
  { name: 'kubelet', machine: kubeletMachine, description: "the kubelet's registration and heartbeat" },
  { name: 'apiserver', machine: apiServerMachine, description: "the API server's lifecycle" },
];

export function statechart(name: string): Statechart | undefined {
  return STATECHARTS.find((s) => s.name === name);
}
