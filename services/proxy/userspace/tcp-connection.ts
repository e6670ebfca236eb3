/**
 * One proxied TCP connection, from accept to its last socket's close. It opens
 * the upstream side: endpoints in balancer order, each at most once and at
 * most `maxConnectTries` of them, each attempt cut off after
 * `connectTimeoutMs`; a refused or timed-out attempt moves on to the next
 * endpoint. Then it splices the two (tcp-splice.ts). When no endpoint takes
 * the connection, the client is reset; when the client leaves first, the
 * attempt in progress is dropped and nobody is blamed.
 *
 * This runs for every connection, so it is one object with one 'close'
 * listener per socket, and no promise, AbortSignal or Set per connection
 * (with tcp-splice.ts's own savings: 233 → 184 µs of the proxy's CPU per
 * short connection, `npm run bench -- proxy --phase data`).
 */
import net from 'node:net';
import { endpointKey } from './balancer.js';
import { clientIP, type ForwardSettings } from './listener.js';
import type { Route } from './route.js';
import type { OpenListLinks } from './open-list.js';
import { cutIfBroken, splice } from './tcp-splice.js';
import type { Endpoint } from '../types.js';

/** What a connection needs from the listener that accepted it. */
export type ConnectionContext = {
  readonly route: Route;
  readonly settings: ForwardSettings;
  /** The connection, as it starts. */
  opened(connection: TcpConnection): void;
  /** The connection, once, when every socket it opened has closed. */
  closed(connection: TcpConnection): void;
};

export class TcpConnection implements OpenListLinks<TcpConnection> {
  prevOpen: TcpConnection | undefined;
  nextOpen: TcpConnection | undefined;
  /** The attempt in progress, then the connected upstream socket. */
  private upstream: net.Socket | undefined;
  private endpoint: Endpoint | undefined;
  private connected = false;
  private tries = 0;
  /** Keys of the endpoints that failed for this connection; made at the first failure. */
  private tried: Set<string> | undefined;
  private failure = '';
  private timer: NodeJS.Timeout | undefined;
  /** The client's IP as affinity knows it: read (a getpeername call) only when affinity is on. */
  private ip: string | undefined;
  /** Its sockets not closed yet: the client and the upstream attempt in progress, if any. */
  private sockets = 1;

  /** Takes over `client`, just accepted, and starts connecting it. */
  constructor(
    private readonly client: net.Socket,
    private readonly context: ConnectionContext,
  ) {
    context.route.counters.accepted++;
    context.route.counters.activeConnections++;
    context.opened(this);
    client.on('error', ignore); // the 'close' that follows is what matters
    client.on('close', () => this.clientClosed());
    this.connectNext();
  }

  private connectNext(): void {
    const { route, settings } = this.context;
    const balancer = route.balancer;
    const endpoint = this.tries < settings.maxConnectTries ? balancer.pick(balancer.hasAffinity ? this.clientIP() : '', this.tried) : undefined;
    if (!endpoint) return this.fail();
    this.tries++;
    this.endpoint = endpoint;
    this.failure = 'closed';
    let socket: net.Socket;
    try {
      // allowHalfOpen: a client that shuts down its side still gets the whole answer.
      socket = net.connect({ host: endpoint.ip, port: endpoint.port, allowHalfOpen: true });
    } catch (err) {
      settings.log(`proxy ${route.key}: connection from ${this.clientIP()} failed unexpectedly: ${String(err)}`);
      return void this.client.destroy();
    }
    this.upstream = socket;
    this.sockets++;
    socket.on('error', (err: NodeJS.ErrnoException) => (this.failure = err.code ?? err.message));
    socket.on('connect', () => this.upstreamConnected(socket));
    socket.on('close', () => this.upstreamClosed(socket));
    this.timer = setTimeout(() => this.timedOut(socket), settings.connectTimeoutMs);
  }

  private timedOut(socket: net.Socket): void {
    this.failure = `no answer in ${this.context.settings.connectTimeoutMs} ms`;
    socket.destroy();
  }

  private upstreamConnected(socket: net.Socket): void {
    clearTimeout(this.timer);
    this.connected = true;
    if (this.client.destroyed) return void socket.destroy();
    splice(this.client, socket);
  }

  private upstreamClosed(socket: net.Socket): void {
    this.socketClosed();
    if (this.connected) return cutIfBroken(socket, this.client);
    clearTimeout(this.timer);
    if (this.client.destroyed) return; // the client left first: not the endpoint's fault
    const key = endpointKey(this.endpoint!);
    (this.tried ??= new Set()).add(key);
    this.context.settings.log(`proxy ${this.context.route.key}: connect to ${key} failed (${this.failure}); trying the next endpoint`);
    this.connectNext();
  }

  private clientClosed(): void {
    const { route } = this.context;
    route.counters.activeConnections--;
    this.socketClosed();
    const upstream = this.upstream;
    if (!upstream) return;
    if (!this.connected) return void upstream.destroy(); // drop the attempt in progress
    // Affinity counts idleness from the last use; a client whose IP was never read has no entry to renew.
    if (this.ip !== undefined) route.balancer.touch(this.ip, this.endpoint!);
    cutIfBroken(this.client, upstream);
  }

  /** Cuts the connection: both sockets are destroyed, and closed() follows. */
  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private socketClosed(): void {
    if (--this.sockets === 0) this.context.closed(this);
  }

  /** No endpoint took the connection (none ready, or every try failed). */
  private fail(): void {
    this.upstream = undefined;
    this.context.route.counters.failed++;
    if (!this.client.destroyed) this.client.resetAndDestroy();
  }

  private clientIP(): string {
    return (this.ip ??= clientIP(this.client.remoteAddress));
  }
}

function ignore(): void {}
