/**
 * X.509 for the cluster: a self-signed CA and the certificates it signs
 * (serving, client, or both), as PEM. Keys are RSA 2048 made by Node's crypto
 * (fast, native); node-forge only assembles and signs the certificates, which
 * Node cannot do. A client certificate names its user in the subject's CN and
 * its groups in O, as Kubernetes reads them.
 *
 *   const ca = createCA('keelson-ca');
 *   const server = issueCertificate(ca, { commonName: 'keelson-apiserver', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A certificate and its private key, PEM. */
export type KeyPair = { cert: string; key: string };

export type CertificateRequest = {
  /** The CN: a user name for client certificates. */
  commonName: string;
  /** O entries: a client certificate's groups. */
  organizations?: string[];
  /** DNS names and IP addresses a serving certificate is valid for. */
  hosts?: string[];
  usage: 'server' | 'client' | 'server-and-client';
  /** Default 365. */
  days?: number;
};

const DAY_MS = 24 * 3600 * 1000;

/** A new CA, valid `days` (default 10 years), that may sign leaf certificates only. */
export function createCA(commonName: string, days = 3650): KeyPair {
  const keys = rsaKeys();
  const cert = newCertificate(keys.publicKey, days);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privateKey };
}

/** A leaf certificate signed by `ca`. */
export function issueCertificate(ca: KeyPair, req: CertificateRequest): KeyPair {
  const keys = rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = newCertificate(keys.publicKey, req.days ?? 365);
  cert.setSubject([
    { name: 'commonName', value: req.commonName },
    ...(req.organizations ?? []).map((value) => ({ name: 'organizationName', value })),
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const server = req.usage !== 'client';
  const client = req.usage !== 'server';
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: server, clientAuth: client },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  const hosts = req.hosts ?? [];
  if (hosts.length > 0) {
    // type 7: an IP address; type 2: a DNS name.
    extensions.push({ name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privateKey };
}

/** Why `pair` should be issued again (signed by another CA, expiring within `marginDays`, missing a host), or undefined. */
export function replaceReason(pair: KeyPair, ca: KeyPair, hosts: string[] = [], marginDays = 30): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch (e) {
    return `it does not parse (${(e as Error).message})`;
  }
  if (!cert.verify(new X509Certificate(ca.cert).publicKey)) return 'it is not signed by the current CA';
  if (Date.parse(cert.validTo) - Date.now() < marginDays * DAY_MS) return `it expires on ${cert.validTo}`;
  const missing = hosts.find((h) => (isIP(h) ? cert.checkIP(h) === undefined : cert.checkHost(h) === undefined));
  if (missing) return `it is not valid for ${missing}`;
  return undefined;
}

function rsaKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function newCertificate(publicKeyPem: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // A positive 16-byte serial (the high bit clear), unique enough to never repeat.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  // Valid from a minute ago: clocks of the machines that check it may lag a little.
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * DAY_MS);
  return cert;
}
