/**
 * A forwarder process (forked by pool.ts): accepts TCP connections on the
 * listening sockets the backend shares with it and forwards them exactly as
 * the backend does (TcpListener, TcpConnection), round robin over each service
 * port's endpoints as the backend last sent them. It holds no state of its own
 * beyond that: killed, it is started again and sent everything anew.
 *
 *   node forwarder.main.js '<json ForwarderConfig>'
 */
import type net from 'node:net';
import type { ListenSpec } from '../listen-plan.js';
import type { ForwardSettings } from '../listener.js';
import { Route } from '../route.js';
import { TcpListener } from '../tcp.listener.js';
import type { CounterRow, ForwarderConfig, FromForwarder, ToForwarder } from './protocol.js';

const config = JSON.parse(process.argv[2] ?? '') as ForwarderConfig;
// After a disconnect a send would throw: there is no one left to tell.
const send = (message: FromForwarder) => void (process.connected && process.send?.(message));
const settings: ForwardSettings = {
  connectTimeoutMs: config.connectTimeoutMs,
  maxConnectTries: config.maxConnectTries,
  udpIdleTimeoutMs: 1, // no UDP here
  log: (message) => send({ t: 'log', message: `${message} (forwarder ${process.pid})` }),
};
const routes = new Map<string, Route>();
const listeners = new Map<string, TcpListener>();
/** The counters last reported, per service port, to send only what changed. */
const reported = new Map<string, string>();

function receive(message: ToForwarder, handle: unknown): void {
  switch (message.t) {
    case 'routes':
      for (const port of message.upsert) {
        const route = routes.get(port.key);
        if (route) route.update(port);
        else routes.set(port.key, new Route(port));
      }
      for (const key of message.remove) routes.delete(key);
      return;
    case 'listen':
      return listen(message.spec, handle as net.Server | undefined);
    case 'unlisten':
      listeners.get(message.key)?.close();
      listeners.delete(message.key);
      return void send({ t: 'unlistened', id: message.id });
    case 'stop':
      return stop();
  }
}

function listen(spec: ListenSpec, server: net.Server | undefined): void {
  // Node sends a queued handle message without its handle when the socket closed in the meantime.
  if (!server) return;
  const route = routes.get(spec.serviceKey);
  if (!route) {
    server.close();
    return settings.log(`proxy ${spec.serviceKey}: asked to accept on ${spec.key} without its service port; not accepting there`);
  }
  listeners.get(spec.key)?.close();
  const listener = new TcpListener(spec, route, settings);
  listener.adopt(server);
  listeners.set(spec.key, listener);
}

function report(): void {
  const rows: CounterRow[] = [];
  for (const [key, route] of routes) {
    const c = route.counters;
    const line = `${c.accepted} ${c.failed} ${c.activeConnections}`;
    if (reported.get(key) === line) continue;
    reported.set(key, line);
    rows.push([key, c.accepted, c.failed, c.activeConnections]);
  }
  for (const key of reported.keys()) if (!routes.has(key)) reported.delete(key);
  if (rows.length > 0) send({ t: 'counters', rows });
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const all = [...listeners.values()];
  for (const listener of all) listener.destroy();
  void Promise.all(all.map((l) => l.closed)).then(() => process.exit(0));
}

process.on('message', receive);
// The backend's process is gone (its IPC channel closed): nothing is left to forward for.
process.on('disconnect', stop);
setInterval(report, config.reportEveryMs).unref();
send({ t: 'ready' });
