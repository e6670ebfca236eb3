/**
 * Endpoints: the addresses and ports behind a Service.
 */
import type { KObject } from '../../../lib/api/resources.js';
import { validateObjectMeta } from './common.js';
import { PROTOCOLS } from './container.js';
import type { Errs } from './errors.js';
import { child, getEnum, getInt, getStr, objItems, type Obj } from './fields.js';
import { IP_MSG, isDNS1123Label, isDNS1123Subdomain, isIP, isValidPortNum } from './syntax.js';

export function validateEndpoints(obj: KObject, e: Errs): void {
  validateObjectMeta(obj.metadata, { namespaced: true, name: isDNS1123Subdomain }, e);
  for (const [subset, spath] of objItems(obj, 'subsets', '', e)) {
    const ready = objItems(subset, 'addresses', spath, e);
    const notReady = objItems(subset, 'notReadyAddresses', spath, e);
    if (ready.length === 0 && notReady.length === 0) e.required(spath, 'must specify `addresses` or `notReadyAddresses`');
    for (const [a, apath] of [...ready, ...notReady]) validateAddress(a, apath, e);
    const ports = objItems(subset, 'ports', spath, e);
    const names = new Set<string>();
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
      if (port === undefined) e.required(child(ppath, 'port'));
      else e.invalidEach(child(ppath, 'port'), port, isValidPortNum(port));
      getEnum(p, 'protocol', ppath, e, PROTOCOLS);
    }
  }
}

/**
 * A routable IP. Unlike Kubernetes, loopback is allowed: the `process` runtime runs
 * pods on the host, where 127.0.0.1 is a real endpoint.
 */
function validateAddress(a: Obj, path: string, e: Errs): void {
  const ip = getStr(a, 'ip', path, e) ?? '';
  const ipPath = child(path, 'ip');
  if (!isIP(ip)) e.invalid(ipPath, ip, IP_MSG);
  else if (ip === '0.0.0.0' || ip === '::') e.invalid(ipPath, ip, 'may not be unspecified (0.0.0.0)');
  else if (ip.startsWith('169.254.') || /^fe[89ab]/i.test(ip)) {
    e.invalid(ipPath, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  } else if (ip.startsWith('224.0.0.') || /^ff02:/i.test(ip)) {
    e.invalid(ipPath, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  }
  const hostname = getStr(a, 'hostname', path, e);
  if (hostname) e.invalidEach(child(path, 'hostname'), hostname, isDNS1123Label(hostname));
  const nodeName = getStr(a, 'nodeName', path, e);
  if (nodeName) e.invalidEach(child(path, 'nodeName'), nodeName, isDNS1123Subdomain(nodeName));
}
