/**
 * Services: type, ports, cluster IP, node ports, session affinity, traffic policies.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KObject } from '../../../lib/api/resources.js';
import { validateLabels, validateObjectMeta, validatePortNumOrName } from './common.js';
import { PROTOCOLS } from './container.js';
import type { Errs } from './errors.js';
import { child, getEnum, getInt, getObj, getStr, isObj, objItems, strItems, type Obj } from './fields.js';
import { IP_MSG, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isIP, isIPv4, isValidPortNum } from './syntax.js';

/** The node port range, `--service-node-port-range` in Kubernetes. */
export type PortRange = { min: number; max: number };
export const DEFAULT_NODE_PORT_RANGE: PortRange = { min: 30000, max: 32767 };

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

export function validateService(obj: KObject, nodePorts: PortRange, e: Errs, old?: KObject): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1035Label }, e);
  const spec = getObj(obj, 'spec', '', e) ?? {};
  const type = getEnum(spec, 'type', 'spec', e, SERVICE_TYPES) ?? 'ClusterIP';
  const clusterIP = getStr(spec, 'clusterIP', 'spec', e) ?? '';
  const headless = clusterIP === 'None';

  if (type === 'ExternalName') {
    const name = getStr(spec, 'externalName', 'spec', e);
    if (!name) e.required('spec.externalName');
    else e.invalidEach('spec.externalName', name, isDNS1123Subdomain(name.replace(/\.$/, '')));
    if (clusterIP) e.invalid('spec.clusterIP', clusterIP, 'may not be set for ExternalName services');
  } else if (clusterIP && !headless && !isIPv4(clusterIP)) {
    e.invalid('spec.clusterIP', clusterIP, "must be empty, 'None', or a valid IP address");
  }
  if (headless && (type === 'NodePort' || type === 'LoadBalancer')) {
    e.invalid('spec.clusterIP', clusterIP, `may not be set to 'None' for ${type} services`);
  }
  validateClusterIPs(spec, type, clusterIP, e, isObj(old?.spec) ? old.spec : undefined);
  validatePorts(spec, type, headless, nodePorts, e);
  validateLabels(spec, 'selector', 'spec', e);
  validateAffinity(spec, e);

  const external = getEnum(spec, 'externalTrafficPolicy', 'spec', e, ['Cluster', 'Local']);
  if (external && type !== 'NodePort' && type !== 'LoadBalancer') {
    e.invalid('spec.externalTrafficPolicy', external, "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
  }
  getEnum(spec, 'internalTrafficPolicy', 'spec', e, ['Cluster', 'Local']);
  getEnum(spec, 'ipFamilyPolicy', 'spec', e, ['SingleStack', 'PreferDualStack', 'RequireDualStack']);
  const families = new Set<string>();
  for (const [f, fpath] of strItems(spec, 'ipFamilies', 'spec', e)) {
    if (f !== 'IPv4' && f !== 'IPv6') e.notSupported(fpath, f, ['IPv4', 'IPv6']);
    else if (families.has(f)) e.duplicate(fpath, f);
    families.add(f);
  }
  for (const [ip, ipath] of strItems(spec, 'externalIPs', 'spec', e)) if (!isIP(ip)) e.invalid(ipath, ip, IP_MSG);
}

/**
 * `clusterIPs` mirrors `clusterIP` (one family only: there is no dual stack
 * here). An update that changes `clusterIP` alone is judged by the
 * immutability rule, not reported twice here.
 */
function validateClusterIPs(spec: Obj, type: string, clusterIP: string, e: Errs, oldSpec?: Obj): void {
  const ips = strItems(spec, 'clusterIPs', 'spec', e);
  if (ips.length === 0) return;
  if (type === 'ExternalName') {
    e.invalid('spec.clusterIPs', spec.clusterIPs, 'may not be set for ExternalName services');
    return;
  }
  if (ips.length > 1) e.invalid('spec.clusterIPs', spec.clusterIPs, 'may hold one address only: dual-stack Services are not supported');
  for (const [ip, ipath] of ips) {
    if (ip !== 'None' && !isIPv4(ip)) e.invalid(ipath, ip, "must be 'None' or a valid IP address");
  }
  const first = ips[0]![0];
  const untouched = oldSpec !== undefined && isDeepStrictEqual(spec.clusterIPs, oldSpec.clusterIPs);
  if (clusterIP && first !== clusterIP && !untouched) e.invalid('spec.clusterIPs', spec.clusterIPs, 'first value must match `clusterIP`');
}

function validatePorts(spec: Obj, type: string, headless: boolean, range: PortRange, e: Errs): void {
  const ports = objItems(spec, 'ports', 'spec', e);
  if (ports.length === 0 && type !== 'ExternalName' && !headless) e.required('spec.ports');
  const names = new Set<string>();
  const pairs = new Set<string>();
  const nodePorts = new Set<string>();
  for (const [p, ppath] of ports) {
    const name = getStr(p, 'name', ppath, e);
    if (!name) {
      if (ports.length > 1) e.required(child(ppath, 'name'));
    } else {
      e.invalidEach(child(ppath, 'name'), name, isDNS1123Label(name));
      if (names.has(name)) e.duplicate(child(ppath, 'name'), name);
      names.add(name);
    }
    const port = getInt(p, 'port', ppath, e);
    if (!port) e.required(child(ppath, 'port'));
    else e.invalidEach(child(ppath, 'port'), port, isValidPortNum(port));
    const protocol = getEnum(p, 'protocol', ppath, e, PROTOCOLS) ?? 'TCP';
    const pair = `${port}/${protocol}`;
    if (port && pairs.has(pair)) e.duplicate(ppath, pair);
    pairs.add(pair);
    // An absent targetPort is defaulted to the port.
    if (type !== 'ExternalName' && p.targetPort !== undefined && p.targetPort !== null) {
      validatePortNumOrName(p.targetPort, child(ppath, 'targetPort'), e);
    }
    const nodePort = getInt(p, 'nodePort', ppath, e);
    if (!nodePort) continue;
    const npath = child(ppath, 'nodePort');
    if (type !== 'NodePort' && type !== 'LoadBalancer') {
      e.forbidden(npath, `may not be used when \`type\` is '${type}'`);
    } else if (isValidPortNum(nodePort).length) {
      e.invalidEach(npath, nodePort, isValidPortNum(nodePort));
    } else if (nodePort < range.min || nodePort > range.max) {
      e.invalid(npath, nodePort, `provided port is not in the valid range. The range of valid ports is ${range.min}-${range.max}`);
    }
    const key = `${nodePort}/${protocol}`;
    if (nodePorts.has(key)) e.duplicate(npath, key);
    nodePorts.add(key);
  }
}

function validateAffinity(spec: Obj, e: Errs): void {
  const affinity = getEnum(spec, 'sessionAffinity', 'spec', e, ['None', 'ClientIP']);
  const cfg = getObj(spec, 'sessionAffinityConfig', 'spec', e);
  if (!cfg) return;
  if (affinity !== 'ClientIP') {
    if (isObj(cfg.clientIP)) e.invalid('spec.sessionAffinityConfig', cfg, 'must not be set when session affinity is None');
    return;
  }
  const clientIP = getObj(cfg, 'clientIP', 'spec.sessionAffinityConfig', e);
  const timeout = clientIP && getInt(clientIP, 'timeoutSeconds', 'spec.sessionAffinityConfig.clientIP', e);
  if (timeout !== undefined && timeout !== null && (timeout <= 0 || timeout > 86400)) {
    e.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400');
  }
}

/** The cluster IP stays once allocated (an empty one in the update means "keep it"). */
export function validateServiceUpdate(obj: KObject, old: KObject, e: Errs): void {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const prev = isObj(old.spec) ? old.spec : {};
  if (spec.type === 'ExternalName') return;
  const ip = typeof spec.clusterIP === 'string' ? spec.clusterIP : '';
  const oldIP = typeof prev.clusterIP === 'string' ? prev.clusterIP : '';
  if (oldIP && ip && ip !== oldIP) e.invalid('spec.clusterIP', ip, 'field is immutable');
}
