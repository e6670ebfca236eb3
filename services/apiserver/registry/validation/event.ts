/**
 * Events: what they are about, and of which type.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { validateObjectMeta } from './common.js';
import type { Errs } from './errors.js';
import { getEnum, getNonNegative, getObj, getStr, isObj, isSet } from './fields.js';
import { isDNS1123Subdomain } from './syntax.js';

export function validateEvent(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  const involved = getObj(obj, 'involvedObject', '', e);
  if (!involved) {
    if (!isSet(obj.involvedObject)) e.required('involvedObject');
  } else {
    // Events about cluster-scoped objects (nodes) live in "default", as in Kubernetes.
    const ns = isObj(obj.metadata) && typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : '';
    const objectNs = getStr(involved, 'namespace', 'involvedObject', e) ?? '';
    if (objectNs ? objectNs !== ns : ns !== '' && ns !== 'default') {
      e.invalid('involvedObject.namespace', objectNs, 'does not match event.namespace');
    }
  }
  getEnum(obj, 'type', '', e, ['Normal', 'Warning']);
  getNonNegative(obj, 'count', '', e);
}
