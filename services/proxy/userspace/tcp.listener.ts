/**
 * One TCP listening socket of a service port: each accepted connection becomes
 * a TcpConnection (tcp-connection.ts), which finds it an endpoint and splices
 * the two. A net.Server binds and closes the socket; what it accepts comes as
 * bare handles (tcp-stream.ts adoptAccepts), never as net.Sockets. Every
 * connection is tracked until its sockets have closed (open-list.ts), so
 * destroy() leaves none.
 */
import net from 'node:net';
import type { ListenSpec } from './listen-plan.js';
import type { ForwardSettings, Listener } from './listener.js';
import { OpenList } from './open-list.js';
import type { Route } from './route.js';
import { TcpConnection, type ConnectionContext } from './tcp-connection.js';
import { adoptAccepts, type AcceptedHandle } from './tcp-stream.js';

export class TcpListener implements Listener {
  readonly closed: Promise<void>;
  private server: net.Server | undefined;
  private serverClosed = true;
  private readonly connections = new OpenList<TcpConnection>();
  private markClosed!: () => void;
  /** What every connection of this listener shares: one object, not one per connection. */
  private readonly context: ConnectionContext;

  constructor(
    readonly spec: ListenSpec,
    readonly route: Route,
    private readonly settings: ForwardSettings,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.context = {
      route,
      settings,
      opened: (connection) => this.connections.add(connection),
      closed: (connection) => {
        this.connections.delete(connection);
        this.checkClosed();
      },
    };
  }

  open(): Promise<void> {
    const server = net.createServer();
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.checkClosed();
        reject(err);
      });
      server.listen({ host: this.spec.address, port: this.spec.port }, () => {
        server.removeAllListeners('error');
        this.adopt(server);
        resolve();
      });
    });
  }

  /**
   * Takes a socket that already listens: one this listener just bound, or, in
   * a forwarder process, a copy of the backend's (forwarders/).
   */
  adopt(server: net.Server): void {
    const log = (message: string) => this.settings.log(`proxy ${this.route.key}: listener ${this.spec.key}: ${message}`);
    adoptAccepts(server, (client) => this.accept(client), log);
    server.on('error', (err) => log(err.message));
    server.once('close', () => {
      this.serverClosed = true;
      this.checkClosed();
    });
    this.server = server;
    this.serverClosed = false;
  }

  /** The listening socket while open, for forwarders to accept on as well. */
  get listening(): net.Server | undefined {
    return this.serverClosed ? undefined : this.server;
  }

  close(): void {
    if (this.server) this.server.close();
    else this.checkClosed();
  }

  destroy(): void {
    this.close();
    for (const connection of this.connections.toArray()) connection.destroy();
  }

  private accept(client: AcceptedHandle): void {
    new TcpConnection(client, this.context);
  }

  private checkClosed(): void {
    if (this.serverClosed && this.connections.size === 0) this.markClosed();
  }
}
