/**
 * What the proxy benchmark and its children agree on: the lines they print,
 * their configs, the load commands, and the two-byte protocol of the backend
 * servers. Kept apart from the child scripts so that importing it runs nothing.
 */

/** proxy-servers-child.ts: `<json number[]>`, the ports it listens on, in the order asked. */
export const SERVERS_READY = 'PROXY-SERVERS-READY';
/** proxy-client-child.ts: ready for `load <json Load>` lines. */
export const CLIENT_READY = 'PROXY-CLIENT-READY';
/** proxy-client-child.ts: `<json LoadOutcome>`, the answer to one `load`. */
export const CLIENT_RESULT = 'PROXY-CLIENT-RESULT';
/** proxy-userspace-child.ts: the backend has synced its one service port and listens. */
export const USERSPACE_READY = 'PROXY-USERSPACE-READY';
/** proxy-userspace-child.ts: `<json UserspaceStats>` (without the per port list), the answer to `stats`. */
export const USERSPACE_STATS = 'PROXY-USERSPACE-STATS';
/** proxy-sync-child.ts: `<json FirstSync>`, once the proxy runs. */
export const SYNC_READY = 'PROXY-SYNC-READY';
/** proxy-sync-child.ts: `<id>`, the answer to `expect <json Expectation>`. */
export const SYNC_EXPECTING = 'PROXY-SYNC-EXPECTING';
/** proxy-sync-child.ts: `<id> <monotonic ms> <the proxy's own latency ms>`: the first sync that carried change `id`. */
export const SYNC_DONE = 'PROXY-SYNC-DONE';
/** proxy-sync-child.ts: `<id> <monotonic ms>`: a bare store watch in the same process saw change `id`. */
export const SYNC_SEEN = 'PROXY-SYNC-SEEN';
/** proxy-sync-child.ts: `<json>` proxy and backend figures, the answer to `stats`. */
export const SYNC_STATS = 'PROXY-SYNC-STATS';

/**
 * The backend servers' protocol. A client opens a connection and sends one
 * request line: `B<bytes>\n` asks for that many bytes (then the server ends
 * the connection), `R\n` for one RESPONSE_BYTES answer (then it ends).
 */
export const RR_REQUEST = 'R\n';
export const RESPONSE_BYTES = 64;
export const bulkRequest = (bytes: number) => `B${bytes}\n`;

/** One measurement the client child runs. */
export type Load = {
  kind: 'bulk' | 'rr';
  host: string;
  port: number;
  /** bulk: parallel connections; rr: connections in flight (closed loop). */
  connections: number;
  seconds: number;
  /** bulk: bytes asked for per connection; a connection that got them all opens the next one. */
  bulkBytes: number;
};

export type LoadOutcome = {
  kind: 'bulk' | 'rr';
  /** Bytes received inside the window. */
  bytes: number;
  /** rr: exchanges completed inside the window; bulk: transfers completed. */
  ops: number;
  errors: number;
  firstError?: string;
  /** The window: first connect → the deadline (bulk) or the last exchange finished (rr). */
  elapsedMs: number;
  /** rr: per exchange, connect call → the server's answer and FIN received, microseconds. */
  latenciesUs: number[];
};

/** proxy-userspace-child.ts's argument: one service port on `bindAddress:nodePort`. */
export type UserspaceChildConfig = {
  bindAddress: string;
  nodePort: number;
  endpoints: { ip: string; port: number }[];
  /** Forwarder processes (default: as \`keelson proxy\`, one per further core). */
  forwarders?: number;
};

/** proxy-sync-child.ts's argument. */
export type SyncChildConfig = {
  natsUrl: string;
  namespace: string;
  backend: 'userspace' | 'iptables';
  /** userspace: where node ports listen. */
  bindAddress: string;
  /** iptables: the network namespace its rules go into. */
  netns?: string;
};

/** What the sync child measured while starting. */
export type FirstSync = {
  /** Bare store watches on services and endpoints (the raw baseline): opened → both replayed everything. */
  rawWatchSyncMs: number;
  rawObjects: number;
  /** startProxy called → resolved: informers synced and the first full sync done. */
  proxyStartMs: number;
  /** Of that, the backend's own first sync (user space: its apply; iptables: save + generate + restore). */
  backendFirstSyncMs: number;
  servicePorts: number;
  endpoints: number;
  /** Backend syncs that threw (the front door logs them and goes on). */
  syncErrors: number;
  /** userspace: sockets listening, and those that could not bind. */
  listeners?: number;
  pendingListeners?: number;
  /** iptables: chains and rules written. */
  chains?: number;
  rules?: number;
};

/** A change the sync child watches for: the service port `key` with exactly this port and endpoints. */
export type Expectation = {
  id: number;
  /** `namespace/name:portName/TCP`. */
  key: string;
  /** `services` or `endpoints`: which object the write touches (the bare watch's key). */
  resource: 'services' | 'endpoints';
  namespace: string;
  name: string;
  port: number;
  /** `ip:port` joined by commas, in the front door's order (by ip, then port). */
  endpoints: string;
};

/** A service port's endpoints as Expectation.endpoints spells them. */
export const endpointsText = (eps: { ip: string; port: number }[]) => eps.map((e) => `${e.ip}:${e.port}`).join(',');
