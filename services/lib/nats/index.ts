/**
 * Connecting to NATS the way every Keelson component does: all server URLs of
 * the cluster, reconnect forever, and a name that shows up in server monitoring.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';

export type { NatsConnection } from '@nats-io/nats-core';

/** `nats://a:4222,nats://b:4222` or a list, from a flag or `KEELSON_NATS`. */
export function natsServers(value?: string | string[]): string[] {
  const raw = value ?? process.env.KEELSON_NATS ?? 'nats://127.0.0.1:4222';
  const list = Array.isArray(raw) ? raw : raw.split(',');
  return list.map((s) => s.trim()).filter(Boolean);
}

export type ConnectOptions = {
  /** Keep trying when no server answers yet (services); clients fail fast instead. */
  waitForServer?: boolean;
  timeoutMs?: number;
};

export async function connectNats(
  servers: string | string[],
  name: string,
  opts: ConnectOptions = {},
): Promise<NatsConnection> {
  const list = natsServers(servers);
  return connect({
    servers: list,
    name,
    // Given the cluster's servers, use only those: the addresses servers gossip
    // (e.g. container IPs) stay in the pool after their server is gone, and a
    // reconnect that tries one waits out the connect timeout, while a name that
    // no longer resolves fails at once. Given one seed, learn the rest.
    ignoreClusterUpdates: list.length > 1,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: opts.waitForServer ?? true,
    timeout: opts.timeoutMs ?? 5_000,
    // A server cut off the network sends no reset: the client notices by its
    // unanswered pings, so 2 s × 2 moves it to another server within ~6 s.
    pingInterval: 2_000,
    // Async stack traces on every request cost ~10% of the API server's CPU;
    // the errors stay readable without them.
    noAsyncTraces: true,
    maxPingOut: 2,
  });
}

/** Turns a connection's losses and recoveries into the events the components' lifecycle machines take. */
export async function onNatsStatus(nc: NatsConnection, send: (type: 'NATS_DISCONNECTED' | 'NATS_RECONNECTED') => void): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect') send('NATS_DISCONNECTED');
    if (s.type === 'reconnect') send('NATS_RECONNECTED');
  }
}
