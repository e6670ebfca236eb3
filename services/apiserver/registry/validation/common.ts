/**
 * Rules shared by every kind: object metadata, labels and annotations, label
 * selectors, and the int-or-string fields (ports, percentages).
 */
import type { Errs } from './errors.js';
import {
  child,
  getBool,
  getStr,
  getStrMap,
  isObj,
  isSet,
  objItems,
  semanticEqual,
  strItems,
  type Obj,
} from './fields.js';
import {
  isDNS1123Label,
  isQualifiedName,
  isValidLabelValue,
  isValidPercent,
  isValidPortName,
  isValidPortNum,
  maskTrailingDash,
} from './syntax.js';

/** Checks a name; returns the problems in Kubernetes' words. */
export type NameCheck = (name: string) => string[];

export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

export type MetaRules = { namespaced: boolean; name: NameCheck };

export function validateObjectMeta(meta: unknown, rules: MetaRules, e: Errs, base = 'metadata'): void {
  if (isSet(meta) && !isObj(meta)) {
    e.invalid(base, meta, 'must be an object');
    return;
  }
  const m: Obj = isObj(meta) ? meta : {};
  const name = getStr(m, 'name', base, e);
  const generateName = getStr(m, 'generateName', base, e);
  if (name) e.invalidEach(child(base, 'name'), name, rules.name(name));
  else if (generateName) e.invalidEach(child(base, 'generateName'), generateName, rules.name(maskTrailingDash(generateName)));
  else e.required(child(base, 'name'), 'name or generateName is required');

  const ns = getStr(m, 'namespace', base, e);
  if (rules.namespaced) {
    if (!ns) e.required(child(base, 'namespace'));
    else e.invalidEach(child(base, 'namespace'), ns, isDNS1123Label(ns));
  } else if (ns) {
    e.forbidden(child(base, 'namespace'), 'not allowed on this type');
  }
  validateLabels(m, 'labels', base, e);
  validateAnnotations(m, 'annotations', base, e);
  validateOwnerReferences(m, base, e);
  for (const [f, path] of strItems(m, 'finalizers', base, e)) validateFinalizerName(f, path, e);
}

/** `metadata.labels`-style maps: qualified-name keys, label values. */
export function validateLabels(o: Obj, key: string, base: string, e: Errs): Record<string, string> | undefined {
  const labels = getStrMap(o, key, base, e);
  const path = child(base, key);
  for (const [k, v] of Object.entries(labels ?? {})) {
    e.invalidEach(path, k, isQualifiedName(k));
    e.invalidEach(path, v, isValidLabelValue(v));
  }
  return labels;
}

export function validateAnnotations(o: Obj, key: string, base: string, e: Errs): void {
  const annotations = getStrMap(o, key, base, e);
  if (!annotations) return;
  const path = child(base, key);
  let size = 0;
  const utf8 = new TextEncoder();
  for (const [k, v] of Object.entries(annotations)) {
    e.invalidEach(path, k, isQualifiedName(k.toLowerCase()));
    size += utf8.encode(k).length + utf8.encode(v).length;
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) e.tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT);
}

function validateOwnerReferences(m: Obj, base: string, e: Errs): void {
  const controllers: string[] = [];
  for (const [ref, path] of objItems(m, 'ownerReferences', base, e)) {
    for (const f of ['apiVersion', 'kind', 'name', 'uid']) if (!getStr(ref, f, path, e)) e.required(child(path, f));
    if (getBool(ref, 'controller', path, e)) controllers.push(`${String(ref.kind)}/${String(ref.name)}`);
  }
  if (controllers.length > 1) {
    e.invalid(
      child(base, 'ownerReferences'),
      m.ownerReferences,
      `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
    );
  }
}

export function validateFinalizerName(f: string, path: string, e: Errs): void {
  const problems = isQualifiedName(f);
  e.invalidEach(path, f, problems);
  if (problems.length === 0 && !f.includes('/') && !STANDARD_FINALIZERS.includes(f)) {
    e.invalid(path, f, 'name is neither a standard finalizer name nor is it fully qualified');
  }
}

/** A LabelSelector (`matchLabels` + `matchExpressions`), as Deployments and affinity use. */
export function validateLabelSelector(sel: Obj, path: string, e: Errs): void {
  validateLabels(sel, 'matchLabels', path, e);
  for (const [req, rpath] of objItems(sel, 'matchExpressions', path, e)) {
    const key = getStr(req, 'key', rpath, e) ?? '';
    e.invalidEach(child(rpath, 'key'), key, isQualifiedName(key));
    const op = getStr(req, 'operator', rpath, e);
    const values = strItems(req, 'values', rpath, e);
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) e.required(child(rpath, 'values'), "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) e.forbidden(child(rpath, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      e.invalid(child(rpath, 'operator'), op ?? '', 'not a valid selector operator');
    }
    for (const [v, vpath] of values) e.invalidEach(vpath, v, isValidLabelValue(v));
  }
}

/** True when the (already validated) selector selects `labels`. */
export function labelSelectorMatches(sel: Obj, labels: Record<string, string>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  const matchLabels = isObj(sel.matchLabels) ? sel.matchLabels : {};
  for (const [k, v] of Object.entries(matchLabels)) if (!has(k) || labels[k] !== v) return false;
  const exprs = Array.isArray(sel.matchExpressions) ? sel.matchExpressions : [];
  for (const x of exprs) {
    if (!isObj(x)) return false;
    const key = String(x.key);
    const values = Array.isArray(x.values) ? x.values : [];
    const ok =
      x.operator === 'In' ? has(key) && values.includes(labels[key]) :
      x.operator === 'NotIn' ? !has(key) || !values.includes(labels[key]) :
      x.operator === 'Exists' ? has(key) :
      x.operator === 'DoesNotExist' ? !has(key) : false;
    if (!ok) return false;
  }
  return true;
}

/** True when a LabelSelector has no requirement at all (it would select everything). */
export function isEmptySelector(sel: Obj): boolean {
  return semanticEqual(sel.matchLabels, {}) && semanticEqual(sel.matchExpressions, []);
}

/** An IntOrString port: a number 1–65535 or an IANA_SVC_NAME. */
export function validatePortNumOrName(v: unknown, path: string, e: Errs): void {
  if (!isSet(v) || v === '' || v === 0) e.required(path);
  else if (typeof v === 'number') e.invalidEach(path, v, isValidPortNum(v));
  else if (typeof v === 'string') e.invalidEach(path, v, isValidPortName(v));
  else e.invalid(path, v, 'must be an integer or a string');
}

/** An IntOrString count: an integer ≥ 0 or a percentage like `25%`. */
export function validateIntOrPercent(v: unknown, path: string, e: Errs): void {
  if (!isSet(v)) return;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) e.invalid(path, v, 'must be an integer');
    else if (v < 0) e.invalid(path, v, 'must be greater than or equal to 0');
  } else if (typeof v === 'string') {
    e.invalidEach(path, v, isValidPercent(v));
  } else {
    e.invalid(path, v, 'must be an integer or a percentage');
  }
}

/** The number an IntOrString count stands for (`25%` → 25), or undefined when it is malformed. */
export function intOrPercentValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^[0-9]+%$/.test(v)) return Number(v.slice(0, -1));
  return undefined;
}

/** Object metadata on update: identity fields never change. */
export function validateObjectMetaUpdate(meta: unknown, old: unknown, e: Errs): void {
  const m = isObj(meta) ? meta : {};
  const o = isObj(old) ? old : {};
  for (const f of ['name', 'namespace'] as const) {
    if ((m[f] ?? '') !== (o[f] ?? '')) e.invalid(`metadata.${f}`, m[f] ?? '', 'field is immutable');
  }
  // The store fills uid and creationTimestamp in when a client leaves them out.
  for (const f of ['uid', 'creationTimestamp'] as const) {
    if (isSet(m[f]) && m[f] !== '' && isSet(o[f]) && m[f] !== o[f]) e.invalid(`metadata.${f}`, m[f], 'field is immutable');
  }
}
