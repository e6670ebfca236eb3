/**
 * Model-based coverage for Keelson's statecharts: every transition a machine
 * defines must be taken by some path built from @xstate/graph's shortest paths. Events are derived
 * from the machine itself (including invoke done/error and `after` events), paths
 * are replayed on a real actor whose invoked actors never settle on their own,
 * and the transitions actually taken are read from the inspection stream.
 *
 * Context stays out of the state key (it would multiply the states), so a guard
 * that reads context or event data is covered by what the test passes in:
 * events with payloads (`events`, e.g. an exit code or an actor's output) and one
 * traversal per machine input (`inputs`, e.g. one per restart policy).
 * Transitions are told apart by source, event, guard and target, so each branch
 * of a guarded choice counts on its own; eventless (`always`) transitions count too.
 */
import { getShortestPaths, getStateNodes } from '@xstate/graph';
import { createActor, fromCallback, type AnyEventObject, type AnyStateMachine, type EventObject } from 'xstate';
import { nameOf } from '../export/chart.js';

/** `source --event [guard]--> target` for one transition definition. */
export type TransitionId = string;

type Guard = Parameters<typeof nameOf>[0];
type TransitionDef = { source: { id: string }; target?: readonly { id: string }[]; eventType: string; guard?: Guard };
type Node = { id: string; type: string; transitions: Map<string, TransitionDef[]>; always?: TransitionDef[] };

function idOf(t: TransitionDef): TransitionId {
  const targets = t.target?.map((s) => s.id).join(',') || '(self)';
  const guard = t.guard === undefined ? '' : ` [${nameOf(t.guard)}]`;
  return `${t.source.id} --${t.eventType || '(always)'}${guard}--> ${targets}`;
}

function nodesOf(machine: AnyStateMachine): Node[] {
  return [machine.root, ...getStateNodes(machine.root)] as unknown as Node[];
}

/** Every transition the machine defines, eventless ones included. */
export function allTransitions(machine: AnyStateMachine): TransitionId[] {
  const out: TransitionId[] = [];
  for (const node of nodesOf(machine)) {
    for (const defs of node.transitions.values()) for (const t of defs) out.push(idOf(t));
    for (const t of node.always ?? []) out.push(idOf(t));
  }
  return [...new Set(out)];
}

/** One event of each type the machine can react to (error events carry an error). */
export function machineEvents(machine: AnyStateMachine): EventObject[] {
  const types = new Set<string>();
  for (const node of nodesOf(machine)) for (const type of node.transitions.keys()) types.add(type);
  return [...types].filter((t) => t !== '*').map((type) => (type.startsWith('xstate.error.') ? { type, error: new Error('simulated') } : { type }));
}

/**
 * The derived events, where each type the test gave events for is replaced by
 * those events (in the test's order, which is the order paths try them in).
 */
function eventsFor(machine: AnyStateMachine, given: EventObject[]): EventObject[] {
  const byType = new Map<string, EventObject[]>();
  for (const e of given) byType.set(e.type, [...(byType.get(e.type) ?? []), e]);
  const out = machineEvents(machine).flatMap((e) => byType.get(e.type) ?? [e]);
  const derived = new Set(out.map((e) => e.type));
  return [...out, ...given.filter((e) => !derived.has(e.type))];
}

/** The machine with every invoked actor replaced by one that never finishes. */
function inert(machine: AnyStateMachine): AnyStateMachine {
  const actors: Record<string, unknown> = {};
  for (const key of Object.keys(machine.implementations.actors ?? {})) actors[key] = fromCallback(() => () => undefined);
  return machine.provide({ actors } as never);
}

/** Replays each path and returns the transitions it took. */
export function coveredTransitions(
  machine: AnyStateMachine,
  paths: { steps: { event: EventObject }[] }[],
  input?: unknown,
): Set<TransitionId> {
  const covered = new Set<TransitionId>();
  const logic = inert(machine);
  for (const path of paths) {
    const actor = createActor(logic, {
      input,
      inspect: (ev) => {
        if (ev.type === '@xstate.microstep') {
          for (const t of (ev as unknown as { _transitions: TransitionDef[] })._transitions) covered.add(idOf(t));
        }
      },
    });
    // Error events the current state does not handle are not sent (they would fail
    // the actor), so any failure is the machine's own: say which path hit it.
    let failure: unknown;
    actor.subscribe({ error: (err) => (failure ??= err) });
    actor.start();
    for (const step of path.steps.slice(1)) {
      if (!step.event.type.startsWith('xstate.error.') || actor.getSnapshot().can(step.event)) actor.send(step.event);
    }
    actor.stop();
    if (failure !== undefined) {
      const events = path.steps.map((s) => s.event.type).join(' > ');
      throw new Error(`replaying ${events} failed: ${String(failure)}`, { cause: failure });
    }
  }
  return covered;
}

export type Coverage = { all: TransitionId[]; covered: Set<TransitionId>; missing: TransitionId[]; states: string[]; reached: Set<string> };

export type CoverageOptions = {
  /**
   * Events with the data guards and actions read (exit codes, actor outputs,
   * errors with a reason). They replace the bare event derived for their type;
   * give several of one type to try each.
   */
  events?: AnyEventObject[];
  /** Inputs to explore the machine with, one traversal each; the results are merged. */
  inputs?: unknown[];
};

/**
 * The shortest path to every state, each extended by every event once: so every
 * transition out of every reachable state is tried, including those that lead
 * back to a state already visited (which simple paths never take).
 * A bare array as the second argument is taken as `events`.
 */
export function transitionCoverage(machine: AnyStateMachine, options: AnyEventObject[] | CoverageOptions = {}): Coverage {
  const { events: given = [], inputs = [undefined] } = Array.isArray(options) ? { events: options } : options;
  const events = eventsFor(machine, given);
  const all = allTransitions(machine);
  const covered = new Set<TransitionId>();
  const reached = new Set<string>();
  for (const input of inputs) {
    const opts = {
      events,
      input,
      serializeState: (s: { value: unknown }) => JSON.stringify(s.value),
      // A machine that reached a final state takes no more events (a pure transition would).
      stopWhen: (s: { status: string }) => s.status !== 'active',
    } as never;
    const shortest = getShortestPaths(machine, opts);
    const paths = [
      ...shortest,
      ...shortest.flatMap((p) => events.map((event) => ({ ...p, steps: [...p.steps, { event, state: p.state }] }))),
    ];
    for (const t of coveredTransitions(machine, paths, input)) covered.add(t);
    for (const p of paths) for (const n of (p.state as unknown as { _nodes: { id: string }[] })._nodes) reached.add(n.id);
  }
  // History states are pseudo-states: a machine is never "in" one.
  const states = (getStateNodes(machine.root) as unknown as Node[]).filter((n) => n.type !== 'history').map((n) => n.id);
  return { all, covered, missing: all.filter((t) => !covered.has(t)), states, reached };
}
