/**
 * What the proxy's front door hands its backends: every service port with its
 * ready endpoints, already resolved from Services and Endpoints (service-map.ts).
 * A backend (user space: Node.js sockets; iptables: NAT rules) makes the node
 * forward exactly this, and nothing else, after each `sync`.
 */

export type Protocol = 'TCP' | 'UDP';

/** One ready endpoint of a service port: the pod IP and the resolved target port. */
export type Endpoint = { ip: string; port: number; nodeName?: string };

export type SessionAffinity = { type: 'None' } | { type: 'ClientIP'; timeoutSeconds: number };

export type ServicePort = {
  /** `namespace/name:portName/protocol` (portName may be empty): stable while the service port exists. */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  /** The service's cluster IP; undefined for headless services (they get no forwarding). */
  clusterIP?: string;
  port: number;
  /** Set for NodePort (and LoadBalancer) services. */
  nodePort?: number;
  sessionAffinity: SessionAffinity;
  /** Ready endpoints only, in a stable order (by ip, then port). */
  endpoints: Endpoint[];
};

export interface ProxyBackend {
  /** Makes forwarding match `ports` exactly: adds, changes and removes listeners or rules. Never rejects for one bad port: it logs and goes on. */
  sync(ports: ServicePort[]): Promise<void>;
  /** Removes everything the backend created (listeners closed, rules deleted). */
  stop(): Promise<void>;
}
