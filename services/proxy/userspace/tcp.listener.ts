/**
 * One TCP listening socket of a service port: each accepted connection gets an
 * upstream connection to an endpoint (tcp-connect.ts) and the two are spliced
 * (tcp-splice.ts). When no endpoint takes it, the client connection is reset.
 * Every socket it creates is tracked until closed, so destroy() leaves none.
 */
import net from 'node:net';
import type { ListenSpec } from './listen-plan.js';
import { clientIP, type ForwardSettings, type Listener } from './listener.js';
import type { Route } from './route.js';
import { connectUpstream } from './tcp-connect.js';
import { splice } from './tcp-splice.js';

export class TcpListener implements Listener {
  readonly closed: Promise<void>;
  private server: net.Server | undefined;
  private serverClosed = true;
  private readonly sockets = new Set<net.Socket>();
  private markClosed!: () => void;

  constructor(
    readonly spec: ListenSpec,
    readonly route: Route,
    private readonly settings: ForwardSettings,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  open(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.checkClosed();
        reject(err);
      });
      server.listen({ host: this.spec.address, port: this.spec.port }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.settings.log(`proxy ${this.route.key}: listener ${this.spec.key}: ${err.message}`));
        server.once('close', () => {
          this.serverClosed = true;
          this.checkClosed();
        });
        this.server = server;
        this.serverClosed = false;
        resolve();
      });
    });
  }

  close(): void {
    if (this.server) this.server.close();
    else this.checkClosed();
  }

  destroy(): void {
    this.close();
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(client: net.Socket): void {
    const route = this.route;
    const ip = clientIP(client.remoteAddress);
    route.counters.accepted++;
    route.counters.activeConnections++;
    this.track(client);
    client.on('error', () => {}); // the 'close' that follows is what matters
    const aborted = new AbortController();
    // Aborting makes a DOMException with its stack: only worth it while the connect is pending
    // (it was ~7 % of the proxy's CPU on short connections when done at every close).
    let connecting = true;
    client.once('close', () => {
      route.counters.activeConnections--;
      if (connecting) aborted.abort();
    });
    connectUpstream(route, ip, this.settings, aborted.signal, (s) => this.track(s)).then(
      (up) => {
        connecting = false;
        if (!up) {
          if (aborted.signal.aborted) return; // the client left first: not the endpoints' fault
          route.counters.failed++;
          if (!client.destroyed) client.resetAndDestroy();
          return;
        }
        if (client.destroyed) {
          up.socket.destroy();
          return;
        }
        client.once('close', () => route.balancer.touch(ip, up.endpoint));
        splice(client, up.socket);
      },
      (err) => {
        connecting = false;
        this.settings.log(`proxy ${route.key}: connection from ${ip} failed unexpectedly: ${String(err)}`);
        client.destroy();
      },
    );
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.checkClosed();
    });
  }

  private checkClosed(): void {
    if (this.serverClosed && this.sockets.size === 0) this.markClosed();
  }
}
