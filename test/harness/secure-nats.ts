/**
 * A secured nats-server for tests, as `keelson up` runs it: a cluster CA in a
 * temporary folder, TLS for clients (and routes, as a cluster), one nkey user
 * per name given with its permissions (lib/nats-auth). Stopped, and its folder
 * removed, when the test ends — pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ELECTIONS_BUCKET } from '../../services/lib/leader-election/index.js';
import { securedNats, type SecuredNats } from '../../services/lib/nats-auth/index.js';
import type { NatsConnection, NatsTarget } from '../../services/lib/nats/index.js';
import { ClusterPki } from '../../services/lib/pki/index.js';
import { DEFAULT_BUCKET } from '../../services/lib/store/index.js';
import { startNatsIn } from './nats.js';

export type SecureTestNats = {
  urls: string[];
  secured: SecuredNats;
  /** How `user` reaches the servers. */
  target(user: string): NatsTarget;
  /** A connection as `user`, closed at the end. */
  connect(user: string): Promise<NatsConnection>;
  stop(): Promise<void>;
};

export async function startSecureTestNats(
  t: { after(fn: () => Promise<void> | void): void },
  users: string[],
  topology: 'single' | 'cluster' = 'single',
): Promise<SecureTestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-secure-nats-'));
  const secured = securedNats(new ClusterPki(join(dir, 'pki')), join(dir, 'credentials'), {
    users,
    hosts: ['127.0.0.1', 'localhost'],
    buckets: { store: DEFAULT_BUCKET, elections: ELECTIONS_BUCKET },
  });
  const servers = await startNatsIn(t, join(dir, 'nats'), topology, { tls: secured.tls, extraConfig: secured.authorization() }).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = (user: string) => secured.target(user, servers.urls);
  return {
    urls: servers.urls,
    secured,
    target,
    connect: (user) => servers.connect(target(user), `test-${user}`),
    stop: servers.stop,
  };
}
