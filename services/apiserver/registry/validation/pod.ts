/**
 * Pods and pod specs (also the templates inside ReplicationControllers, ReplicaSets
 * and Deployments): volumes, containers, policies, scheduling, and what an update
 * may change.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { tryParseQuantity, QUANTITY_REGEXP, sign } from '../../../lib/quantity/index.js';
import { defaultPodSpec } from '../defaults.js';
import { validateAnnotations, validateLabels, validateObjectMeta } from './common.js';
import { validateContainer } from './container.js';
import type { Errs } from './errors.js';
import {
  child,
  clone,
  getBool,
  getEnum,
  getInt,
  getNonNegative,
  getObj,
  getStr,
  isObj,
  isSet,
  objItems,
  semanticEqual,
  strItems,
  type Obj,
} from './fields.js';
import { validateScheduling } from './scheduling.js';
import { IP_MSG, isDNS1123Label, isDNS1123Subdomain, isIP } from './syntax.js';

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const;
const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;
const MAX_INT32 = 2147483647;

/** Every volume source Kubernetes knows; a volume names exactly one. */
const VOLUME_SOURCES = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi',
  'glusterfs', 'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc',
  'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected',
  'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
];
/** The field each common source cannot do without. */
const VOLUME_SOURCE_REQUIRED: Record<string, string[]> = {
  hostPath: ['path'],
  secret: ['secretName'],
  configMap: ['name'],
  persistentVolumeClaim: ['claimName'],
  nfs: ['server', 'path'],
};

export const POD_UPDATE_MESSAGE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,' +
  '`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),' +
  '`spec.terminationGracePeriodSeconds`';

export function validatePod(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  validatePodSpec(getObj(obj, 'spec', '', e) ?? {}, 'spec', e);
}

export function validatePodSpec(spec: Obj, path: string, e: Errs): void {
  const volumes = validateVolumes(spec, path, e);
  const hostNetwork = getBool(spec, 'hostNetwork', path, e) ?? false;
  const names = new Set<string>();
  const raw = spec.containers;
  if (!isSet(raw) || (Array.isArray(raw) && raw.length === 0)) e.required(child(path, 'containers'));
  const hostPorts = new Set<string>();
  for (const [c, cpath] of objItems(spec, 'containers', path, e)) {
    validateContainer(c, cpath, { volumes, names, hostPorts, hostNetwork, init: false }, e);
  }
  for (const [c, cpath] of objItems(spec, 'initContainers', path, e)) {
    validateContainer(c, cpath, { volumes, names, hostNetwork, init: true }, e);
  }
  getEnum(spec, 'restartPolicy', path, e, RESTART_POLICIES);
  const dnsPolicy = getEnum(spec, 'dnsPolicy', path, e, DNS_POLICIES);
  validateDNSConfig(spec, path, dnsPolicy, e);
  getNonNegative(spec, 'terminationGracePeriodSeconds', path, e);
  const deadline = getInt(spec, 'activeDeadlineSeconds', path, e);
  if (deadline !== undefined && (deadline < 1 || deadline > MAX_INT32)) {
    e.invalid(child(path, 'activeDeadlineSeconds'), deadline, `must be between 1 and ${MAX_INT32}, inclusive`);
  }
  for (const f of ['nodeName', 'serviceAccountName', 'schedulerName']) {
    const v = getStr(spec, f, path, e);
    if (v) e.invalidEach(child(path, f), v, isDNS1123Subdomain(v));
  }
  for (const f of ['hostname', 'subdomain']) {
    const v = getStr(spec, f, path, e);
    if (v) e.invalidEach(child(path, f), v, isDNS1123Label(v));
  }
  getObj(spec, 'securityContext', path, e);
  validateScheduling(spec, path, e);
}

function validateVolumes(spec: Obj, path: string, e: Errs): Set<string> {
  const names = new Set<string>();
  for (const [v, vpath] of objItems(spec, 'volumes', path, e)) {
    const name = getStr(v, 'name', vpath, e);
    if (!name) e.required(child(vpath, 'name'));
    else {
      e.invalidEach(child(vpath, 'name'), name, isDNS1123Label(name));
      if (names.has(name)) e.duplicate(child(vpath, 'name'), name);
      names.add(name);
    }
    const sources = VOLUME_SOURCES.filter((s) => isSet(v[s]));
    if (sources.length === 0) e.required(vpath, 'must specify a volume type');
    for (const extra of sources.slice(1)) e.forbidden(child(vpath, extra), 'may not specify more than 1 volume type');
    for (const s of sources) {
      const src = getObj(v, s, vpath, e);
      if (src) validateVolumeSource(s, src, child(vpath, s), e);
    }
  }
  return names;
}

function validateVolumeSource(kind: string, src: Obj, path: string, e: Errs): void {
  for (const f of VOLUME_SOURCE_REQUIRED[kind] ?? []) if (!getStr(src, f, path, e)) e.required(child(path, f));
  if (kind === 'hostPath') {
    const p = typeof src.path === 'string' ? src.path : '';
    if (p && !p.startsWith('/')) e.invalid(child(path, 'path'), p, 'must be an absolute path');
    if (p.split('/').includes('..')) e.invalid(child(path, 'path'), p, "must not contain '..'");
    getEnum(src, 'type', path, e, HOST_PATH_TYPES);
  }
  if (kind === 'emptyDir') {
    getEnum(src, 'medium', path, e, ['', 'Memory', 'HugePages']);
    if (isSet(src.sizeLimit)) {
      const q = tryParseQuantity(src.sizeLimit);
      if (!q) e.invalid(child(path, 'sizeLimit'), src.sizeLimit, `quantities must match the regular expression '${QUANTITY_REGEXP}'`);
      else if (sign(q) < 0) e.invalid(child(path, 'sizeLimit'), src.sizeLimit, 'must be greater than or equal to 0');
    }
  }
}

function validateDNSConfig(spec: Obj, path: string, dnsPolicy: string | undefined, e: Errs): void {
  const cfg = getObj(spec, 'dnsConfig', path, e);
  const cpath = child(path, 'dnsConfig');
  if (dnsPolicy === 'None' && !cfg) {
    e.required(cpath, 'must provide `dnsConfig` when `dnsPolicy` is None');
    return;
  }
  if (!cfg) return;
  const servers = strItems(cfg, 'nameservers', cpath, e);
  if (dnsPolicy === 'None' && servers.length === 0) {
    e.required(child(cpath, 'nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None');
  }
  if (servers.length > 3) e.invalid(child(cpath, 'nameservers'), servers.map(([s]) => s), 'must not have more than 3 nameservers');
  for (const [ip, ipath] of servers) if (!isIP(ip)) e.invalid(ipath, ip, IP_MSG);
  for (const [s, spath] of strItems(cfg, 'searches', cpath, e)) e.invalidEach(spath, s.replace(/\.$/, ''), isDNS1123Subdomain(s.replace(/\.$/, '')));
}

/**
 * A pod template of a workload: labels, a valid pod spec, restartPolicy Always and
 * no activeDeadlineSeconds. Returns the template's labels for the selector check.
 */
export function validatePodTemplate(tpl: Obj, path: string, owner: string, e: Errs): Record<string, string> {
  const meta = getObj(tpl, 'metadata', path, e) ?? {};
  const mpath = child(path, 'metadata');
  const labels = validateLabels(meta, 'labels', mpath, e) ?? {};
  validateAnnotations(meta, 'annotations', mpath, e);
  const spec = getObj(tpl, 'spec', path, e) ?? {};
  const spath = child(path, 'spec');
  validatePodSpec(spec, spath, e);
  const rp = spec.restartPolicy;
  if (typeof rp === 'string' && rp !== 'Always' && (RESTART_POLICIES as readonly string[]).includes(rp)) {
    e.notSupported(child(spath, 'restartPolicy'), rp, ['Always']);
  }
  if (isSet(spec.activeDeadlineSeconds)) {
    e.forbidden(child(spath, 'activeDeadlineSeconds'), `activeDeadlineSeconds in ${owner} is not Supported`);
  }
  return labels;
}

/** Only images, activeDeadlineSeconds (down), tolerations (added) and the grace period may change. */
export function validatePodUpdate(obj: KObject, old: KObject, e: Errs): void {
  // Compare defaulted specs so that a client leaving defaults out changes nothing.
  const next: Obj = clone(isObj(obj.spec) ? obj.spec : {});
  const prev: Obj = clone(isObj(old.spec) ? old.spec : {});
  defaultPodSpec(next);
  defaultPodSpec(prev);

  const deadline = next.activeDeadlineSeconds;
  const oldDeadline = prev.activeDeadlineSeconds;
  if (isSet(deadline)) {
    if (typeof deadline === 'number' && typeof oldDeadline === 'number' && deadline > oldDeadline) {
      e.invalid('spec.activeDeadlineSeconds', deadline, 'must be less than or equal to previous value');
    }
  } else if (isSet(oldDeadline)) {
    e.invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value');
  }
  validateOnlyAddedTolerations(next.tolerations, prev.tolerations, e);

  for (const list of ['containers', 'initContainers']) {
    const n = next[list];
    const o = prev[list];
    if (!Array.isArray(n) || !Array.isArray(o)) continue;
    n.forEach((c: unknown, i) => {
      if (isObj(c) && isObj(o[i])) c.image = o[i].image;
    });
  }
  for (const f of ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds']) next[f] = prev[f];
  if (!semanticEqual(next, prev)) {
    const changed = [...new Set([...Object.keys(next), ...Object.keys(prev)])]
      .filter((k) => !semanticEqual(next[k], prev[k]))
      .map((k) => `spec.${k}`);
    e.forbidden('spec', `${POD_UPDATE_MESSAGE}\n(changed: ${changed.join(', ')})`);
  }
}

/** Every old toleration must still be there; only its tolerationSeconds may change. */
function validateOnlyAddedTolerations(next: unknown, prev: unknown, e: Errs): void {
  const strip = (t: unknown) => (isObj(t) ? { ...t, tolerationSeconds: undefined } : t);
  const now = Array.isArray(next) ? next.map(strip) : [];
  for (const t of Array.isArray(prev) ? prev : []) {
    if (!now.some((n) => semanticEqual(n, strip(t)))) {
      e.forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds');
      return;
    }
  }
}

/** What a kubelet may write to `status`. */
export function validatePodStatus(obj: KObject, old: KObject, e: Errs): void {
  const status = getObj(obj, 'status', '', e) ?? {};
  const phase = getEnum(status, 'phase', 'status', e, POD_PHASES);
  const oldPhase = isObj(old.status) ? old.status.phase : undefined;
  if ((oldPhase === 'Succeeded' || oldPhase === 'Failed') && phase && phase !== oldPhase) {
    e.forbidden('status.phase', `may not be changed from the terminal phase ${oldPhase} to ${phase}`);
  }
  getEnum(status, 'qosClass', 'status', e, ['Guaranteed', 'Burstable', 'BestEffort']);
  for (const f of ['podIP', 'hostIP']) {
    const ip = getStr(status, f, 'status', e);
    if (ip && !isIP(ip)) e.invalid(`status.${f}`, ip, IP_MSG);
  }
  for (const f of ['podIPs', 'hostIPs']) {
    for (const [item, ipath] of objItems(status, f, 'status', e)) {
      const ip = getStr(item, 'ip', ipath, e) ?? '';
      if (!isIP(ip)) e.invalid(child(ipath, 'ip'), ip, IP_MSG);
    }
  }
  for (const [c, cpath] of objItems(status, 'conditions', 'status', e)) {
    if (!getStr(c, 'type', cpath, e)) e.required(child(cpath, 'type'));
    getEnum(c, 'status', cpath, e, ['True', 'False', 'Unknown']);
  }
  for (const list of ['containerStatuses', 'initContainerStatuses']) {
    for (const [c, cpath] of objItems(status, list, 'status', e)) {
      if (!getStr(c, 'name', cpath, e)) e.required(child(cpath, 'name'));
      getNonNegative(c, 'restartCount', cpath, e);
    }
  }
}
