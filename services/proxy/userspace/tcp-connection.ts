/**
 * One proxied TCP connection, from accept to its last socket's close. It opens
 * the upstream side: endpoints in balancer order, each at most once and at
 * most `maxConnectTries` of them, each attempt cut off after
 * `connectTimeoutMs`; a refused or timed-out attempt moves on to the next
 * endpoint. When no endpoint takes the connection, the client is reset; when
 * the client leaves first, the attempt in progress is dropped and nobody is
 * blamed. What the client sends meanwhile is held and sent once connected.
 *
 * Then it splices the two: what one side reads is written to the other, with
 * reading paused while that write is queued (backpressure); a FIN read is
 * passed on as a FIN, so either side may half-close; a side that fails (a
 * reset, mostly) resets the other. A socket is closed once it has read its
 * peer's FIN and sent its own; the last FIN of a connection is sent by closing
 * its socket, which saves a shutdown request.
 *
 * This runs for every connection: one object, two TcpStreams (tcp-stream.ts)
 * that call it back, and nothing else allocated unless a connect fails.
 */
import { endpointKey } from './balancer.js';
import { clientIP, type ForwardSettings } from './listener.js';
import type { OpenListLinks } from './open-list.js';
import type { Route } from './route.js';
import { TcpStream, type AcceptedHandle, type StreamOwner } from './tcp-stream.js';
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

/** Bytes held for a client while its upstream side connects, before reading it pauses. */
const EARLY_BYTES = 64 * 1024;

export class TcpConnection implements OpenListLinks<TcpConnection>, StreamOwner {
  prevOpen: TcpConnection | undefined;
  nextOpen: TcpConnection | undefined;
  private readonly client: TcpStream;
  /** The attempt in progress, then the connected upstream socket. */
  private upstream: TcpStream | undefined;
  private endpoint: Endpoint | undefined;
  private connected = false;
  private tries = 0;
  /** Keys of the endpoints that failed for this connection; made at the first failure. */
  private tried: Set<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** What the client sent before the upstream side connected, and its size in bytes. */
  private early: Buffer[] | undefined;
  private earlyBytes = 0;
  /** The client's IP as affinity knows it: read (a getpeername call) only when affinity is on. */
  private ip: string | undefined;
  /** Its sockets not closed yet: the client and every upstream attempt not closed yet. */
  private sockets = 1;

  /** Takes over `client`, just accepted, and starts connecting it. */
  constructor(client: AcceptedHandle, private readonly context: ConnectionContext) {
    this.client = TcpStream.accepted(client, this);
    context.route.counters.accepted++;
    context.route.counters.activeConnections++;
    context.opened(this);
    this.client.resume(); // to hear a client that resets while we connect
    this.connectNext();
  }

  /** Cuts the connection: both sockets are closed, and closed() follows. */
  destroy(): void {
    this.client.close();
    this.upstream?.close();
  }

  // ---- connecting ----

  private connectNext(): void {
    const { route, settings } = this.context;
    const balancer = route.balancer;
    const endpoint = this.tries < settings.maxConnectTries ? balancer.pick(balancer.hasAffinity ? this.clientIP() : '', this.tried) : undefined;
    if (!endpoint) return this.fail();
    this.tries++;
    this.endpoint = endpoint;
    this.upstream = TcpStream.connectTo(endpoint.ip, endpoint.port, this);
    this.sockets++;
    this.timer = setTimeout(() => this.attemptFailed(`no answer in ${settings.connectTimeoutMs} ms`), settings.connectTimeoutMs);
  }

  streamConnected(upstream: TcpStream, error: string | undefined): void {
    if (error !== undefined) return this.attemptFailed(error);
    clearTimeout(this.timer);
    this.connected = true;
    const early = this.early;
    this.early = undefined;
    if (early) for (const chunk of early) this.forward(this.client, upstream, chunk);
    if (this.client.ended) this.passEnd(upstream);
    else if (!upstream.writing) this.client.resume(); // paused if it sent much early
    upstream.resume();
  }

  /** The attempt in progress failed (refused, unreachable, no answer): the next endpoint, if any. */
  private attemptFailed(why: string): void {
    clearTimeout(this.timer);
    this.upstream!.close();
    if (this.client.closing) return; // the client left first: not the endpoint's fault
    const key = endpointKey(this.endpoint!);
    (this.tried ??= new Set()).add(key);
    this.context.settings.log(`proxy ${this.context.route.key}: connect to ${key} failed (${why}); trying the next endpoint`);
    this.connectNext();
  }

  /** No endpoint took the connection (none ready, or every try failed). */
  private fail(): void {
    this.upstream = undefined;
    this.context.route.counters.failed++;
    this.client.reset();
  }

  // ---- splicing ----

  streamData(from: TcpStream, chunk: Buffer): void {
    if (this.connected) return this.forward(from, this.other(from), chunk);
    // Only the client reads before the upstream side connects; it is paused (as a
    // net.Socket's buffer would fill) once it has sent EARLY_BYTES.
    (this.early ??= []).push(chunk);
    if ((this.earlyBytes += chunk.length) >= EARLY_BYTES) from.pause();
  }

  private forward(from: TcpStream, to: TcpStream, chunk: Buffer): void {
    if (!to.write(chunk)) from.pause();
  }

  streamDrained(to: TcpStream): void {
    this.other(to).resume();
  }

  streamEnded(from: TcpStream): void {
    if (!this.connected) return; // the client's FIN: passed on once connected
    this.passEnd(this.other(from));
    if (from.finished) from.close();
  }

  /** The other side's peer has sent its FIN: sends one to `to`'s peer. */
  private passEnd(to: TcpStream): void {
    // When `to`'s peer has sent its FIN too and nothing waits to be written, this is
    // the connection's last FIN: closing sends it just as well.
    if (to.ended && !to.writing) to.close();
    else to.end();
  }

  streamFinished(stream: TcpStream): void {
    if (stream.ended) stream.close();
  }

  /** A side is broken (a reset): the other is reset too, or, when still connecting, dropped. */
  streamFailed(stream: TcpStream, _error: string): void {
    const other = stream === this.client ? this.upstream : this.client;
    stream.close();
    if (!other) return;
    if (this.connected) other.reset();
    else other.close();
  }

  streamClosed(stream: TcpStream): void {
    if (stream === this.client) this.clientClosed();
    if (--this.sockets === 0) this.context.closed(this);
  }

  private clientClosed(): void {
    const { route } = this.context;
    route.counters.activeConnections--;
    const upstream = this.upstream;
    if (!upstream) return;
    if (!this.connected) {
      clearTimeout(this.timer);
      return upstream.close(); // drop the attempt in progress
    }
    // Affinity counts idleness from the last use; a client whose IP was never read has no entry to renew.
    if (this.ip !== undefined) route.balancer.touch(this.ip, this.endpoint!);
  }

  private other(stream: TcpStream): TcpStream {
    return stream === this.client ? this.upstream! : this.client;
  }

  private clientIP(): string {
    return (this.ip ??= clientIP(this.client.peerAddress()));
  }
}
