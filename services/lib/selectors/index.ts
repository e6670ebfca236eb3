/**
 * Label and field selectors, in the syntax kubectl sends
 * (`app=web,tier!=db,env in (a,b),!legacy`, `metadata.name=x,spec.nodeName=`).
 * Parsing fails with a BadRequest that says what was wrong.
 */
import type { KObject } from '../api/resources.js';
import { errors } from '../errors/index.js';

export type Requirement =
  | { key: string; op: '=' | '!='; values: [string] }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!'; values: [] }
  | { key: string; op: 'gt' | 'lt'; values: [string] };

export type Selector = { requirements: Requirement[]; matches(labels: Record<string, string> | undefined): boolean };

const EVERYTHING: Selector = { requirements: [], matches: () => true };

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

function parseTerm(term: string, selectorText: string): Requirement {
  const setMatch = /^([^\s!=<>()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (setMatch) {
    const values = setMatch[3]!
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0);
    return { key: setMatch[1]!, op: setMatch[2] as 'in' | 'notin', values };
  }
  const eq = /^([^\s!=<>()]+)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)$/.exec(term);
  if (eq) {
    const op = eq[2] === '!=' ? '!=' : eq[2] === '>' ? 'gt' : eq[2] === '<' ? 'lt' : '=';
    return { key: eq[1]!, op, values: [eq[3]!] } as Requirement;
  }
  const not = /^!\s*([^\s!=<>(),]+)$/.exec(term);
  if (not) return { key: not[1]!, op: '!', values: [] };
  if (/^[^\s!=<>(),]+$/.test(term)) return { key: term, op: 'exists', values: [] };
  throw errors.badRequest(`unable to parse requirement "${term}" in selector "${selectorText}"`);
}

function matchRequirement(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case '=':
      return has && v === r.values[0];
    case '!=':
      return !has || v !== r.values[0];
    case 'in':
      return has && r.values.includes(v!);
    case 'notin':
      return !has || !r.values.includes(v!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      const n = Number(v);
      const bound = Number(r.values[0]);
      if (!has || Number.isNaN(n) || Number.isNaN(bound)) return false;
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

export function parseLabelSelector(text: string | undefined): Selector {
  if (!text || !text.trim()) return EVERYTHING;
  const requirements = splitTerms(text).map((t) => parseTerm(t, text));
  return {
    requirements,
    matches: (labels) => requirements.every((r) => matchRequirement(r, labels ?? {})),
  };
}

/** A structured LabelSelector (matchLabels + matchExpressions), as in Deployments. */
export type LabelSelectorSpec = {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
};

export function fromLabelSelectorSpec(spec: LabelSelectorSpec | undefined): Selector {
  if (!spec) return { requirements: [], matches: () => false };
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(spec.matchLabels ?? {})) requirements.push({ key, op: '=', values: [value] });
  for (const e of spec.matchExpressions ?? []) {
    const ops: Record<string, Requirement['op']> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };
    const op = ops[e.operator];
    if (!op) throw errors.badRequest(`"${e.operator}" is not a valid label selector operator`);
    requirements.push({ key: e.key, op, values: op === 'exists' || op === '!' ? [] : (e.values ?? []) } as Requirement);
  }
  return { requirements, matches: (labels) => requirements.every((r) => matchRequirement(r, labels ?? {})) };
}

/** The fields each kind can be selected by, beyond metadata.name/namespace. */
const FIELD_GETTERS: Record<string, Record<string, (o: any) => unknown>> = {
  Pod: {
    'spec.nodeName': (o) => o.spec?.nodeName,
    'spec.restartPolicy': (o) => o.spec?.restartPolicy,
    'spec.schedulerName': (o) => o.spec?.schedulerName,
    'spec.serviceAccountName': (o) => o.spec?.serviceAccountName,
    'status.phase': (o) => o.status?.phase,
    'status.podIP': (o) => o.status?.podIP,
    'status.nominatedNodeName': (o) => o.status?.nominatedNodeName,
  },
  Event: {
    'involvedObject.kind': (o) => o.involvedObject?.kind,
    'involvedObject.namespace': (o) => o.involvedObject?.namespace,
    'involvedObject.name': (o) => o.involvedObject?.name,
    'involvedObject.uid': (o) => o.involvedObject?.uid,
    'involvedObject.apiVersion': (o) => o.involvedObject?.apiVersion,
    'involvedObject.resourceVersion': (o) => o.involvedObject?.resourceVersion,
    'involvedObject.fieldPath': (o) => o.involvedObject?.fieldPath,
    reason: (o) => o.reason,
    source: (o) => o.source?.component,
    type: (o) => o.type,
  },
  Node: { 'spec.unschedulable': (o) => String(o.spec?.unschedulable ?? false) },
  Namespace: { 'status.phase': (o) => o.status?.phase },
  ReplicationController: { 'status.replicas': (o) => String(o.status?.replicas ?? 0) },
  ReplicaSet: { 'status.replicas': (o) => String(o.status?.replicas ?? 0) },
  Service: { 'spec.type': (o) => o.spec?.type },
};

export type FieldSelector = { terms: { field: string; op: '=' | '!='; value: string }[]; matches(o: KObject): boolean };

export function parseFieldSelector(text: string | undefined, kind: string): FieldSelector {
  if (!text || !text.trim()) return { terms: [], matches: () => true };
  const getters: Record<string, (o: any) => unknown> = {
    'metadata.name': (o) => o.metadata?.name,
    'metadata.namespace': (o) => o.metadata?.namespace,
    ...FIELD_GETTERS[kind],
  };
  const terms = splitTerms(text).map((t) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw errors.badRequest(`invalid selector: "${text}"; can't understand "${t}"`);
    if (!getters[m[1]!]) {
      throw errors.badRequest(`field label not supported: ${m[1]} (the ${kind} fields are: ${Object.keys(getters).join(', ')})`);
    }
    return { field: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() } as const;
  });
  return {
    terms,
    matches: (o) =>
      terms.every((t) => {
        const v = String(getters[t.field]!(o) ?? '');
        return t.op === '=' ? v === t.value : v !== t.value;
      }),
  };
}
