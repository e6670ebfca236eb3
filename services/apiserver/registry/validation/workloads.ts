/**
 * ReplicationControllers, ReplicaSets and Deployments: replicas, a selector that
 * selects the template's pods, the template itself, and the rollout strategy.
 */
import type { KObject } from '../../../lib/api/resources.js';
import {
  intOrPercentValue,
  isEmptySelector,
  labelSelectorMatches,
  validateIntOrPercent,
  validateLabels,
  validateLabelSelector,
  validateObjectMeta,
} from './common.js';
import { Errs } from './errors.js';
import { child, getBool, getEnum, getNonNegative, getObj, isObj, isSet, semanticEqual, type Obj } from './fields.js';
import { validatePodTemplate } from './pod.js';
import { isDNS1123Subdomain } from './syntax.js';

const SELECTOR_MISMATCH = '`selector` does not match template `labels`';

function validateCounts(spec: Obj, e: Errs): void {
  getNonNegative(spec, 'replicas', 'spec', e);
  getNonNegative(spec, 'minReadySeconds', 'spec', e);
}

/** The template, required; returns its labels. */
function validateTemplate(spec: Obj, owner: string, e: Errs): Record<string, string> | undefined {
  const tpl = getObj(spec, 'template', 'spec', e);
  if (!tpl) {
    if (!isSet(spec.template)) e.required('spec.template');
    return undefined;
  }
  return validatePodTemplate(tpl, 'spec.template', owner, e);
}

export function validateReplicationController(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  validateCounts(spec, e);
  const labels = validateTemplate(spec, 'ReplicationController', e);
  const own = new Errs();
  const selector = validateLabels(spec, 'selector', 'spec', own);
  e.causes.push(...own.causes);
  // An absent selector is defaulted from the template's labels.
  const effective = selector && Object.keys(selector).length ? selector : labels;
  if (!effective || Object.keys(effective).length === 0) {
    e.required('spec.selector');
    return;
  }
  if (labels && own.causes.length === 0 && !labelSelectorMatches({ matchLabels: effective }, labels)) {
    e.invalid('spec.template.metadata.labels', labels, SELECTOR_MISMATCH);
  }
}

/** The apps/v1 selector: required, not empty, and selecting the template's pods. */
function validateAppsSelector(spec: Obj, labels: Record<string, string> | undefined, e: Errs): void {
  const selector = getObj(spec, 'selector', 'spec', e);
  if (!selector) {
    if (!isSet(spec.selector)) e.required('spec.selector');
    return;
  }
  const own = new Errs();
  validateLabelSelector(selector, 'spec.selector', own);
  e.causes.push(...own.causes);
  if (isEmptySelector(selector)) e.invalid('spec.selector', selector, 'empty selector is invalid for deployment');
  else if (labels && own.causes.length === 0 && !labelSelectorMatches(selector, labels)) {
    e.invalid('spec.template.metadata.labels', labels, SELECTOR_MISMATCH);
  }
}

export function validateReplicaSet(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  validateCounts(spec, e);
  const labels = validateTemplate(spec, 'ReplicaSet', e);
  validateAppsSelector(spec, labels, e);
}

export function validateDeployment(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  validateCounts(spec, e);
  const labels = validateTemplate(spec, 'Deployment', e);
  validateAppsSelector(spec, labels, e);
  getNonNegative(spec, 'revisionHistoryLimit', 'spec', e);
  getBool(spec, 'paused', 'spec', e);
  const deadline = getNonNegative(spec, 'progressDeadlineSeconds', 'spec', e);
  const minReady = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
  if (deadline !== undefined && deadline >= 0 && deadline <= minReady) {
    e.invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds');
  }
  const strategy = getObj(spec, 'strategy', 'spec', e);
  if (strategy) validateStrategy(strategy, e);
}

function validateStrategy(strategy: Obj, e: Errs): void {
  const path = 'spec.strategy';
  const type = getEnum(strategy, 'type', path, e, ['Recreate', 'RollingUpdate']);
  const ru = getObj(strategy, 'rollingUpdate', path, e);
  if (!ru) return;
  const rpath = child(path, 'rollingUpdate');
  if (type === 'Recreate') {
    e.forbidden(rpath, "may not be specified when strategy `type` is 'Recreate'");
    return;
  }
  validateIntOrPercent(ru.maxUnavailable, child(rpath, 'maxUnavailable'), e);
  validateIntOrPercent(ru.maxSurge, child(rpath, 'maxSurge'), e);
  // Absent values are defaulted to 25%.
  const unavailable = isSet(ru.maxUnavailable) ? intOrPercentValue(ru.maxUnavailable) : 25;
  const surge = isSet(ru.maxSurge) ? intOrPercentValue(ru.maxSurge) : 25;
  if (unavailable === 0 && surge === 0) {
    e.invalid(child(rpath, 'maxUnavailable'), ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0');
  }
  if (typeof ru.maxUnavailable === 'string' && unavailable !== undefined && unavailable > 100) {
    e.invalid(child(rpath, 'maxUnavailable'), ru.maxUnavailable, 'must not be greater than 100%');
  }
}

/** apps/v1 selectors never change. */
export function validateSelectorUpdate(obj: KObject, old: KObject, e: Errs): void {
  const sel = isObj(obj.spec) ? obj.spec.selector : undefined;
  const prev = isObj(old.spec) ? old.spec.selector : undefined;
  if (!semanticEqual(sel, prev)) e.invalid('spec.selector', sel ?? null, 'field is immutable');
}

/** Counters a controller writes to status. */
export function validateWorkloadStatus(obj: KObject, e: Errs): void {
  const status = getObj(obj, 'status', '', e);
  if (!status) return;
  const counts: Record<string, number> = {};
  for (const f of [
    'replicas',
    'fullyLabeledReplicas',
    'readyReplicas',
    'availableReplicas',
    'updatedReplicas',
    'unavailableReplicas',
    'observedGeneration',
  ]) {
    const v = getNonNegative(status, f, 'status', e);
    if (v !== undefined) counts[f] = v;
  }
  const replicas = counts.replicas ?? 0;
  for (const f of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'updatedReplicas']) {
    if ((counts[f] ?? 0) > replicas) e.invalid(`status.${f}`, counts[f], 'cannot be greater than status.replicas');
  }
  if ((counts.availableReplicas ?? 0) > (counts.readyReplicas ?? 0)) {
    e.invalid('status.availableReplicas', counts.availableReplicas, 'cannot be greater than readyReplicas');
  }
  getNonNegative(status, 'collisionCount', 'status', e);
}
