/**
 * Nodes: taints, pod CIDRs, and the capacity the kubelet reports.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { QUANTITY_REGEXP, sign, tryParseQuantity } from '../../../lib/quantity/index.js';
import { validateObjectMeta } from './common.js';
import type { Errs } from './errors.js';
import { child, getBool, getObj, getStr, isObj, objItems, strItems, type Obj } from './fields.js';
import { TAINT_EFFECTS } from './scheduling.js';
import { CIDR_MSG, isCIDR, isDNS1123Subdomain, isQualifiedName, isValidLabelValue } from './syntax.js';

export function validateNode(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: false, name: isDNS1123Subdomain }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  const cidr = getStr(spec, 'podCIDR', 'spec', e);
  if (cidr && !isCIDR(cidr)) e.invalid('spec.podCIDR', cidr, CIDR_MSG);
  for (const [c, cpath] of strItems(spec, 'podCIDRs', 'spec', e)) if (!isCIDR(c)) e.invalid(cpath, c, CIDR_MSG);
  getBool(spec, 'unschedulable', 'spec', e);
  getStr(spec, 'providerID', 'spec', e);
  validateTaints(spec, e);
  validateNodeStatus(obj, e);
}

function validateTaints(spec: Obj, e: Errs): void {
  const seen = new Set<string>();
  for (const [t, tpath] of objItems(spec, 'taints', 'spec', e)) {
    const key = getStr(t, 'key', tpath, e);
    if (!key) e.required(child(tpath, 'key'));
    else e.invalidEach(child(tpath, 'key'), key, isQualifiedName(key));
    const value = getStr(t, 'value', tpath, e);
    if (value) e.invalidEach(child(tpath, 'value'), value, isValidLabelValue(value));
    const effect = getStr(t, 'effect', tpath, e);
    if (!effect) e.required(child(tpath, 'effect'));
    else if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
      e.notSupported(child(tpath, 'effect'), effect, [...TAINT_EFFECTS].sort());
    }
    const pair = `${key ?? ''}:${effect ?? ''}`;
    if (seen.has(pair)) e.duplicate(tpath, { key, effect }, 'taints must be unique by key and effect pair');
    seen.add(pair);
  }
}

/** Capacity and allocatable: valid, non-negative quantities. */
export function validateNodeStatus(obj: KObject, e: Errs): void {
  const status = getObj(obj, 'status', '', e) ?? {};
  for (const key of ['capacity', 'allocatable']) {
    const list = getObj(status, key, 'status', e) ?? {};
    for (const [name, raw] of Object.entries(list)) {
      const path = `status.${key}[${name}]`;
      e.invalidEach(path, name, isQualifiedName(name));
      const q = tryParseQuantity(raw);
      if (!q) e.invalid(path, raw, `quantities must match the regular expression '${QUANTITY_REGEXP}'`);
      else if (sign(q) < 0) e.invalid(path, raw, 'must be greater than or equal to 0');
    }
  }
  for (const [a, apath] of objItems(status, 'addresses', 'status', e)) {
    if (!getStr(a, 'type', apath, e)) e.required(child(apath, 'type'));
    if (!getStr(a, 'address', apath, e)) e.required(child(apath, 'address'));
  }
}

/** podCIDR and providerID may be set once, never changed. */
export function validateNodeUpdate(obj: KObject, old: KObject, e: Errs): void {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const prev = isObj(old.spec) ? old.spec : {};
  for (const f of ['podCIDR', 'providerID']) {
    const was = prev[f];
    if (typeof was === 'string' && was !== '' && spec[f] !== was) {
      e.forbidden(`spec.${f}`, `node updates may not change ${f} except from "" to valid`);
    }
  }
  const oldCIDRs = Array.isArray(prev.podCIDRs) ? prev.podCIDRs : [];
  const cidrs = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : [];
  if (oldCIDRs.length && JSON.stringify(oldCIDRs) !== JSON.stringify(cidrs)) {
    e.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid');
  }
}
