/**
 * What `keelson up` secures its cluster with, made on first start and kept in
 * the data folder: `pki/` (the CA; the API server's serving certificate for
 * every name and address it may be reached at; the admin's client
 * certificate) and `tokens.csv` (bearer tokens, kube-apiserver's format).
 * Run again, it reuses them, issuing again only what no longer fits (see
 * lib/pki).
 */
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ensureTokenFile, MASTERS_GROUP } from '../apiserver/authn/index.js';
import { VIEWERS_GROUP } from '../apiserver/authz/index.js';
import { ClusterPki, type KeyPairFiles } from '../lib/pki/index.js';

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
  /** What was made or replaced on this start, with why. */
  issued: string[];
};

export const ADMIN_USER = 'keelson-admin';
export const VIEWER_USER = 'keelson-viewer';

/** The names pods and tools reach the API server by, besides this machine's own. */
const SERVICE_NAMES = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', '10.96.0.1'];

export function clusterCredentials(dataDir: string, host: string): ClusterCredentials {
  const pki = new ClusterPki(join(dataDir, 'pki'));
  const serving = pki.ensure('apiserver', { commonName: 'keelson-apiserver', hosts: apiServerHosts(host), usage: 'server' });
  const admin = pki.ensure('admin', { commonName: ADMIN_USER, organizations: [MASTERS_GROUP], usage: 'client' });
  const tokenFile = join(dataDir, 'tokens.csv');
  const tokens = ensureTokenFile(tokenFile, [{ name: VIEWER_USER, groups: [VIEWERS_GROUP] }]);
  return { ca: pki.ca.cert, caFile: pki.ca.certFile, serving, admin, tokenFile, viewerToken: tokens.get(VIEWER_USER)!, issued: pki.issued };
}

/** Every name the API server may be reached at: loopback, the host name, the bind address or (bound to all) every address of the machine. */
export function apiServerHosts(host: string): string[] {
  const all = host === '0.0.0.0' || host === '::' || host === '';
  const own = all
    ? Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && !a.internal)
        .map((a) => a!.address.split('%')[0]!)
    : [host];
  return [...new Set(['127.0.0.1', 'localhost', hostname(), ...own, ...SERVICE_NAMES])];
}
