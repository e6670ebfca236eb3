/**
 * An API server as `keelson up` secures it, for tests: a real nats-server, a
 * cluster CA and serving certificate for 127.0.0.1 in a temporary folder,
 * HTTPS, a token file (the lines given), RBAC. `stop()` stops both servers and
 * removes the folder; the caller runs it in its `after`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../services/apiserver/index.js';
import { ClusterPki } from '../../services/lib/pki/index.js';
import { startTestNats, type TestNats } from './nats.js';

export type SecureApiServer = {
  api: ApiServer;
  nats: TestNats;
  /** Issues client certificates signed by the cluster CA. */
  pki: ClusterPki;
  /** PEM of the cluster CA: what a client trusts. */
  ca: string;
  tokenFile: string;
  stop(): Promise<void>;
};

export async function startSecureApiServer(o: {
  /** Token file lines (`token,user,uid,"groups"`). */
  tokens: string[];
  /** Accept client certificates of the cluster CA too. */
  clientCertificates?: boolean;
  /** Trust authenticating proxies with these client certificate CNs (needs clientCertificates). */
  requestHeader?: { allowedNames: string[] };
  extra?: Partial<ApiServerOptions>;
}): Promise<SecureApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-secure-'));
  let nats: TestNats | undefined;
  let api: ApiServer | undefined;
  const stop = async () => {
    await api?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    nats = await startTestNats({ after: () => undefined });
    const pki = new ClusterPki(join(dir, 'pki'));
    const serving = pki.ensure('apiserver', { commonName: 'keelson-apiserver', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
    const tokenFile = join(dir, 'tokens.csv');
    writeFileSync(tokenFile, `${o.tokens.join('\n')}\n`);
    api = await startApiServer({
      nats: nats.urls,
      host: '127.0.0.1',
      port: 0,
      tls: { cert: serving.cert, key: serving.key, ...(o.clientCertificates ? { clientCA: pki.ca.cert } : {}) },
      authentication: { tokenAuthFile: tokenFile, ...(o.requestHeader ? { requestHeader: o.requestHeader } : {}) },
      ...o.extra,
    });
    return { api, nats, pki, ca: pki.ca.cert, tokenFile, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
