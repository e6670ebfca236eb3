/**
 * The API server over HTTPS with authentication, against a real nats-server:
 * the serving certificate verifies against the cluster CA; a request with no
 * credentials, a wrong token or a certificate of another CA gets a 401 Status;
 * a token from the token file and a client certificate of the cluster CA are
 * users; health and version stay open; the token file is read again when it
 * changes; no credential reaches the request log.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { ApiServer } from '../../services/apiserver/index.js';
import { newToken } from '../../services/apiserver/authn/index.js';
import { fetchText, type TlsClientOptions } from '../../services/lib/fetch/index.js';
import { createCA, issueCertificate } from '../../services/lib/pki/index.js';
import { startSecureApiServer, type SecureApiServer } from '../harness/secure-apiserver.js';
import { until } from '../harness/wait.js';

const PODS = '/api/v1/namespaces/default/pods';

describe('apiserver: HTTPS and authentication', () => {
  let server: SecureApiServer;
  let api: ApiServer;
  let tokenFile: string;
  let ca: string;
  let admin: TlsClientOptions;
  const token = newToken();
  const logged: string[] = [];
  const realWrite = process.stdout.write.bind(process.stdout);

  before(async () => {
    // The request log (pino, on stdout) is captured to look for credentials in it.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return realWrite(chunk as string, ...(rest as []));
    }) as typeof process.stdout.write;
    server = await startSecureApiServer({
      tokens: ['# comment', `${token},bob,bob-uid,"devs,keelson:viewers"`],
      clientCertificates: true,
      requestHeader: { allowedNames: ['front-proxy'] },
      extra: { logRequests: true },
    });
    ({ api, tokenFile, ca } = server);
    const cert = server.pki.ensure('admin', { commonName: 'alice', organizations: ['system:masters', 'devs'], usage: 'client' });
    admin = { ca, cert: cert.cert, key: cert.key };
  });
  after(async () => {
    await server?.stop();
    process.stdout.write = realWrite;
  });

  const get = (path: string, tls: TlsClientOptions, headers: Record<string, string> = {}) => fetchText(`${api.url}${path}`, { headers }, 10_000, tls);

  function assertUnauthorized(r: { status: number; text: string }, message: RegExp): void {
    assert.equal(r.status, 401, r.text);
    const s = JSON.parse(r.text);
    assert.equal(s.kind, 'Status');
    assert.equal(s.status, 'Failure');
    assert.equal(s.reason, 'Unauthorized');
    assert.equal(s.code, 401);
    assert.match(s.message, message);
  }

  test('serves HTTPS only, with a certificate the cluster CA signed', async () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // Without the CA the client refuses the server; with it the handshake is fine.
    await assert.rejects(fetchText(`${api.url}/version`, {}, 5_000), /fetch failed/);
    assert.equal((await get('/version', { ca })).status, 200);
    const plain = await fetchText(api.url.replace('https:', 'http:') + '/version', {}, 5_000).catch((e: Error) => e);
    assert.ok(plain instanceof Error || plain.status === 400, 'plain HTTP is not served');
  });

  test('no credentials, a bad header, an unknown token, a certificate of another CA: 401 Status', async () => {
    assertUnauthorized(await get(PODS, { ca }), /no credentials/);
    assertUnauthorized(await get(PODS, { ca }, { authorization: 'Basic dXNlcjpwYXNz' }), /not "Bearer <token>"/);
    const wrong = newToken();
    const r = await get(PODS, { ca }, { authorization: `Bearer ${wrong}` });
    assertUnauthorized(r, /bearer token is not valid/);
    assert.ok(!r.text.includes(wrong), 'the answer does not quote the token');
    // As in Kubernetes, a good client certificate wins over a wrong token beside it.
    assert.equal((await get(PODS, admin, { authorization: `Bearer ${wrong}` })).status, 200);
    const other = createCA('someone-else');
    const stranger = issueCertificate(other, { commonName: 'mallory', organizations: ['system:masters'], usage: 'client' });
    assertUnauthorized(await get(PODS, { ca, cert: stranger.cert, key: stranger.key }), /no credentials/);
    // Every API path is behind it, writes too.
    const write = await fetchText(`${api.url}${PODS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 10_000, { ca });
    assertUnauthorized(write, /no credentials/);
    assertUnauthorized(await get('/metrics', { ca }), /no credentials/);
    assertUnauthorized(await get('/keelson/v1/actors', { ca }), /no credentials/);
  });

  test('a token of the token file and a client certificate of the cluster CA are users', async () => {
    const byToken = await get(PODS, { ca }, { authorization: `Bearer ${token}` });
    assert.equal(byToken.status, 200, byToken.text);
    assert.equal(JSON.parse(byToken.text).kind, 'PodList');
    const byCert = await get(PODS, admin);
    assert.equal(byCert.status, 200, byCert.text);
  });

  test('health, readiness and the version are open to anyone', async () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/version', '/ui']) {
      const r = await get(path, { ca });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
  });

  test('the token file is read again when it changes: a token added works, a token removed stops working', async () => {
    const carol = newToken();
    writeFileSync(tokenFile, `${token},bob,bob-uid,"devs,keelson:viewers"\n${carol},carol,,keelson:viewers\n`);
    const status = async (t: string) => (await get(PODS, { ca }, { authorization: `Bearer ${t}` })).status;
    await until('the added token to work', async () => (await status(carol)) === 200);
    writeFileSync(tokenFile, `${carol},carol,,keelson:viewers\n`);
    await until('the removed token to stop working', async () => (await status(token)) === 401);
    // A broken edit is refused: the tokens before it stay.
    writeFileSync(tokenFile, `"${newToken()},dave,\n`);
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(await status(carol), 200);
    writeFileSync(tokenFile, `${token},bob,bob-uid,"devs,keelson:viewers"\n`);
    await until('the token given back to work', async () => (await status(token)) === 200);
  });

  test('no credential reaches the request log', () => {
    const log = logged.join('');
    assert.match(log, /"url":"\/api\/v1\/namespaces\/default\/pods"/, 'requests were logged');
    assert.ok(!log.includes(token), 'the token is not in the log');
    assert.ok(!/Bearer/i.test(log), 'no Authorization header is in the log');
    assert.ok(!log.includes('BEGIN'), 'no certificate or key is in the log');
  });

  test('behind an authenticating proxy: its X-Remote-* headers name the user; anyone else\'s count for nothing', async () => {
    const proxyCert = server.pki.ensure('front-proxy', { commonName: 'front-proxy', usage: 'client' });
    const proxy: TlsClientOptions = { ca, cert: proxyCert.cert, key: proxyCert.key };
    const userCert = server.pki.ensure('carol', { commonName: 'carol', organizations: ['devs'], usage: 'client' });
    const carol: TlsClientOptions = { ca, cert: userCert.cert, key: userCert.key };
    const forbiddenFor = (r: { status: number; text: string }, user: string) => {
      assert.equal(r.status, 403, r.text);
      assert.match(JSON.parse(r.text).message, new RegExp(`User "${user}" cannot list resource "pods"`));
    };
    // The proxy checked dave's certificate; it says so in headers.
    forbiddenFor(await get(PODS, proxy, { 'x-remote-user': 'dave', 'x-remote-group': 'devs' }), 'dave');
    assert.equal((await get(PODS, proxy, { 'x-remote-user': 'dave', 'x-remote-group': 'system:masters' })).status, 200);
    // A user's own certificate with the same headers is that user, not whom the headers name.
    forbiddenFor(await get(PODS, carol, { 'x-remote-user': 'dave', 'x-remote-group': 'system:masters' }), 'carol');
    // Through the proxy without those headers: the bearer token it passed on.
    assert.equal((await get(PODS, proxy, { authorization: `Bearer ${token}` })).status, 200, 'bob views');
    assertUnauthorized(await get(PODS, proxy), /no credentials/);
    // A token user's X-Remote-* headers, not through the proxy, count for nothing either.
    assert.equal((await get(PODS, { ca }, { authorization: `Bearer ${token}`, 'x-remote-user': 'dave', 'x-remote-group': 'system:masters' })).status, 200);
    const asBob = await fetchText(`${api.url}${PODS}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-remote-user': 'dave', 'x-remote-group': 'system:masters', 'content-type': 'application/json' }, body: '{"metadata":{"name":"x"}}' }, 10_000, { ca });
    assert.equal(asBob.status, 403, asBob.text);
    assert.match(JSON.parse(asBob.text).message, /User "bob" cannot create/);
  });
});
