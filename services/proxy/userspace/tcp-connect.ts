/**
 * Opens the upstream side of a proxied TCP connection: endpoints in balancer
 * order, each at most once and at most `maxConnectTries` of them, each attempt
 * cut off after `connectTimeoutMs`. A refused or timed-out attempt moves on to
 * the next endpoint; an abort (the client went away) stops at once.
 */
import net from 'node:net';
import { endpointKey } from './balancer.js';
import type { ForwardSettings } from './listener.js';
import type { Route } from './route.js';
import type { Endpoint } from '../types.js';

export type Connected = { socket: net.Socket; endpoint: Endpoint };

/**
 * The first endpoint of `route` that accepts, or undefined when none did (or
 * the signal aborted). `track` is given every socket created, before it connects.
 */
export async function connectUpstream(
  route: Route,
  client: string,
  settings: ForwardSettings,
  signal: AbortSignal,
  track: (socket: net.Socket) => void,
): Promise<Connected | undefined> {
  const tried = new Set<string>();
  while (tried.size < settings.maxConnectTries && !signal.aborted) {
    const endpoint = route.balancer.pick(client, tried);
    if (!endpoint) return undefined;
    const key = endpointKey(endpoint);
    tried.add(key);
    const result = await connectOnce(endpoint, settings.connectTimeoutMs, signal, track);
    if ('socket' in result) return { socket: result.socket, endpoint };
    if (signal.aborted) return undefined;
    settings.log(`proxy ${route.key}: connect to ${key} failed (${result.reason}); trying the next endpoint`);
  }
  return undefined;
}

type Attempt = { socket: net.Socket } | { reason: string };

function connectOnce(endpoint: Endpoint, timeoutMs: number, signal: AbortSignal, track: (socket: net.Socket) => void): Promise<Attempt> {
  return new Promise((resolve) => {
    // allowHalfOpen: a client that shuts down its side still gets the whole answer.
    const socket = net.connect({ host: endpoint.ip, port: endpoint.port, allowHalfOpen: true });
    track(socket);
    let reason = 'closed';
    const timer = setTimeout(() => {
      reason = `no answer in ${timeoutMs} ms`;
      socket.destroy();
    }, timeoutMs);
    const onAbort = () => {
      reason = 'aborted';
      socket.destroy();
    };
    const settle = (attempt: Attempt) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('close', onClose);
      resolve(attempt);
    };
    const onConnect = () => settle({ socket });
    const onClose = () => settle({ reason });
    socket.on('error', (err: NodeJS.ErrnoException) => (reason = err.code ?? err.message));
    socket.once('connect', onConnect);
    socket.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
