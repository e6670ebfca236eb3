/**
 * Connecting to NATS the way every Keelson component does: all server URLs of
 * the cluster, reconnect forever, a name that shows up in server monitoring,
 * and — where the cluster is secured — the component's own NATS user (an nkey,
 * lib/nats-auth; its replies come on its own inbox prefix) over TLS verified
 * against the cluster CA.
 */
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection, type Server } from '@nats-io/nats-core';
import { inboxPrefixFor, readNatsCredential, type NatsCredential } from '../nats-auth/index.js';

export type { NatsConnection } from '@nats-io/nats-core';

/** Where and as whom to connect. */
export type NatsTarget = {
  servers: string[];
  /** The component's NATS user; none on a cluster without NATS authorization. */
  credential?: NatsCredential;
  /** PEM of the CA the servers' certificates are checked against (TLS); none: plain. */
  ca?: string;
};

/** Servers alone (`nats://a:4222,nats://b:4222` or a list), or a whole target. */
export type NatsAddress = string | string[] | NatsTarget;

/** `nats://a:4222,nats://b:4222` or a list, from a flag or `KEELSON_NATS`. */
export function natsServers(value?: string | string[]): string[] {
  const raw = value ?? process.env.KEELSON_NATS ?? 'nats://127.0.0.1:4222';
  const list = Array.isArray(raw) ? raw : raw.split(',');
  return list.map((s) => s.trim()).filter(Boolean);
}

/**
 * The target: `address` as given, servers from `KEELSON_NATS` when it names
 * none; a credentials file and a CA file from `KEELSON_NATS_CREDENTIALS` and
 * `KEELSON_NATS_CA` (or the flags that set them) when the address has none.
 */
export function natsTarget(address?: NatsAddress, files: { credentials?: string; ca?: string } = {}): NatsTarget {
  const target = typeof address === 'object' && !Array.isArray(address) ? address : { servers: natsServers(address) };
  const credentials = files.credentials ?? process.env.KEELSON_NATS_CREDENTIALS;
  const ca = files.ca ?? process.env.KEELSON_NATS_CA;
  return {
    ...target,
    servers: natsServers(target.servers),
    ...(!target.credential && credentials ? { credential: readNatsCredential(credentials) } : {}),
    ...(!target.ca && ca ? { ca: readFileSync(ca, 'utf8') } : {}),
  };
}

/** The NATS user a connection made here logged in as (undefined: none). */
const users = new WeakMap<NatsConnection, string>();
export const natsUserOf = (nc: NatsConnection): string | undefined => users.get(nc);

export type ConnectOptions = {
  /** Keep trying when no server answers yet (services); clients fail fast instead. */
  waitForServer?: boolean;
  timeoutMs?: number;
};

export async function connectNats(address: NatsAddress, name: string, opts: ConnectOptions = {}): Promise<NatsConnection> {
  const target = natsTarget(address);
  const list = target.servers;
  const user = target.credential?.user;
  const steer: Steer = {};
  const nc = await connect({
    servers: list,
    reconnectToServer: (pool) => awayFrom(steer, pool),
    name,
    ...(target.credential
      ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(target.credential.seed)), inboxPrefix: inboxPrefixFor(target.credential.user) }
      : {}),
    ...(target.ca ? { tls: { ca: target.ca } } : {}),
    // Given the cluster's servers, use only those: the addresses servers gossip
    // (e.g. container IPs) stay in the pool after their server is gone, and a
    // reconnect that tries one waits out the connect timeout, while a name that
    // no longer resolves fails at once. Given one seed, learn the rest.
    ignoreClusterUpdates: list.length > 1,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: opts.waitForServer ?? true,
    // Also the bound of each reconnect attempt: a server that is going away (stopped, but its
    // name still resolving, or mid-shutdown during a TLS handshake) is given up on in 3 s, so
    // a client whose server stopped is on another one in seconds, not after 5 s per dead server.
    timeout: opts.timeoutMs ?? 3_000,
    // A server cut off the network sends no reset: the client notices by its
    // unanswered pings, so 2 s × 2 moves it to another server within ~6 s.
    pingInterval: 2_000,
    // Async stack traces on every request cost ~10% of the API server's CPU;
    // the errors stay readable without them.
    noAsyncTraces: true,
    maxPingOut: 2,
  });
  if (user !== undefined) users.set(nc, user);
  steering.set(nc, steer);
  return nc;
}

/** A server a forced reconnect should not dial first (its `host:port`), once. */
type Steer = { avoid?: string };
const steering = new WeakMap<NatsConnection, Steer>();

/** The dial after `reconnectElsewhere`: the first server of the pool that is not the one left; else the client's own pick. */
function awayFrom(steer: Steer, pool: readonly Server[]): Server | null {
  const avoid = steer.avoid;
  steer.avoid = undefined;
  return (avoid !== undefined && pool.find((s) => s.listen !== avoid)) || null;
}

/**
 * Drops the connection and dials another server of its list (the same one when
 * it has no other). nats.js alone would dial the server it just left first.
 */
export async function reconnectElsewhere(nc: NatsConnection): Promise<void> {
  const steer = steering.get(nc);
  if (steer) steer.avoid = nc.getServer();
  await nc.reconnect();
}

/** Turns a connection's losses and recoveries into the events the components' lifecycle machines take. */
export async function onNatsStatus(nc: NatsConnection, send: (type: 'NATS_DISCONNECTED' | 'NATS_RECONNECTED') => void): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect') send('NATS_DISCONNECTED');
    if (s.type === 'reconnect') send('NATS_RECONNECTED');
  }
}
