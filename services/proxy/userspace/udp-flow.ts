/**
 * One UDP client (ip:port) of a service port: its own socket connected to the
 * chosen endpoint, datagrams carried both ways, closed after `idleMs` without
 * traffic. The idle check is one timer per flow, re-armed only when it fires
 * (never per datagram), and always cleared on close.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { endpointKey } from './balancer.js';
import type { Endpoint } from '../types.js';

/** Datagrams held while the upstream socket is still connecting; more are dropped, as UDP may. */
const MAX_QUEUED = 64;

export type UdpFlowOptions = {
  endpoint: Endpoint;
  idleMs: number;
  /** Sends an endpoint's answer back to the client. */
  reply: (message: Buffer) => void;
  /** Called once, when the flow has closed; `lastActive` is when traffic last passed. */
  onClose: (flow: UdpFlow, lastActive: number) => void;
  log: (message: string) => void;
};

export class UdpFlow {
  readonly endpoint: Endpoint;
  /** Its balancer key, made once: every datagram checks the endpoint is still a choice. */
  readonly endpointKey: string;
  private readonly upstream: dgram.Socket;
  private queue: Buffer[] | undefined = [];
  private lastActive = Date.now();
  private timer: NodeJS.Timeout;
  private isClosed = false;

  constructor(private readonly options: UdpFlowOptions) {
    this.endpoint = options.endpoint;
    this.endpointKey = endpointKey(options.endpoint);
    this.upstream = dgram.createSocket(isIPv6(options.endpoint.ip) ? 'udp6' : 'udp4');
    this.upstream.on('message', (message) => {
      this.lastActive = Date.now();
      options.reply(message);
    });
    // An error (e.g. ECONNREFUSED from an ICMP port unreachable) ends the flow; the next datagram starts another.
    this.upstream.on('error', (err) => this.fail(err));
    this.upstream.connect(options.endpoint.port, options.endpoint.ip, (err?: Error) => (err ? this.fail(err) : this.flush()));
    this.timer = setTimeout(() => this.checkIdle(), options.idleMs);
  }

  /** Passes a client datagram on to the endpoint. */
  send(message: Buffer): void {
    if (this.isClosed) return;
    this.lastActive = Date.now();
    if (this.queue) {
      if (this.queue.length < MAX_QUEUED) this.queue.push(message);
      return;
    }
    this.upstream.send(message, (err) => err && this.fail(err));
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.timer);
    this.queue = undefined;
    try {
      this.upstream.close();
    } catch {
      // already closed by an error
    }
    this.options.onClose(this, this.lastActive);
  }

  private fail(err: Error): void {
    this.options.log(`udp flow to ${this.endpoint.ip}:${this.endpoint.port}: ${err.message}`);
    this.close();
  }

  private flush(): void {
    const queued = this.queue ?? [];
    this.queue = undefined;
    for (const message of queued) this.send(message);
  }

  private checkIdle(): void {
    const idle = Date.now() - this.lastActive;
    if (idle >= this.options.idleMs) this.close();
    else this.timer = setTimeout(() => this.checkIdle(), this.options.idleMs - idle);
  }
}
