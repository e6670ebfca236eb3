/**
 * Leases (coordination.k8s.io/v1): node heartbeats and leader election.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { validateObjectMeta } from './common.js';
import type { Errs } from './errors.js';
import { child, getInt, getNonNegative, getObj, getStr } from './fields.js';
import { isDNS1123Subdomain } from './syntax.js';

export function validateLease(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  const duration = getInt(spec, 'leaseDurationSeconds', 'spec', e);
  if (duration !== undefined && duration <= 0) e.invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0');
  getNonNegative(spec, 'leaseTransitions', 'spec', e);
  getStr(spec, 'holderIdentity', 'spec', e);
  for (const f of ['acquireTime', 'renewTime']) {
    const t = getStr(spec, f, 'spec', e);
    if (t && Number.isNaN(Date.parse(t))) e.invalid(child('spec', f), t, 'must be an RFC 3339 date-time');
  }
}
