/**
 * One UDP socket of a service port. A datagram from a client ip:port without a
 * flow starts one (udp-flow.ts) to the endpoint the balancer picks; answers go
 * back from this socket, so the client sees the address it sent to. A flow
 * whose endpoint left the service is replaced on its next datagram.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ListenSpec } from './listen-plan.js';
import { clientIP, type ForwardSettings, type Listener } from './listener.js';
import type { Route } from './route.js';
import { UdpFlow } from './udp-flow.js';

export class UdpListener implements Listener {
  readonly closed: Promise<void>;
  private socket: dgram.Socket | undefined;
  private readonly flows = new Map<string, UdpFlow>();
  private markClosed!: () => void;

  constructor(
    readonly spec: ListenSpec,
    readonly route: Route,
    private readonly settings: ForwardSettings,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  open(): Promise<void> {
    const socket = dgram.createSocket(isIPv6(this.spec.address) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => {
        // A failed bind still holds a handle: reject once it is gone.
        socket.close(() => {
          this.markClosed();
          reject(err);
        });
      });
      socket.bind({ address: this.spec.address, port: this.spec.port }, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.settings.log(`proxy ${this.route.key}: listener ${this.spec.key}: ${err.message}`));
        socket.on('message', (message, from) => this.receive(message, from));
        socket.once('close', () => this.markClosed());
        this.socket = socket;
        resolve();
      });
    });
  }

  /** UDP has no connections to let finish: the flows end with the socket. */
  close(): void {
    for (const flow of this.flows.values()) flow.close();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) socket.close();
    else this.markClosed();
  }

  destroy(): void {
    this.close();
  }

  private receive(message: Buffer, from: dgram.RemoteInfo): void {
    const id = `${from.address}|${from.port}`;
    let flow = this.flows.get(id);
    if (flow && !this.route.balancer.hasKey(flow.endpointKey)) {
      flow.close();
      flow = undefined;
    }
    flow ??= this.startFlow(id, from);
    flow?.send(message);
  }

  private startFlow(id: string, from: dgram.RemoteInfo): UdpFlow | undefined {
    const route = this.route;
    const ip = clientIP(from.address);
    route.counters.accepted++;
    const endpoint = route.balancer.pick(ip);
    if (!endpoint) {
      route.counters.failed++;
      return undefined;
    }
    route.counters.activeFlows++;
    const flow = new UdpFlow({
      endpoint,
      idleMs: this.settings.udpIdleTimeoutMs,
      log: (m) => this.settings.log(`proxy ${route.key}: ${m}`),
      reply: (answer) => this.reply(answer, from),
      onClose: (closed, lastActive) => {
        route.counters.activeFlows--;
        route.balancer.touch(ip, endpoint, lastActive);
        if (this.flows.get(id) === closed) this.flows.delete(id);
      },
    });
    this.flows.set(id, flow);
    return flow;
  }

  private reply(answer: Buffer, to: dgram.RemoteInfo): void {
    this.socket?.send(answer, to.port, to.address, (err) => {
      if (err) this.settings.log(`proxy ${this.route.key}: answer to ${to.address}:${to.port}: ${err.message}`);
    });
  }
}
