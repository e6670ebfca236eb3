/**
 * Namespaces: a DNS-1123 label name, finalizers, and the phase.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { validateFinalizerName, validateObjectMeta } from './common.js';
import type { Errs } from './errors.js';
import { getEnum, getObj, strItems } from './fields.js';
import { isDNS1123Label } from './syntax.js';

export function validateNamespace(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: false, name: isDNS1123Label }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  for (const [f, path] of strItems(spec, 'finalizers', 'spec', e)) validateFinalizerName(f, path, e);
  validateNamespaceStatus(obj, e);
}

export function validateNamespaceStatus(obj: KObject, e: Errs): void {
  const status = getObj(obj, 'status', '', e) ?? {};
  getEnum(status, 'phase', 'status', e, ['Active', 'Terminating']);
}
