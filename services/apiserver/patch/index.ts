/**
 * Patch support for the Keelson API server: pure functions, no I/O.
 *
 * The HTTP layer picks a {@link PatchType} from the request's Content-Type with
 * {@link patchTypeFromContentType}, parses the body (JSON, or YAML for `apply`), then calls
 * {@link applyPatch} with the live object. Every function returns a new value and leaves its
 * inputs untouched. Failures throw {@link PatchError}, whose `code` (400 or 422) and
 * `reason` are meant for the Status reply.
 */
import { PatchError } from './errors.js';
import { applyJsonPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic.js';

export { PatchError } from './errors.js';
export { applyJsonPatch, parseJsonPointer } from './json-patch.js';
export { applyMergePatch } from './merge-patch.js';
export { applyStrategicMergePatch } from './strategic.js';
export { MERGE_KEYS, POD_SPEC_AT, mergeKeysFor, type MergeKey, type MergeKeyTable } from './merge-keys.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

const CONTENT_TYPES: Readonly<Record<string, PatchType>> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/** Patch content types the server accepts (for 415 messages and content-type parsers). */
export const PATCH_CONTENT_TYPES: readonly string[] = Object.keys(CONTENT_TYPES);

/**
 * Maps a PATCH request's Content-Type to a patch type; parameters such as
 * `; charset=utf-8` and letter case are ignored. Returns undefined for anything else
 * (the caller answers 415 Unsupported Media Type).
 */
export function patchTypeFromContentType(ct: string): PatchType | undefined {
  const mediaType = ct.split(';')[0]!.trim().toLowerCase();
  return CONTENT_TYPES[mediaType];
}

/**
 * Server-side apply (`kubectl apply --server-side`, `application/apply-patch+yaml`).
 *
 * SIMPLIFICATION: Kubernetes tracks field ownership per manager in `metadata.managedFields`
 * and removes fields a manager stops applying, reporting conflicts between managers. Keelson
 * does neither: the applied object (already parsed from YAML/JSON) is strategic-merged into
 * the live object, so fields are added and changed but a field dropped from the applied
 * configuration stays on the object. `live` may be undefined/null (create).
 */
export function applyServerSideApply(live: unknown, applied: unknown, kind: string): unknown {
  if (applied === null || typeof applied !== 'object' || Array.isArray(applied)) {
    throw new PatchError('apply: the applied configuration must be an object', 400);
  }
  return applyStrategicMergePatch(live, applied, kind);
}

/** Applies a patch of the given type. `kind` matters for `strategic` and `apply` only. */
export function applyPatch(type: PatchType, doc: unknown, patch: unknown, kind: string): unknown {
  switch (type) {
    case 'json':
      return applyJsonPatch(doc, patch);
    case 'merge':
      return applyMergePatch(doc, patch);
    case 'strategic':
      return applyStrategicMergePatch(doc, patch, kind);
    case 'apply':
      return applyServerSideApply(doc, patch, kind);
    default:
      throw new PatchError(`unsupported patch type ${JSON.stringify(type)}`, 400);
  }
}
