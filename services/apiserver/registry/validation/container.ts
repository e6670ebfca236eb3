/**
 * One container of a pod spec: name, image, ports, env, resources, mounts, probes.
 */
import { compareQuantities, formatQuantity, QUANTITY_REGEXP, sign, tryParseQuantity, type Quantity } from '../../../lib/quantity/index.js';
import { validatePortNumOrName } from './common.js';
import type { Errs } from './errors.js';
import {
  child,
  getEnum,
  getInt,
  getNonNegative,
  getObj,
  getStr,
  isSet,
  objItems,
  strItems,
  type Obj,
} from './fields.js';
import { isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isQualifiedName, isValidPortName, isValidPortNum } from './syntax.js';

/** What one container's checks need to know about the rest of the pod. */
export type ContainerContext = {
  /** Names of the pod's volumes, for volumeMounts. */
  volumes: ReadonlySet<string>;
  /** Container names seen so far (containers, then initContainers). */
  names: Set<string>;
  /** `port/protocol` host ports taken so far; absent for init containers. */
  hostPorts?: Set<string>;
  hostNetwork: boolean;
  init: boolean;
};

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'] as const;
const STANDARD_CONTAINER_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'];
const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const LIFECYCLE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep'];

export function validateContainer(c: Obj, path: string, ctx: ContainerContext, e: Errs): void {
  const name = getStr(c, 'name', path, e);
  if (!name) e.required(child(path, 'name'));
  else {
    e.invalidEach(child(path, 'name'), name, isDNS1123Label(name));
    if (ctx.names.has(name)) e.duplicate(child(path, 'name'), name);
    ctx.names.add(name);
  }
  const image = getStr(c, 'image', path, e);
  if (!image) e.required(child(path, 'image'));
  else if (image !== image.trim()) e.invalid(child(path, 'image'), image, 'must not have leading or trailing whitespace');

  getEnum(c, 'imagePullPolicy', path, e, PULL_POLICIES);
  getEnum(c, 'terminationMessagePolicy', path, e, TERMINATION_MESSAGE_POLICIES);
  getStr(c, 'terminationMessagePath', path, e);
  getStr(c, 'workingDir', path, e);
  strItems(c, 'command', path, e);
  strItems(c, 'args', path, e);

  const sidecar = ctx.init && c.restartPolicy === 'Always';
  if (ctx.init) getEnum(c, 'restartPolicy', path, e, ['Always']);
  else if (isSet(c.restartPolicy)) e.forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers');

  validatePorts(c, path, ctx, e);
  validateEnv(c, path, e);
  const resources = getObj(c, 'resources', path, e);
  if (resources) validateResources(resources, child(path, 'resources'), e);
  validateVolumeMounts(c, path, ctx.volumes, e);

  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = getObj(c, probe, path, e);
    if (!p) continue;
    if (ctx.init && !sidecar) e.forbidden(child(path, probe), 'may not be set for init containers without restartPolicy=Always');
    else validateProbe(p, child(path, probe), probe !== 'readinessProbe', e);
  }
  const lifecycle = getObj(c, 'lifecycle', path, e);
  if (lifecycle) {
    const lpath = child(path, 'lifecycle');
    if (ctx.init && !sidecar) e.forbidden(lpath, 'may not be set for init containers without restartPolicy=Always');
    for (const hook of ['postStart', 'preStop']) {
      const h = getObj(lifecycle, hook, lpath, e);
      if (h) validateHandler(h, child(lpath, hook), LIFECYCLE_HANDLERS, e);
    }
  }
}

function validatePorts(c: Obj, path: string, ctx: ContainerContext, e: Errs): void {
  const names = new Set<string>();
  for (const [p, ppath] of objItems(c, 'ports', path, e)) {
    const name = getStr(p, 'name', ppath, e);
    if (name) {
      e.invalidEach(child(ppath, 'name'), name, isValidPortName(name));
      if (names.has(name)) e.duplicate(child(ppath, 'name'), name);
      names.add(name);
    }
    const containerPort = getInt(p, 'containerPort', ppath, e);
    if (!containerPort) e.required(child(ppath, 'containerPort'));
    else e.invalidEach(child(ppath, 'containerPort'), containerPort, isValidPortNum(containerPort));
    const hostPort = getInt(p, 'hostPort', ppath, e);
    if (hostPort) e.invalidEach(child(ppath, 'hostPort'), hostPort, isValidPortNum(hostPort));
    const protocol = getEnum(p, 'protocol', ppath, e, PROTOCOLS) ?? 'TCP';
    getStr(p, 'hostIP', ppath, e);
    if (ctx.hostNetwork && hostPort && containerPort && hostPort !== containerPort) {
      e.invalid(child(ppath, 'containerPort'), containerPort, 'must match `hostPort` when `hostNetwork` is true');
    }
    if (hostPort && ctx.hostPorts) {
      const key = `${hostPort}/${protocol}`;
      if (ctx.hostPorts.has(key)) e.duplicate(child(ppath, 'hostPort'), key);
      ctx.hostPorts.add(key);
    }
  }
}

const ENV_SOURCES = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'];
const ENV_SOURCE_REQUIRED: Record<string, string> = {
  fieldRef: 'fieldPath',
  resourceFieldRef: 'resource',
  configMapKeyRef: 'key',
  secretKeyRef: 'key',
};

function validateEnv(c: Obj, path: string, e: Errs): void {
  for (const [env, epath] of objItems(c, 'env', path, e)) {
    const name = getStr(env, 'name', epath, e);
    if (!name) e.required(child(epath, 'name'));
    else e.invalidEach(child(epath, 'name'), name, isEnvVarName(name));
    const value = getStr(env, 'value', epath, e);
    const from = getObj(env, 'valueFrom', epath, e);
    if (!from) continue;
    const fpath = child(epath, 'valueFrom');
    if (value) e.invalid(fpath, '', 'may not be specified when `value` is not empty');
    const sources = ENV_SOURCES.filter((s) => isSet(from[s]));
    if (sources.length === 0) {
      e.invalid(fpath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`');
    } else if (sources.length > 1) {
      e.invalid(fpath, '', 'may not have more than one field specified at a time');
    }
    for (const s of sources) {
      const src = getObj(from, s, fpath, e);
      const req = ENV_SOURCE_REQUIRED[s]!;
      if (src && !getStr(src, req, child(fpath, s), e)) e.required(child(child(fpath, s), req));
    }
  }
  for (const [ef, epath] of objItems(c, 'envFrom', path, e)) {
    const prefix = getStr(ef, 'prefix', epath, e);
    if (prefix) e.invalidEach(child(epath, 'prefix'), prefix, isEnvVarName(prefix));
    const sources = ['configMapRef', 'secretRef'].filter((s) => isSet(ef[s]));
    if (sources.length === 0) e.invalid(epath, '', 'must specify one of: `configMapRef` or `secretRef`');
    else if (sources.length > 1) e.invalid(epath, '', 'may not have more than one field specified at a time');
    for (const s of sources) {
      const ref = getObj(ef, s, epath, e);
      const refName = ref && getStr(ref, 'name', child(epath, s), e);
      if (ref && !refName) e.required(child(child(epath, s), 'name'));
      else if (refName) e.invalidEach(child(child(epath, s), 'name'), refName, isDNS1123Subdomain(refName));
    }
  }
}

function validateResourceName(name: string, path: string, e: Errs): void {
  if (name.includes('/')) e.invalidEach(path, name, isQualifiedName(name));
  else if (!STANDARD_CONTAINER_RESOURCES.includes(name) && !name.startsWith('hugepages-')) {
    e.invalid(path, name, 'must be a standard resource for containers');
  }
}

/** Reads `limits` or `requests`, checking each name and quantity. */
function readQuantities(r: Obj, key: string, base: string, e: Errs): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  const m = getObj(r, key, base, e);
  for (const [name, raw] of Object.entries(m ?? {})) {
    const path = `${child(base, key)}[${name}]`;
    validateResourceName(name, path, e);
    const q = tryParseQuantity(raw);
    if (!q) e.invalid(path, raw, `quantities must match the regular expression '${QUANTITY_REGEXP}'`);
    else if (sign(q) < 0) e.invalid(path, raw, 'must be greater than or equal to 0');
    else out.set(name, q);
  }
  return out;
}

/** A container's resources: valid quantities, and no request above its limit. */
export function validateResources(r: Obj, path: string, e: Errs): void {
  const limits = readQuantities(r, 'limits', path, e);
  const requests = readQuantities(r, 'requests', path, e);
  for (const [name, req] of requests) {
    const limit = limits.get(name);
    if (limit && compareQuantities(req, limit) > 0) {
      e.invalid(
        `${child(path, 'requests')}[${name}]`,
        formatQuantity(req),
        `must be less than or equal to ${name} limit of ${formatQuantity(limit)}`,
      );
    }
  }
}

function validateVolumeMounts(c: Obj, path: string, volumes: ReadonlySet<string>, e: Errs): void {
  const paths = new Set<string>();
  for (const [m, mpath] of objItems(c, 'volumeMounts', path, e)) {
    const name = getStr(m, 'name', mpath, e);
    if (!name) e.required(child(mpath, 'name'));
    else if (!volumes.has(name)) e.invalid(child(mpath, 'name'), name, 'must match the name of a volume');
    const mountPath = getStr(m, 'mountPath', mpath, e);
    if (!mountPath) e.required(child(mpath, 'mountPath'));
    else {
      if (!mountPath.startsWith('/')) e.invalid(child(mpath, 'mountPath'), mountPath, 'must be an absolute path');
      if (paths.has(mountPath)) e.invalid(child(mpath, 'mountPath'), mountPath, 'must be unique');
      paths.add(mountPath);
    }
    const subPath = getStr(m, 'subPath', mpath, e);
    if (subPath) {
      if (subPath.startsWith('/')) e.invalid(child(mpath, 'subPath'), subPath, 'must be a relative path');
      if (subPath.split('/').includes('..')) e.invalid(child(mpath, 'subPath'), subPath, "must not contain '..'");
    }
  }
}

/** A probe or lifecycle hook: exactly one handler, each well formed. */
function validateHandler(h: Obj, path: string, kinds: readonly string[], e: Errs): void {
  const present = kinds.filter((k) => isSet(h[k]));
  if (present.length === 0) e.required(path, 'must specify a handler type');
  for (const extra of present.slice(1)) e.forbidden(child(path, extra), 'may not specify more than 1 handler type');
  const exec = getObj(h, 'exec', path, e);
  if (exec && strItems(exec, 'command', child(path, 'exec'), e).length === 0) e.required(child(path, 'exec.command'));
  const httpGet = getObj(h, 'httpGet', path, e);
  if (httpGet) {
    const hpath = child(path, 'httpGet');
    validatePortNumOrName(httpGet.port, child(hpath, 'port'), e);
    getEnum(httpGet, 'scheme', hpath, e, ['HTTP', 'HTTPS']);
    getStr(httpGet, 'path', hpath, e);
    for (const [hdr, hdrPath] of objItems(httpGet, 'httpHeaders', hpath, e)) {
      if (!getStr(hdr, 'name', hdrPath, e)) e.required(child(hdrPath, 'name'));
    }
  }
  const tcp = getObj(h, 'tcpSocket', path, e);
  if (tcp) validatePortNumOrName(tcp.port, child(path, 'tcpSocket.port'), e);
  const grpc = getObj(h, 'grpc', path, e);
  if (grpc) {
    const port = getInt(grpc, 'port', child(path, 'grpc'), e);
    if (port === undefined) e.required(child(path, 'grpc.port'));
    else e.invalidEach(child(path, 'grpc.port'), port, isValidPortNum(port));
  }
  const sleep = getObj(h, 'sleep', path, e);
  if (sleep) getNonNegative(sleep, 'seconds', child(path, 'sleep'), e);
}

function validateProbe(p: Obj, path: string, successMustBeOne: boolean, e: Errs): void {
  validateHandler(p, path, PROBE_HANDLERS, e);
  // Zero means "not set" (Kubernetes defaults it); only negatives are wrong here.
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'failureThreshold']) {
    getNonNegative(p, f, path, e);
  }
  const success = getNonNegative(p, 'successThreshold', path, e);
  if (successMustBeOne && success !== undefined && success > 1) e.invalid(child(path, 'successThreshold'), success, 'must be 1');
  const grace = getInt(p, 'terminationGracePeriodSeconds', path, e);
  if (grace !== undefined && grace <= 0) e.invalid(child(path, 'terminationGracePeriodSeconds'), grace, 'must be greater than 0');
}
