/**
 * A chart (chart.ts) written out three ways:
 * - `json`: the machine as an XState config (ids absolute, `#pod.Running`), which
 *   `createMachine` and Stately's editor read back; guards, actions, delays and
 *   actors by name;
 * - `scxml`: W3C SCXML, with delays as `<send>`s cancelled on exit, XState's
 *   event names for delays and actor results, and named actions as
 *   `<ks:action>` elements of Keelson's namespace;
 * - `mermaid`: a `stateDiagram-v2` for people (the dashboard draws these).
 */
import { allStates, type Chart, type ChartState, type ChartTransition } from './chart.js';

export const FORMATS = ['json', 'scxml', 'mermaid'] as const;
export type Format = (typeof FORMATS)[number];

/** File extension of each format under statecharts/exports/. */
export const EXTENSIONS: Record<Format, string> = { json: 'json', scxml: 'scxml', mermaid: 'mmd' };

export function render(chart: Chart, format: Format): string {
  if (format === 'json') return JSON.stringify(toXStateConfig(chart), null, 2) + '\n';
  if (format === 'scxml') return toScxml(chart);
  return toMermaid(chart);
}

// ---- XState JSON -------------------------------------------------------------

type TransitionConfig = { target?: string | string[]; guard?: string; actions?: string[]; reenter?: true };

function transitionConfig(t: ChartTransition): TransitionConfig {
  const targets = t.targets.map((id) => `#${id}`);
  return {
    ...(targets.length === 1 ? { target: targets[0] } : targets.length > 1 ? { target: targets } : {}),
    ...(t.guard ? { guard: t.guard } : {}),
    ...(t.actions.length ? { actions: t.actions } : {}),
    ...(t.reenter ? { reenter: true as const } : {}),
  };
}

function group(ts: ChartTransition[], key: (t: ChartTransition) => string): Record<string, TransitionConfig[]> {
  const out: Record<string, TransitionConfig[]> = {};
  for (const t of ts) (out[key(t)] ??= []).push(transitionConfig(t));
  return out;
}

function stateConfig(s: ChartState, root = false): Record<string, unknown> {
  const of = (kind: ChartTransition['kind']) => s.transitions.filter((t) => t.kind === kind);
  const on = group(of('event'), (t) => t.event);
  const after = group(of('after'), (t) => t.detail!);
  const always = of('always').map(transitionConfig);
  const invoke = s.invoke.map((i) => {
    const result = (kind: 'done' | 'error') => s.transitions.filter((t) => t.kind === kind && t.detail === i.id).map(transitionConfig);
    const onDone = result('done');
    const onError = result('error');
    return { id: i.id, src: i.src, ...(onDone.length ? { onDone } : {}), ...(onError.length ? { onError } : {}) };
  });
  return {
    ...(root ? { id: s.id } : {}),
    ...(s.type === 'parallel' || s.type === 'final' || s.type === 'history' ? { type: s.type } : {}),
    ...(s.initial ? { initial: s.initial } : {}),
    ...(s.description ? { description: s.description } : {}),
    ...(s.entry.length ? { entry: s.entry } : {}),
    ...(s.exit.length ? { exit: s.exit } : {}),
    ...(invoke.length ? { invoke } : {}),
    ...(Object.keys(on).length ? { on } : {}),
    ...(Object.keys(after).length ? { after } : {}),
    ...(always.length ? { always } : {}),
    ...(s.states.length ? { states: Object.fromEntries(s.states.map((c) => [c.key, stateConfig(c)])) } : {}),
  };
}

export function toXStateConfig(chart: Chart): Record<string, unknown> {
  return stateConfig(chart.root, true);
}

// ---- SCXML -------------------------------------------------------------------

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function scxmlActions(names: string[], pad: string): string[] {
  return names.map((n) => `${pad}<ks:action name="${escapeXml(n)}"/>`);
}

function scxmlState(s: ChartState, pad: string): string[] {
  const tag = s.type === 'parallel' ? 'parallel' : s.type === 'final' ? 'final' : s.type === 'history' ? 'history' : 'state';
  const initial = s.initial ? ` initial="${escapeXml(`${s.id}.${s.initial}`)}"` : '';
  const body: string[] = [];
  const inner = pad + '  ';
  const delays = s.transitions.filter((t) => t.kind === 'after');
  const sends = [...new Map(delays.map((t) => [t.event, t])).values()];
  if (s.entry.length || sends.length) {
    body.push(`${inner}<onentry>`);
    body.push(...scxmlActions(s.entry, inner + '  '));
    for (const t of sends) {
      const delay = /^\d+$/.test(t.detail!) ? `delay="${t.detail}ms"` : `delayexpr="${escapeXml(t.detail!)}"`;
      body.push(`${inner}  <send id="${escapeXml(t.event)}" event="${escapeXml(t.event)}" ${delay}/>`);
    }
    body.push(`${inner}</onentry>`);
  }
  if (s.exit.length || sends.length) {
    body.push(`${inner}<onexit>`);
    body.push(...scxmlActions(s.exit, inner + '  '));
    for (const t of sends) body.push(`${inner}  <cancel sendid="${escapeXml(t.event)}"/>`);
    body.push(`${inner}</onexit>`);
  }
  for (const i of s.invoke) body.push(`${inner}<invoke id="${escapeXml(i.id)}" type="xstate" src="${escapeXml(i.src)}"/>`);
  for (const t of s.transitions) {
    const attrs = [
      t.event ? `event="${escapeXml(t.event)}"` : '',
      t.guard ? `cond="${escapeXml(t.guard)}"` : '',
      t.targets.length ? `target="${escapeXml(t.targets.join(' '))}"` : '',
      t.reenter ? 'type="external"' : t.targets.length ? 'type="internal"' : '',
    ].filter(Boolean);
    if (t.actions.length === 0) body.push(`${inner}<transition ${attrs.join(' ')}/>`);
    else body.push(`${inner}<transition ${attrs.join(' ')}>`, ...scxmlActions(t.actions, inner + '  '), `${inner}</transition>`);
  }
  for (const c of s.states) body.push(...scxmlState(c, inner));
  if (s.description) body.unshift(`${inner}<!-- ${s.description.replace(/--/g, '- -')} -->`);
  return body.length ? [`${pad}<${tag} id="${escapeXml(s.id)}"${initial}>`, ...body, `${pad}</${tag}>`] : [`${pad}<${tag} id="${escapeXml(s.id)}"${initial}/>`];
}

export function toScxml(chart: Chart): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- ${chart.id}: generated from statecharts/ by \`npm run statecharts\`; do not edit. -->`,
    `<scxml xmlns="http://www.w3.org/2005/07/scxml" xmlns:ks="urn:keelson:statechart" version="1.0" name="${escapeXml(chart.id)}" initial="${escapeXml(chart.root.id)}">`,
    ...scxmlState(chart.root, '  '),
    '</scxml>',
    '',
  ].join('\n');
}

// ---- Mermaid -----------------------------------------------------------------

/** A state's Mermaid id: its full id with the dots made safe. */
export function mermaidId(stateId: string): string {
  return stateId.replace(/[^A-Za-z0-9]/g, '_');
}

/** What an edge says: the event (or delay, or actor result) and its guard; nothing Mermaid would parse. */
export function edgeLabel(t: ChartTransition): string {
  const what =
    t.kind === 'after' ? `after ${/^\d+$/.test(t.detail!) ? `${t.detail} ms` : t.detail}` : t.kind === 'done' ? `${t.detail} done` : t.kind === 'error' ? `${t.detail} failed` : t.kind === 'always' ? '' : t.event;
  const label = [what, t.guard ? `[${t.guard}]` : ''].filter(Boolean).join(' ') || 'always';
  return label.replace(/[;:#{}<>"]/g, ' ').replace(/\s+/g, ' ').trim();
}

function mermaidBlock(s: ChartState, pad: string, out: string[]): void {
  for (const c of s.states) {
    const id = mermaidId(c.id);
    out.push(`${pad}state "${c.key}" as ${id}`);
  }
  const regions = s.type === 'parallel';
  s.states.forEach((c, i) => {
    const id = mermaidId(c.id);
    if (c.states.length) {
      out.push(`${pad}state ${id} {`);
      if (c.initial) out.push(`${pad}  [*] --> ${mermaidId(`${c.id}.${c.initial}`)}`);
      mermaidBlock(c, pad + '  ', out);
      out.push(`${pad}}`);
    }
    if (c.type === 'final') out.push(`${pad}${id} --> [*]`);
    if (regions && i < s.states.length - 1) out.push(`${pad}--`);
  });
}

export function toMermaid(chart: Chart): string {
  const out = ['---', `title: ${chart.id}`, '---', 'stateDiagram-v2'];
  const root = chart.root;
  if (root.initial) out.push(`  [*] --> ${mermaidId(`${root.id}.${root.initial}`)}`);
  mermaidBlock(root, '  ', out);
  // Edges last, at the top: a state is one node wherever its edges are written.
  // The root's own transitions (e.g. STOP from anywhere) are drawn from each top-level state.
  for (const s of allStates(chart)) {
    for (const t of s.transitions) {
      for (const from of s === root ? root.states.map((c) => c.id) : [s.id]) {
        for (const to of t.targets.length ? t.targets : [from]) {
          if (s === root && to === from && t.targets.length) continue;
          out.push(`  ${mermaidId(from)} --> ${mermaidId(to)} : ${edgeLabel(t)}`);
        }
      }
    }
  }
  return out.join('\n') + '\n';
}
