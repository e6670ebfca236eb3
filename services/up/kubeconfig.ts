/**
 * The kubeconfigs `keelson up` writes, so kubectl talks to the local API server
 * with no extra flags: the cluster's CA inline (certificate-authority-data)
 * and one credential, a client certificate or a bearer token.
 */
import { stringify } from 'yaml';

export type KubeconfigCredential = { cert: string; key: string } | { token: string };

export type KubeconfigOptions = {
  server: string;
  /** PEM of the CA that signed the API server's certificate (omitted for plain HTTP). */
  ca?: string;
  credential?: KubeconfigCredential;
  /** Cluster and context name. */
  name?: string;
  /** The user's name in the file. */
  user?: string;
};

const b64 = (pem: string) => Buffer.from(pem).toString('base64');

export function kubeconfig(o: KubeconfigOptions): string {
  const name = o.name ?? 'keelson';
  const user = o.user ?? name;
  const credential = o.credential;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: o.server, ...(o.ca ? { 'certificate-authority-data': b64(o.ca) } : {}) } }],
    contexts: [{ name, context: { cluster: name, user, namespace: 'default' } }],
    'current-context': name,
    users: [
      {
        name: user,
        user: !credential
          ? {}
          : 'token' in credential
            ? { token: credential.token }
            : { 'client-certificate-data': b64(credential.cert), 'client-key-data': b64(credential.key) },
      },
    ],
  });
}
