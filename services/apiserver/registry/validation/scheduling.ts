/**
 * The parts of a pod spec the scheduler reads: nodeSelector, affinity, tolerations
 * and topology spread constraints.
 */
import { validateLabelSelector, validateLabels } from './common.js';
import type { Errs } from './errors.js';
import { child, getEnum, getInt, getObj, getStr, objItems, strItems, type Obj } from './fields.js';
import { isDNS1123Label, isQualifiedName, isValidLabelValue } from './syntax.js';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export function validateScheduling(spec: Obj, path: string, e: Errs): void {
  validateLabels(spec, 'nodeSelector', path, e);
  const affinity = getObj(spec, 'affinity', path, e);
  if (affinity) validateAffinity(affinity, child(path, 'affinity'), e);
  for (const [t, tpath] of objItems(spec, 'tolerations', path, e)) validateToleration(t, tpath, e);
  validateTopologySpread(spec, path, e);
}

function validateNodeSelectorRequirement(req: Obj, path: string, e: Errs): void {
  const key = getStr(req, 'key', path, e) ?? '';
  e.invalidEach(child(path, 'key'), key, isQualifiedName(key));
  const op = getStr(req, 'operator', path, e) ?? '';
  const values = strItems(req, 'values', path, e);
  const vpath = child(path, 'values');
  switch (op) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) e.required(vpath, "must be specified when `operator` is 'In' or 'NotIn'");
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) e.forbidden(vpath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) e.required(vpath, "must be specified single value when `operator` is 'Lt' or 'Gt'");
      else if (!/^-?[0-9]+$/.test(values[0]![0])) e.invalid(values[0]![1], values[0]![0], 'must be an integer');
      break;
    default:
      e.invalid(child(path, 'operator'), op, 'not a valid selector operator');
  }
}

function validateNodeSelectorTerm(term: Obj, path: string, e: Errs): void {
  for (const [req, rpath] of objItems(term, 'matchExpressions', path, e)) validateNodeSelectorRequirement(req, rpath, e);
  for (const [req, rpath] of objItems(term, 'matchFields', path, e)) {
    const key = getStr(req, 'key', rpath, e) ?? '';
    if (key !== 'metadata.name') e.notSupported(child(rpath, 'key'), key, ['metadata.name']);
    const op = getStr(req, 'operator', rpath, e) ?? '';
    if (op !== 'In' && op !== 'NotIn') e.invalid(child(rpath, 'operator'), op, 'not a valid selector operator');
    else if (strItems(req, 'values', rpath, e).length !== 1) {
      e.required(child(rpath, 'values'), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector");
    }
  }
}

function validateWeight(t: Obj, path: string, e: Errs): void {
  const w = getInt(t, 'weight', path, e);
  if (w === undefined || w < 1 || w > 100) e.invalid(child(path, 'weight'), w ?? 0, 'must be in the range 1-100');
}

function validatePodAffinityTerm(t: Obj, path: string, e: Errs): void {
  for (const sel of ['labelSelector', 'namespaceSelector']) {
    const s = getObj(t, sel, path, e);
    if (s) validateLabelSelector(s, child(path, sel), e);
  }
  for (const [ns, nspath] of strItems(t, 'namespaces', path, e)) e.invalidEach(nspath, ns, isDNS1123Label(ns));
  const key = getStr(t, 'topologyKey', path, e);
  if (!key) e.required(child(path, 'topologyKey'), 'can not be empty');
  else e.invalidEach(child(path, 'topologyKey'), key, isQualifiedName(key));
}

function validateAffinity(a: Obj, path: string, e: Errs): void {
  const node = getObj(a, 'nodeAffinity', path, e);
  if (node) {
    const npath = child(path, 'nodeAffinity');
    const required = getObj(node, 'requiredDuringSchedulingIgnoredDuringExecution', npath, e);
    if (required) {
      const rpath = child(npath, 'requiredDuringSchedulingIgnoredDuringExecution');
      const terms = objItems(required, 'nodeSelectorTerms', rpath, e);
      if (terms.length === 0) e.required(child(rpath, 'nodeSelectorTerms'), 'must have at least one node selector term');
      for (const [term, tpath] of terms) validateNodeSelectorTerm(term, tpath, e);
    }
    for (const [p, ppath] of objItems(node, 'preferredDuringSchedulingIgnoredDuringExecution', npath, e)) {
      validateWeight(p, ppath, e);
      const pref = getObj(p, 'preference', ppath, e);
      if (pref) validateNodeSelectorTerm(pref, child(ppath, 'preference'), e);
    }
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const pa = getObj(a, kind, path, e);
    if (!pa) continue;
    const ppath = child(path, kind);
    for (const [t, tpath] of objItems(pa, 'requiredDuringSchedulingIgnoredDuringExecution', ppath, e)) {
      validatePodAffinityTerm(t, tpath, e);
    }
    for (const [w, wpath] of objItems(pa, 'preferredDuringSchedulingIgnoredDuringExecution', ppath, e)) {
      validateWeight(w, wpath, e);
      const term = getObj(w, 'podAffinityTerm', wpath, e);
      if (!term) e.required(child(wpath, 'podAffinityTerm'));
      else validatePodAffinityTerm(term, child(wpath, 'podAffinityTerm'), e);
    }
  }
}

export function validateToleration(t: Obj, path: string, e: Errs): void {
  const key = getStr(t, 'key', path, e) ?? '';
  if (key) e.invalidEach(child(path, 'key'), key, isQualifiedName(key));
  const op = getStr(t, 'operator', path, e) ?? '';
  if (!key && op !== 'Exists') {
    e.invalid(child(path, 'operator'), op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"');
  }
  const effect = getStr(t, 'effect', path, e) ?? '';
  if (getInt(t, 'tolerationSeconds', path, e) !== undefined && effect !== 'NoExecute') {
    e.invalid(child(path, 'effect'), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
  }
  const value = getStr(t, 'value', path, e) ?? '';
  if (op === '' || op === 'Equal') e.invalidEach(child(path, 'value'), value, isValidLabelValue(value));
  else if (op === 'Exists') {
    if (value) e.invalid(child(path, 'value'), value, "value must be empty when `operator` is 'Exists'");
  } else e.notSupported(child(path, 'operator'), op, ['Equal', 'Exists']);
  if (effect && !(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    e.notSupported(child(path, 'effect'), effect, [...TAINT_EFFECTS].sort());
  }
}

function validateTopologySpread(spec: Obj, path: string, e: Errs): void {
  const seen = new Set<string>();
  for (const [c, cpath] of objItems(spec, 'topologySpreadConstraints', path, e)) {
    const skew = getInt(c, 'maxSkew', cpath, e);
    if (skew === undefined || skew <= 0) e.invalid(child(cpath, 'maxSkew'), skew ?? 0, 'must be greater than zero');
    const key = getStr(c, 'topologyKey', cpath, e);
    if (!key) e.required(child(cpath, 'topologyKey'), 'can not be empty');
    else e.invalidEach(child(cpath, 'topologyKey'), key, isQualifiedName(key));
    const when = getEnum(c, 'whenUnsatisfiable', cpath, e, ['DoNotSchedule', 'ScheduleAnyway']);
    if (c.whenUnsatisfiable === undefined || c.whenUnsatisfiable === null) e.required(child(cpath, 'whenUnsatisfiable'));
    const sel = getObj(c, 'labelSelector', cpath, e);
    if (sel) validateLabelSelector(sel, child(cpath, 'labelSelector'), e);
    const pair = `{${key ?? ''}, ${when ?? ''}}`;
    if (key && when && seen.has(pair)) e.duplicate(cpath, pair);
    seen.add(pair);
  }
}
