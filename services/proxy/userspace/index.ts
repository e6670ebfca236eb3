/**
 * The proxy's user-space backend (kube-proxy's userspace mode): forwards TCP
 * and UDP of each service port to its endpoints through Node.js sockets, and a
 * root-only helper that makes cluster IPs local so they can be listened on.
 */
export { UserspaceBackend, defaultForwarders, type UserspaceBackendOptions } from './userspace.backend.js';
export type { ServicePortStats, UserspaceStats } from './stats.js';
export { Balancer, endpointKey } from './balancer.js';
export {
  LocalAddresses,
  DEFAULT_INTERFACE,
  clusterIPsOf,
  type AddressChanges,
  type IpRunner,
  type LocalAddressesOptions,
} from './local-addresses.js';
