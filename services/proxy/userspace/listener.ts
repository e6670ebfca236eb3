/**
 * The one shape the backend sees of a TCP or UDP listening socket, and the
 * settings both kinds forward with.
 */
import type { ListenSpec } from './listen-plan.js';
import type { Route } from './route.js';

export type ForwardSettings = {
  connectTimeoutMs: number;
  /** Endpoints one TCP connection tries at most (each once) before it is reset. */
  maxConnectTries: number;
  udpIdleTimeoutMs: number;
  log: (message: string) => void;
};

export interface Listener {
  readonly spec: ListenSpec;
  /** The service port new connections go to; read per connection, never cached. */
  readonly route: Route;
  /** Binds; rejects (leaving nothing open) when the address or port cannot be had. */
  open(): Promise<void>;
  /** Stops taking new connections. Open TCP connections may finish; UDP flows end with the socket. */
  close(): void;
  /** Closes and cuts every connection or flow still open. */
  destroy(): void;
  /** Resolves once the socket and everything it carried are closed (at once if it never opened). */
  readonly closed: Promise<void>;
}

/** A client address as affinity knows it: IPv4-mapped IPv6 (dual-stack sockets) back to IPv4. */
export function clientIP(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
