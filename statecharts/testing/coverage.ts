/**
 * Model-based coverage for Keelson's statecharts: every transition a machine
 * defines must be taken by some path built from @xstate/graph's shortest paths. Events are derived
 * from the machine itself (including invoke done/error and `after` events), paths
 * are replayed on a real actor whose invoked actors never settle on their own,
 * and the transitions actually taken are read from the inspection stream.
 */
import { getShortestPaths, getStateNodes } from '@xstate/graph';
import { createActor, fromCallback, type AnyStateMachine, type EventObject } from 'xstate';

/** `source --event--> target` for one transition definition. */
export type TransitionId = string;

type TransitionDef = { source: { id: string }; target?: readonly { id: string }[]; eventType: string };

function idOf(t: TransitionDef): TransitionId {
  const targets = t.target?.map((s) => s.id).join(',') || '(self)';
  return `${t.source.id} --${t.eventType}--> ${targets}`;
}

/** Every transition the machine defines. */
export function allTransitions(machine: AnyStateMachine): TransitionId[] {
  const out: TransitionId[] = [];
  for (const node of [machine.root, ...getStateNodes(machine.root)]) {
    for (const defs of node.transitions.values()) for (const t of defs as TransitionDef[]) out.push(idOf(t));
  }
  return [...new Set(out)];
}

/** One event of each type the machine can react to (error events carry an error). */
export function machineEvents(machine: AnyStateMachine): EventObject[] {
  const types = new Set<string>();
  for (const node of [machine.root, ...getStateNodes(machine.root)]) for (const type of node.transitions.keys()) types.add(type);
  return [...types].filter((t) => t !== '*').map((type) => (type.startsWith('xstate.error.') ? { type, error: new Error('simulated') } : { type }));
}

/** The machine with every invoked actor replaced by one that never finishes. */
function inert(machine: AnyStateMachine): AnyStateMachine {
  const actors: Record<string, unknown> = {};
  for (const key of Object.keys(machine.implementations.actors ?? {})) actors[key] = fromCallback(() => () => undefined);
  return machine.provide({ actors } as never);
}

/** Replays each path and returns the transitions it took. */
export function coveredTransitions(machine: AnyStateMachine, paths: { steps: { event: EventObject }[] }[]): Set<TransitionId> {
  const covered = new Set<TransitionId>();
  const logic = inert(machine);
  for (const path of paths) {
    const actor = createActor(logic, {
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep') {
          for (const t of (ev as unknown as { _transitions: TransitionDef[] })._transitions) covered.add(idOf(t));
        }
      },
    });
    // An error event the current state does not handle would fail the actor itself.
    actor.subscribe({ error: () => undefined });
    actor.start();
    for (const step of path.steps.slice(1)) {
      if (!step.event.type.startsWith('xstate.error.') || actor.getSnapshot().can(step.event)) actor.send(step.event);
    }
    actor.stop();
  }
  return covered;
}

export type Coverage = { all: TransitionId[]; covered: Set<TransitionId>; missing: TransitionId[]; states: string[]; reached: Set<string> };

/**
 * The shortest path to every state, each extended by every event once: so every
 * transition out of every reachable state is tried, including those that lead
 * back to a state already visited (which simple paths never take).
 */
export function transitionCoverage(machine: AnyStateMachine, extraEvents: EventObject[] = []): Coverage {
  const events = [...machineEvents(machine), ...extraEvents];
  const opts = { events, serializeState: (s: { value: unknown }) => JSON.stringify(s.value) } as never;
  const shortest = getShortestPaths(machine, opts);
  const paths = [
    ...shortest,
    ...shortest.flatMap((p) => events.map((event) => ({ ...p, steps: [...p.steps, { event, state: p.state }] }))),
  ];
  const all = allTransitions(machine);
  const covered = coveredTransitions(machine, paths);
  const states = getStateNodes(machine.root).map((n) => n.id);
  const reached = new Set<string>();
  for (const p of paths) for (const n of (p.state as unknown as { _nodes: { id: string }[] })._nodes) reached.add(n.id);
  return { all, covered, missing: all.filter((t) => !covered.has(t)), states, reached };
}
