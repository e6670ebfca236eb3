/**
 * Kubernetes strategic merge patch (`application/strategic-merge-patch+json`), the patch
 * `kubectl apply` (client-side) and `kubectl cordon` send.
 *
 * Like an RFC 7386 merge patch (objects merge key by key, `null` deletes a key), except:
 *  - lists listed in the merge-key table ({@link mergeKeysFor}) are merged: lists of objects
 *    element by element by their merge key, lists of scalars as a set; other lists replace;
 *  - directives:
 *      `$patch: replace` in an object  → the object replaces the live one instead of merging;
 *      `$patch: delete` in an object   → the object becomes `{}` (as in Kubernetes);
 *      `$patch: merge`                  → the default, accepted and ignored;
 *      `{"$patch": "delete", <key>: v}` as a list element → removes the element with key v;
 *      `{"$patch": "replace"}` as a list element → the list is replaced by the other elements;
 *      `$retainKeys: [...]`            → after merging, drop live keys not in the list;
 *      `$setElementOrder/<list>: [...]` → final order of a merged list (kubectl sends the
 *                                        merge keys, or scalars, of the wanted list);
 *      `$deleteFromPrimitiveList/<list>: [...]` → remove these scalars from a merged scalar list.
 *
 * Ordering without `$setElementOrder` follows Kubernetes: patched items keep the patch's
 * order, live-only items keep theirs, and the two are interleaved by the live order (so an
 * item new to the list ends up in front of the live-only items).
 *
 * Lenient extras (Kubernetes is stricter or keeps the directive in place):
 *  - a patch value for a key absent from the live object has its directives processed
 *    against an empty object (never stored verbatim with `$patch` inside);
 *  - for a list the table does not know, a merge key is inferred from
 *    `$setElementOrder/<list>` (single-key objects → that key, scalars → scalar merge) or
 *    from `$patch: delete` elements, so kubectl-computed patches also work for lists this
 *    table misses.
 */
import { PatchError } from './errors.js';
import { cloneJson, getOwn, hasOwn, isObject, jsonEqual, setOwn, show, type JsonObject } from './json.js';
import { mergeKeysFor, type MergeKey } from './merge-keys.js';

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** Merge rule of a list: object merge key, `null` for a scalar set, `undefined` for atomic. */
type ListRule = MergeKey | undefined;

interface Ctx {
  readonly rules: ReadonlyMap<string, MergeKey>;
}

function bad(msg: string): never {
  throw new PatchError(`strategic merge patch: ${msg}`, 400);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function where(path: string): string {
  return path === '' ? 'the object root' : `"${path}"`;
}

function isDirectiveKey(k: string): boolean {
  return k === PATCH || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_FROM);
}

function isScalar(v: unknown): boolean {
  return v === null || (typeof v !== 'object' && v !== undefined);
}

/** Merge key guessed from kubectl's own directives, for lists missing from the table. */
function inferRule(order: unknown, patchList: unknown): ListRule {
  if (Array.isArray(order) && order.length > 0) {
    if (order.every(isScalar)) return null;
    const keys = new Set<string>();
    for (const e of order) {
      if (!isObject(e)) return undefined;
      const ks = Object.keys(e).filter((k) => !isDirectiveKey(k));
      if (ks.length !== 1) return undefined;
      keys.add(ks[0]!);
    }
    if (keys.size === 1) return [...keys][0];
  }
  if (Array.isArray(patchList)) {
    for (const e of patchList) {
      if (isObject(e) && e[PATCH] === 'delete') {
        const ks = Object.keys(e).filter((k) => !isDirectiveKey(k));
        if (ks.length === 1) return ks[0];
      }
    }
  }
  return undefined;
}

function ruleFor(path: string, ctx: Ctx, order: unknown, patchList: unknown): ListRule {
  if (ctx.rules.has(path)) return ctx.rules.get(path);
  return inferRule(order, patchList);
}

function sameItem(a: unknown, b: unknown, key: MergeKey): boolean {
  if (key === null) return jsonEqual(a, b);
  return isObject(a) && isObject(b) && hasOwn(a, key) && hasOwn(b, key) && jsonEqual(a[key], b[key]);
}

function indexIn(list: readonly unknown[], item: unknown, key: MergeKey): number {
  return list.findIndex((e) => sameItem(e, item, key));
}

/** Stable sort of `items` by their position in `order`; items not in `order` go last. */
function sortByOrder(items: unknown[], order: readonly unknown[], key: MergeKey): unknown[] {
  const ranked = items.map((item, i) => ({ item, i, at: indexIn(order, item, key) }));
  ranked.sort((a, b) => {
    const ra = a.at < 0 ? Infinity : a.at;
    const rb = b.at < 0 ? Infinity : b.at;
    return ra === rb ? a.i - b.i : ra - rb;
  });
  return ranked.map((r) => r.item);
}

/**
 * Kubernetes' normalizeElementOrder: sort patch items by `patchOrder`, live-only items by
 * `serverOrder`, then interleave them: a live-only item goes before a patch item when both
 * are in the live list and it came first there.
 */
function normalizeOrder(
  merged: readonly unknown[],
  patchOrder: readonly unknown[],
  serverOrder: readonly unknown[],
  key: MergeKey,
): unknown[] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const e of merged) (indexIn(patchOrder, e, key) >= 0 ? inPatch : serverOnly).push(e);
  const right = sortByOrder(inPatch, patchOrder, key);
  const left = sortByOrder(serverOnly, serverOrder, key);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (j >= right.length) out.push(left[i++]);
    else if (i >= left.length) out.push(right[j++]);
    else {
      const li = indexIn(serverOrder, left[i], key);
      const ri = indexIn(serverOrder, right[j], key);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** A patch value stored where the live object has nothing: directives processed, nulls dropped. */
function fresh(patchValue: unknown, path: string, ctx: Ctx, rule?: ListRule): unknown {
  if (isObject(patchValue)) return mergeMap(undefined, patchValue, path, ctx);
  if (Array.isArray(patchValue)) return mergeList([], patchValue, path, rule ?? ruleFor(path, ctx, undefined, patchValue), ctx);
  return patchValue;
}

function mergeList(live: readonly unknown[], patch: readonly unknown[], path: string, rule: ListRule, ctx: Ctx): unknown[] {
  if (rule === undefined) {
    // Atomic list: the patch replaces it (minus a stray `{"$patch": "replace"}` marker).
    return patch
      .filter((e) => !(isObject(e) && e[PATCH] === 'replace' && Object.keys(e).length === 1))
      .map((e) => (isObject(e) ? mergeMap(undefined, e, path, ctx) : cloneJson(e)));
  }

  if (rule === null) {
    // Scalars merged as a set.
    for (const e of patch) {
      if (!isScalar(e)) bad(`list ${where(path)} holds scalars, but the patch has ${show(e)}`);
    }
    const merged: unknown[] = [];
    for (const e of [...live, ...patch]) if (indexIn(merged, e, null) < 0) merged.push(e);
    return normalizeOrder(merged, patch, live, null);
  }

  const key = rule;
  let base: unknown[] = [...live];
  const items: JsonObject[] = [];
  let replace = false;
  for (const e of patch) {
    if (!isObject(e)) bad(`list ${where(path)} merges objects by "${key}", but the patch has ${show(e)}`);
    const directive = getOwn(e, PATCH);
    if (directive === undefined || directive === 'merge') {
      if (!hasOwn(e, key)) bad(`element ${show(e)} of list ${where(path)} lacks the merge key "${key}"`);
      items.push(e);
    } else if (directive === 'delete') {
      if (!hasOwn(e, key)) bad(`"$patch: delete" element ${show(e)} of list ${where(path)} lacks the merge key "${key}"`);
      base = base.filter((x) => !sameItem(x, e, key));
    } else if (directive === 'replace') {
      replace = true;
    } else {
      bad(`unknown $patch directive ${show(directive)} in list ${where(path)} (use replace, delete or merge)`);
    }
  }
  if (replace) base = [];
  const serverOrder = [...base];
  for (const e of items) {
    const idx = base.findIndex((x) => sameItem(x, e, key));
    if (idx >= 0) base[idx] = mergeMap(base[idx] as JsonObject, e, path, ctx);
    else base.push(mergeMap(undefined, e, path, ctx));
  }
  return normalizeOrder(base, items, serverOrder, key);
}

/**
 * Merges `patch` into `live` (which this module owns: a private copy) and returns the result.
 * `path` is the dotted field path of this object, used for merge-key lookups and messages.
 */
function mergeMap(live: JsonObject | undefined, patch: JsonObject, path: string, ctx: Ctx): JsonObject {
  const directive = getOwn(patch, PATCH);
  if (directive === 'replace') {
    const rest: JsonObject = {};
    for (const k of Object.keys(patch)) if (k !== PATCH) setOwn(rest, k, patch[k]);
    return mergeMap(undefined, rest, path, ctx);
  }
  if (directive === 'delete') return {};
  if (directive !== undefined && directive !== 'merge') {
    bad(`unknown $patch directive ${show(directive)} at ${where(path)} (use replace, delete or merge)`);
  }

  const out: JsonObject = live ? { ...live } : {};

  // $retainKeys: every patched field must be listed; live fields not listed are dropped.
  if (hasOwn(patch, RETAIN_KEYS)) {
    const retain = patch[RETAIN_KEYS];
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string')) {
      bad(`$retainKeys at ${where(path)} must be a list of field names, got ${show(retain)}`);
    }
    const keep = new Set<string>(retain as string[]);
    for (const k of Object.keys(patch)) {
      if (isDirectiveKey(k) || patch[k] === null) continue;
      if (!keep.has(k)) bad(`$retainKeys at ${where(path)} does not list the patched field "${k}"`);
    }
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }

  // $setElementOrder/<list>: merge that list now and put it in the requested order.
  const done = new Set<string>();
  for (const k of Object.keys(patch)) {
    if (!k.startsWith(SET_ORDER)) continue;
    const field = k.slice(SET_ORDER.length);
    const order = patch[k];
    if (!Array.isArray(order)) bad(`${k} at ${where(path)} must be a list, got ${show(order)}`);
    const patchList = getOwn(patch, field);
    if (patchList === null) continue; // the list is deleted below
    if (patchList !== undefined && !Array.isArray(patchList)) {
      bad(`${k} at ${where(path)} goes with a list, but "${field}" is ${show(patchList)}`);
    }
    const childPath = join(path, field);
    const rule = ruleFor(childPath, ctx, order, patchList);
    const liveList = getOwn(out, field);
    const liveArr = Array.isArray(liveList) ? liveList : undefined;
    done.add(field);
    if (rule === undefined) {
      if (patchList !== undefined) setOwn(out, field, mergeList([], patchList, childPath, rule, ctx));
      continue;
    }
    if (!liveArr && patchList === undefined) continue;
    const merged = mergeList(liveArr ?? [], patchList ?? [], childPath, rule, ctx);
    const wanted = order.filter((e) => !(isObject(e) && e[PATCH] === 'delete'));
    setOwn(out, field, normalizeOrder(merged, wanted, liveArr ?? [], rule));
  }

  for (const k of Object.keys(patch)) {
    if (isDirectiveKey(k) || done.has(k)) continue;
    const pv = patch[k];
    const childPath = join(path, k);
    if (pv === null) {
      delete out[k];
      continue;
    }
    const cur = getOwn(out, k);
    if (isObject(pv)) {
      setOwn(out, k, mergeMap(isObject(cur) ? cur : undefined, pv, childPath, ctx));
    } else if (Array.isArray(pv)) {
      const rule = ruleFor(childPath, ctx, getOwn(patch, SET_ORDER + k), pv);
      setOwn(out, k, Array.isArray(cur) ? mergeList(cur, pv, childPath, rule, ctx) : fresh(pv, childPath, ctx, rule));
    } else {
      setOwn(out, k, pv);
    }
  }

  // $deleteFromPrimitiveList/<list>: after the list itself has been merged.
  for (const k of Object.keys(patch)) {
    if (!k.startsWith(DELETE_FROM)) continue;
    const field = k.slice(DELETE_FROM.length);
    const gone = patch[k];
    if (!Array.isArray(gone) || !gone.every(isScalar)) bad(`${k} at ${where(path)} must be a list of scalars, got ${show(gone)}`);
    const cur = getOwn(out, field);
    if (Array.isArray(cur)) setOwn(out, field, cur.filter((e) => indexIn(gone, e, null) < 0));
  }

  return out;
}

/**
 * Applies a Kubernetes strategic merge patch to an object of the given kind (e.g. "Pod").
 * `doc` may be undefined/null (merging into nothing). Returns a new object; inputs are not
 * modified.
 */
export function applyStrategicMergePatch(doc: unknown, patch: unknown, kind: string): unknown {
  if (!isObject(patch)) bad(`the patch must be a JSON object, got ${show(patch)}`);
  if (doc !== undefined && doc !== null && !isObject(doc)) {
    throw new PatchError(`strategic merge patch: the target must be an object, got ${show(doc)}`, 422);
  }
  const ctx: Ctx = { rules: mergeKeysFor(kind) };
  const live = doc === undefined || doc === null ? undefined : cloneJson(doc);
  return mergeMap(live, patch, '', ctx);
}
