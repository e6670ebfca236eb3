/**
 * What a secured NATS needs, made once and kept: the servers' certificate
 * (client and route TLS, from the cluster CA) and one credentials file per
 * user in `dir` (`<user>.json`, owner-only), from which the servers'
 * authorization block is written. Run again, the same files are used (those
 * of users added later, such as joined nodes, too); users new to the list get
 * credentials of their own.
 *
 *   const nats = securedNats(pki, join(dataDir, 'pki', 'nats'), { users, hosts, buckets });
 *   startNatsServer({ ..., tls: nats.tls, extraConfig: nats.authorization() });
 *   connectNats(nats.target(SCHEDULER_USER, urls), 'keelson-scheduler');
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterPki } from '../pki/index.js';
import type { NatsTarget } from '../nats/index.js';
import {
  authorizationConfig,
  createNatsCredential,
  credentialsFileName,
  readNatsCredential,
  userOfToken,
  writeNatsCredential,
  type NatsBuckets,
  type NatsCredential,
} from './index.js';

export type SecuredNats = {
  /** For startNatsServer's `tls`. */
  tls: { certFile: string; keyFile: string; caFile: string };
  /** PEM of the cluster CA, which clients check the servers against. */
  ca: string;
  /** The servers' `authorization` block, with every user known now. */
  authorization(): string;
  /** `user`'s credential, made (and its file written) when it has none yet; the servers need the new authorization() to let it in. */
  ensureUser(user: string): NatsCredential;
  /** Whether `user` has a credential already. */
  known(user: string): boolean;
  /** Every user with a credential. */
  users(): string[];
  /** Where `user`'s credentials file is. */
  credentialsFile(user: string): string;
  credential(user: string): NatsCredential;
  /** How `user` reaches these servers: URLs, its credential, the CA. */
  target(user: string, servers: string[]): NatsTarget;
};

export function securedNats(pki: ClusterPki, dir: string, o: { users: string[]; hosts: string[]; buckets: NatsBuckets }): SecuredNats {
  const cert = pki.ensure('nats', { commonName: 'keelson-nats', hosts: o.hosts, usage: 'server-and-client' });
  const file = (user: string) => join(dir, credentialsFileName(user));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const credentials = new Map<string, NatsCredential>();
  const ensureUser = (user: string) => {
    let c = credentials.get(user);
    if (c) return c;
    const f = file(user);
    c = existsSync(f) ? readNatsCredential(f) : undefined;
    if (c?.user !== user) {
      c = createNatsCredential(user);
      writeNatsCredential(f, c);
    }
    credentials.set(user, c);
    return c;
  };
  for (const user of o.users) ensureUser(user);
  // Users joined on earlier runs (keelson agent --join) keep their credentials.
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const user = userOfToken(f.slice(0, -'.json'.length));
    if (user !== undefined && !credentials.has(user)) ensureUser(user);
  }
  const credential = (user: string) => {
    const c = credentials.get(user);
    if (!c) throw new Error(`no NATS credentials for "${user}": known are ${[...credentials.keys()].join(', ')}`);
    return c;
  };
  return {
    tls: { certFile: cert.certFile, keyFile: cert.keyFile, caFile: pki.ca.certFile },
    ca: pki.ca.cert,
    authorization: () => authorizationConfig([...credentials.values()], o.buckets),
    ensureUser,
    known: (user) => credentials.has(user),
    users: () => [...credentials.keys()],
    credentialsFile: file,
    credential,
    target: (user, servers) => ({ servers, credential: credential(user), ca: pki.ca.cert }),
  };
}
