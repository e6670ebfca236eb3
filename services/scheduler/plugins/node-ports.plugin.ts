/**
 * NodePorts: a host port is taken on a node when a pod there holds the same
 * protocol and port on the same IP, or either side binds every address (0.0.0.0).
 */
import { SUCCESS, unschedulable, type FilterPlugin } from '../framework/index.js';

export const ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";
const REJECTED = unschedulable(ERR_NODE_PORTS);
const ANY = '0.0.0.0';

export const nodePorts: FilterPlugin = {
  name: 'NodePorts',
  skip: (pod) => pod.hostPorts.length === 0,
  filter(pod, node) {
    for (const hp of pod.hostPorts) {
      const ips = node.usedPorts.get(`${hp.protocol}/${hp.port}`);
      if (!ips) continue;
      if (hp.ip === ANY || ips.has(hp.ip) || ips.has(ANY)) return REJECTED;
    }
    return SUCCESS;
  },
};
