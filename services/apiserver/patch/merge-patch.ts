/**
 * RFC 7386 JSON Merge Patch (`application/merge-patch+json`), used by `kubectl label`,
 * `annotate`, `scale` and `patch --type merge`.
 *
 * An object patch is merged key by key (a `null` value removes the key); anything else
 * (array, scalar, null) replaces the target wholesale. Lists are therefore always replaced.
 */
import { PatchError } from './errors.js';
import { cloneJson, getOwn, isObject, setOwn, type JsonObject } from './json.js';

function merge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) delete out[k];
    else setOwn(out, k, merge(getOwn(out, k), v));
  }
  return out;
}

/** Applies an RFC 7386 merge patch. Returns a new document; inputs are not modified. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (patch === undefined) throw new PatchError('a merge patch must be a JSON document', 400);
  // Untouched parts of `doc` are copied too, so the result never shares objects with the input.
  return merge(cloneJson(doc), patch);
}
