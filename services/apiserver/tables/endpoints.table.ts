/** `kubectl get endpoints`: NAME ENDPOINTS AGE. */
import type { KObject } from '../../lib/api/resources.js';
import { age } from './age.js';
import { ageColumn, arr, column, joinHostPort, nameColumn, num, rec, str } from './format.js';
import type { Printer } from './types.js';

/** How many addresses kubectl lists before `+ N more...`. */
const MAX_SHOWN = 3;

/**
 * Ready addresses as `ip:port` (or bare `ip` for a port-less subset), at most three,
 * then `+ N more...`; `<none>` when there are none.
 */
export function formatEndpoints(ep: KObject): string {
  const subsets = arr(ep.subsets).map(rec);
  if (subsets.length === 0) return '<none>';
  const shown: string[] = [];
  let count = 0;
  let more = false;
  const add = (text: string) => {
    if (shown.length === MAX_SHOWN) more = true;
    else shown.push(text);
  };
  for (const ss of subsets) {
    const ips = arr(ss.addresses).map((a) => str(rec(a).ip));
    const ports = arr(ss.ports).map(rec);
    if (ports.length === 0) {
      count += ips.length;
      for (const ip of ips) add(ip);
      continue;
    }
    for (const port of ports) {
      count += ips.length;
      for (const ip of ips) add(joinHostPort(ip, num(port.port)));
    }
  }
  const joined = shown.join(',');
  if (more) return `${joined} + ${count - MAX_SHOWN} more...`;
  return joined || '<none>';
}

export const endpointsPrinter: Printer = {
  columns: [
    nameColumn(),
    column('Endpoints', 'string', 'Ready addresses (ip:port) backing the service.'),
    ageColumn(),
  ],
  cells(ep, { now }) {
    return [str(ep.metadata?.name), formatEndpoints(ep), age(ep.metadata?.creationTimestamp, now)];
  },
};
