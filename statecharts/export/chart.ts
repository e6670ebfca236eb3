/**
 * A machine read into plain data: every state node with its kind, initial
 * child, invoked actors, entry/exit actions and transitions (event, guard,
 * actions, targets), in the machine's own order. Everything the exports (JSON,
 * SCXML, Mermaid) and the dashboard draw comes from this one reading, so they
 * cannot disagree. Delayed transitions and invoked actors' done/error
 * transitions keep their XState event types; `kind` says which they are.
 */
import type { AnyStateMachine } from 'xstate';

export type Chart = { id: string; description?: string; root: ChartState };

export type ChartState = {
  /** Full id, e.g. `pod.ContainerCreating.CreatingSandbox`. */
  id: string;
  /** Name inside its parent. */
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child (compound states). */
  initial?: string;
  description?: string;
  entry: string[];
  exit: string[];
  invoke: { id: string; src: string }[];
  transitions: ChartTransition[];
  states: ChartState[];
};

export type ChartTransition = {
  /** XState's event type; '' for an eventless (always) transition. */
  event: string;
  kind: 'event' | 'after' | 'done' | 'error' | 'always';
  /** For `after`: the delay's name or its milliseconds. For `done`/`error`: the invoked actor's id. */
  detail?: string;
  guard?: string;
  actions: string[];
  /** Full ids; empty for a transition that stays (actions only). */
  targets: string[];
  reenter: boolean;
};

type Named = string | { type?: string; name?: string } | ((...args: never[]) => unknown);

/** A guard's or action's name as written (`not(x)` for a negated named guard); coverage ids use it too. */
export function nameOf(x: Named | undefined): string | undefined {
  if (x === undefined) return undefined;
  if (typeof x === 'string') return x;
  if (typeof x === 'function') {
    const f = x as { type?: string; name?: string; guards?: Named[]; stateValue?: unknown };
    if (f.guards) return `${(f.type ?? 'guard').replace(/^xstate\./, '')}(${f.guards.map(nameOf).join(', ')})`;
    if (f.stateValue !== undefined) return `stateIn(${JSON.stringify(f.stateValue)})`;
    return (f.type ?? f.name) || 'inline';
  }
  return x.type ?? x.name ?? 'inline';
}

/** Actions the delays and invocations add by themselves (XState's own), which a reader did not write. */
const INTERNAL_ACTIONS = new Set(['xstate.raise', 'xstate.cancel']);

function actionsOf(list: readonly Named[] | undefined): string[] {
  return (list ?? []).map((a) => nameOf(a) ?? 'inline').filter((n) => !INTERNAL_ACTIONS.has(n));
}

type Node = {
  id: string;
  key: string;
  type: ChartState['type'];
  description?: string;
  initial?: { target?: readonly { key: string }[] };
  entry: Named[];
  exit: Named[];
  invoke: { id: string; src: unknown }[];
  after: { eventType: string; delay: string | number }[];
  transitions: Map<string, TransitionDef[]>;
  always?: TransitionDef[];
  states: Record<string, Node>;
};
type TransitionDef = { eventType: string; guard?: Named; actions: Named[]; target?: readonly { id: string }[]; reenter?: boolean };

function transitionOf(node: Node, t: TransitionDef): ChartTransition {
  const base = { guard: nameOf(t.guard), actions: actionsOf(t.actions), targets: (t.target ?? []).map((s) => s.id), reenter: t.reenter === true };
  const event = t.eventType ?? '';
  if (event === '') return { event, kind: 'always', ...base };
  const after = node.after.find((a) => a.eventType === event);
  if (after) return { event, kind: 'after', detail: String(after.delay), ...base };
  const invoked = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event);
  if (invoked) return { event, kind: invoked[1] as 'done' | 'error', detail: invoked[2], ...base };
  return { event, kind: 'event', ...base };
}

function stateOf(node: Node): ChartState {
  const transitions: ChartTransition[] = [];
  for (const defs of node.transitions.values()) for (const t of defs) transitions.push(transitionOf(node, t));
  for (const t of node.always ?? []) transitions.push(transitionOf(node, t));
  const initial = node.initial?.target?.[0]?.key;
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    ...(initial ? { initial } : {}),
    ...(node.description ? { description: node.description } : {}),
    entry: actionsOf(node.entry),
    exit: actionsOf(node.exit),
    invoke: node.invoke.map((i) => ({ id: i.id, src: typeof i.src === 'string' ? i.src : i.id })),
    transitions,
    states: Object.values(node.states).map(stateOf),
  };
}

export function readChart(machine: AnyStateMachine, description?: string): Chart {
  return { id: machine.id, ...(description ? { description } : {}), root: stateOf(machine.root as unknown as Node) };
}

/** Every state of the chart, depth first, the root included. */
export function allStates(chart: Chart): ChartState[] {
  const out: ChartState[] = [];
  const walk = (s: ChartState) => {
    out.push(s);
    s.states.forEach(walk);
  };
  walk(chart.root);
  return out;
}
