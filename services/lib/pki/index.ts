/**
 * The cluster's certificates in a folder, made on first start and kept: the CA
 * (`ca.crt`, `ca.key`), each serving or client certificate as `NAME.crt` +
 * `NAME.key`. A certificate is issued again when it no longer fits (another CA,
 * expiring within 30 days, a host missing), so rotating the CA is: delete
 * `ca.crt` and `ca.key`, start again. Keys are written 0600 in a 0700 folder.
 *
 *   const pki = new ClusterPki(join(dataDir, 'pki'));
 *   const serving = pki.ensure('apiserver', { commonName: 'keelson-apiserver', hosts, usage: 'server' });
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writePrivateFile } from '../files/index.js';
import { join } from 'node:path';
import { createCA, issueCertificate, replaceReason, type CertificateRequest, type KeyPair } from './certificates.js';

export { createCA, issueCertificate, replaceReason, type CertificateRequest, type KeyPair } from './certificates.js';

/** Where a key pair lives. */
export type KeyPairFiles = KeyPair & { certFile: string; keyFile: string };

export const CA_COMMON_NAME = 'keelson-ca';

export class ClusterPki {
  readonly ca: KeyPairFiles;
  /** Names issued (or replaced) by this instance, with why: for the caller's log. */
  readonly issued: string[] = [];

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const existing = this.read('ca');
    if (existing) this.ca = existing;
    else {
      this.ca = this.write('ca', createCA(CA_COMMON_NAME));
      this.issued.push('ca (new)');
    }
  }

  /** `NAME.crt`/`NAME.key` as asked for: the ones there if they still fit, else new ones. */
  ensure(name: string, req: CertificateRequest): KeyPairFiles {
    if (name === 'ca') throw new Error('"ca" is the CA itself, not a certificate it issues');
    const existing = this.read(name);
    const why = existing ? replaceReason(existing, this.ca, req.hosts) ?? sameIdentity(existing, req) : 'new';
    if (existing && why === undefined) return existing;
    this.issued.push(`${name} (${why})`);
    return this.write(name, issueCertificate(this.ca, req));
  }

  private read(name: string): KeyPairFiles | undefined {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    if (!existsSync(certFile) || !existsSync(keyFile)) return undefined;
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
  }

  private write(name: string, pair: KeyPair): KeyPairFiles {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    writePrivateFile(keyFile, pair.key);
    writeFileSync(certFile, pair.cert);
    return { ...pair, certFile, keyFile };
  }
}

/** A client certificate whose user or groups changed is issued again. */
function sameIdentity(pair: KeyPair, req: CertificateRequest): string | undefined {
  const want = [`CN=${req.commonName}`, ...(req.organizations ?? []).map((o) => `O=${o}`)].sort().join('\n');
  const have = subjectLines(pair.cert).sort().join('\n');
  return want === have ? undefined : 'its subject changed';
}

function subjectLines(pem: string): string[] {
  // X509Certificate.subject: one `KEY=value` per line.
  return new X509Certificate(pem).subject.split('\n').filter((l) => l.startsWith('CN=') || l.startsWith('O='));
}
