/**
 * What `keelson up` secures its cluster with, made on first start and kept in
 * the data folder: `pki/` (the CA; the API server's serving certificate for
 * every name and address it may be reached at; the admin's client
 * certificate; NATS's certificate and one nkey user per component in
 * `pki/nats/`) and `tokens.csv` (bearer tokens, kube-apiserver's format).
 * Run again, it reuses them, issuing again only what no longer fits (see
 * lib/pki).
 */
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ensureTokenFile, MASTERS_GROUP } from '../apiserver/authn/index.js';
import { VIEWERS_GROUP } from '../apiserver/authz/index.js';
import { ClusterPki, type KeyPairFiles } from '../lib/pki/index.js';
import { ELECTIONS_BUCKET } from '../lib/leader-election/index.js';
import { ADMIN_USER, CONTROL_PLANE_USERS, JOIN_USER, nodeUser, PROXY_USER, securedNats, type SecuredNats } from '../lib/nats-auth/index.js';
import { DEFAULT_BUCKET } from '../lib/store/index.js';

export type ClusterCredentials = {
  /** PEM of the cluster CA. */
  ca: string;
  caFile: string;
  /** The API server's serving certificate. */
  serving: KeyPairFiles;
  /** The admin's client certificate (CN keelson-admin, O system:masters). */
  admin: KeyPairFiles;
  tokenFile: string;
  /** The read-only user's bearer token (group keelson:viewers, bound to the view role): the dashboard link and view.kubeconfig carry it. */
  viewerToken: string;
  /** NATS: its TLS certificate and each component's own user (`pki/nats/<user>.json`). */
  nats: SecuredNats;
  /** What was made or replaced on this start, with why. */
  issued: string[];
};

/** The administrator: the admin certificate's CN on HTTP, its NATS user's name on NATS. */
export { ADMIN_USER };
export const VIEWER_USER = 'keelson-viewer';

/** The names pods and tools reach the API server by, besides this machine's own. */
export const SERVICE_NAMES = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', '10.96.0.1'];

/** The NATS users of a `keelson up` cluster with these nodes. */
export function natsUsers(nodes: string[]): string[] {
  return [...CONTROL_PLANE_USERS, PROXY_USER, JOIN_USER, ...nodes.map(nodeUser)];
}

export function clusterCredentials(dataDir: string, host: string, nodes: string[]): ClusterCredentials {
  const pki = new ClusterPki(join(dataDir, 'pki'));

  const serving = pki.ensure('apiserver', { commonName: 'keelson-apiserver', hosts: apiServerHosts(host), usage: 'server' });
  const admin = pki.ensure('admin', { commonName: ADMIN_USER, organizations: [MASTERS_GROUP], usage: 'client' });
  // nats-server binds where the API server does: its certificate names the same addresses.
  const nats = securedNats(pki, join(dataDir, 'pki', 'nats'), {
    users: natsUsers(nodes),
    hosts: machineHosts(host),
    buckets: { store: DEFAULT_BUCKET, elections: ELECTIONS_BUCKET },
  });  const tokenFile = join(dataDir, 'tokens.csv');
  const tokens = ensureTokenFile(tokenFile, [{ name: VIEWER_USER, groups: [VIEWERS_GROUP] }]);
  return { ca: pki.ca.cert, caFile: pki.ca.certFile, serving, admin, tokenFile, viewerToken: tokens.get(VIEWER_USER)!, nats, issued: pki.issued };
}

/** Every name the API server may be reached at: this machine's (machineHosts) and the kubernetes Service's. */
export function apiServerHosts(host: string): string[] {
  return [...new Set([...machineHosts(host), ...SERVICE_NAMES])];
}

/** Loopback, the host name, and the bind address or (bound to all) every address of the machine. */
export function machineHosts(host: string): string[] {
  const all = isWildcard(host);
  const own = all
    ? Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && !a.internal)
        .map((a) => a!.address.split('%')[0]!)
    : [host];
  return [...new Set(['127.0.0.1', 'localhost', hostname(), ...own])];
}

export const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';
