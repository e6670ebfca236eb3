/**
 * Typed reads of untrusted JSON. Objects arrive as whatever the client sent, so
 * every read checks the type and reports a wrong one as an Invalid cause instead of
 * throwing. JSON `null` counts as "not set", as it does for Kubernetes.
 */
import type { Errs } from './errors.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** `spec` + `replicas` → `spec.replicas`; '' + `spec` → `spec`. */
export const child = (base: string, key: string): string => (base ? `${base}.${key}` : key);

export function getStr(o: Obj, key: string, base: string, e: Errs): string | undefined {
  const v = o[key];
  if (!isSet(v)) return undefined;
  if (typeof v === 'string') return v;
  e.invalid(child(base, key), v, 'must be a string');
  return undefined;
}

export function getInt(o: Obj, key: string, base: string, e: Errs): number | undefined {
  const v = o[key];
  if (!isSet(v)) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  e.invalid(child(base, key), v, 'must be an integer');
  return undefined;
}

export function getBool(o: Obj, key: string, base: string, e: Errs): boolean | undefined {
  const v = o[key];
  if (!isSet(v)) return undefined;
  if (typeof v === 'boolean') return v;
  e.invalid(child(base, key), v, 'must be a boolean');
  return undefined;
}

export function getObj(o: Obj, key: string, base: string, e: Errs): Obj | undefined {
  const v = o[key];
  if (!isSet(v)) return undefined;
  if (isObj(v)) return v;
  e.invalid(child(base, key), v, 'must be an object');
  return undefined;
}

export function getArr(o: Obj, key: string, base: string, e: Errs): unknown[] | undefined {
  const v = o[key];
  if (!isSet(v)) return undefined;
  if (Array.isArray(v)) return v;
  e.invalid(child(base, key), v, 'must be an array');
  return undefined;
}

/** Each element that is an object, with its path; other elements are reported. */
export function objItems(o: Obj, key: string, base: string, e: Errs): [Obj, string, number][] {
  const out: [Obj, string, number][] = [];
  (getArr(o, key, base, e) ?? []).forEach((item, i) => {
    const path = `${child(base, key)}[${i}]`;
    if (isObj(item)) out.push([item, path, i]);
    else e.invalid(path, item, 'must be an object');
  });
  return out;
}

/** Each element that is a string, with its path; other elements are reported. */
export function strItems(o: Obj, key: string, base: string, e: Errs): [string, string, number][] {
  const out: [string, string, number][] = [];
  (getArr(o, key, base, e) ?? []).forEach((item, i) => {
    const path = `${child(base, key)}[${i}]`;
    if (typeof item === 'string') out.push([item, path, i]);
    else e.invalid(path, item, 'must be a string');
  });
  return out;
}

/** A string-to-string map (labels, selectors); non-string values are reported. */
export function getStrMap(o: Obj, key: string, base: string, e: Errs): Record<string, string> | undefined {
  const m = getObj(o, key, base, e);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string') out[k] = v;
    else e.invalid(child(base, key), v, `value of "${k}" must be a string`);
  }
  return out;
}

/** Reads `key` as a string that must be one of `allowed` (when set). */
export function getEnum<T extends string>(
  o: Obj,
  key: string,
  base: string,
  e: Errs,
  allowed: readonly T[],
): T | undefined {
  const v = getStr(o, key, base, e);
  if (v === undefined) return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  e.notSupported(child(base, key), v, [...allowed].sort());
  return undefined;
}

/** Reads an integer that must be ≥ 0 when set. */
export function getNonNegative(o: Obj, key: string, base: string, e: Errs): number | undefined {
  const v = getInt(o, key, base, e);
  if (v !== undefined && v < 0) e.invalid(child(base, key), v, 'must be greater than or equal to 0');
  return v;
}

/** Deep copy of plain JSON. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObj(v)) return Object.values(v).every(isEmptyValue);
  return false;
}

/**
 * Equality that, like Kubernetes' Semantic.DeepEqual on its Go structs, does not tell
 * an omitted field from its zero value (`[]`, `{}`, `""`, `0`, `false`).
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmptyValue(a) && isEmptyValue(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}
