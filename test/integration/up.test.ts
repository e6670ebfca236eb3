/**
 * `keelson up` as a user runs it: a child process that starts nats-server and
 * the control plane, makes the cluster's CA and credentials (kept across a
 * restart), serves HTTPS to authenticated callers only, writes the kubeconfig
 * with the CA and a credential, takes NATS clients over TLS as the cluster's
 * own users only, lets a node join with its join file, keeps every object
 * across a restart, and leaves no process behind after SIGTERM or SIGINT.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { fetchText, type TlsClientOptions } from '../../services/lib/fetch/index.js';
import { freePort } from '../../services/lib/nats-server/index.js';
import { connectNats } from '../../services/lib/nats/index.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../services/cli/main.ts')];

type Up = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

function startUp(args: string[], env: NodeJS.ProcessEnv = process.env): Up {
  const child = spawn(process.execPath, [...CLI, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** nats-server processes whose command line names this data folder. */
function natsProcesses(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', join(dir, 'nats')]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

test('keelson up: kubeconfig, objects survive a restart, nothing left behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-up-'));
  const running: Up[] = [];
  t.after(() => {
    for (const u of running) u.child.kill('SIGKILL');
    for (const pid of natsProcesses(dir)) process.kill(Number(pid), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const natsPort = await freePort();
  const apiPort = await freePort();
  const args = ['--data-dir', dir, '--nats-port', String(natsPort), '--port', String(apiPort)];
  const api = `https://127.0.0.1:${apiPort}`;

  const first = startUp(args);
  running.push(first);
  await waitFor(() => first.output().includes('Keelson is up.'), 'keelson up to start');
  assert.match(first.output(), /kubectl get/);
  // One proxy for the machine: iptables as root, user space otherwise.
  assert.match(first.output(), process.getuid?.() === 0 ? /proxy +iptables mode/ : /proxy +user-space mode/);
  assert.match(first.output(), /made now: ca \(new\), apiserver \(new\), admin \(new\), nats \(new\)/);
  assert.equal(natsProcesses(dir).length, 1, 'one embedded nats-server');

  // The kubeconfig carries the CA and the admin's client certificate, readable by its owner only.
  assert.equal(statSync(join(dir, 'kubeconfig')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'tokens.csv')).mode & 0o777, 0o600);
  const config = parse(readFileSync(join(dir, 'kubeconfig'), 'utf8'));
  assert.equal(config.clusters[0].cluster.server, api);
  const b64 = (v: string) => Buffer.from(v, 'base64').toString();
  const ca = b64(config.clusters[0].cluster['certificate-authority-data']);
  assert.equal(ca, readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'));
  const admin: TlsClientOptions = { ca, cert: b64(config.users[0].user['client-certificate-data']), key: b64(config.users[0].user['client-key-data']) };
  const call = (path: string, init: RequestInit = {}, tls: TlsClientOptions = admin) => fetchText(`${api}${path}`, init, 10_000, tls);

  assert.equal((await call('/api/v1/namespaces/default/pods', {}, { ca })).status, 401, 'no credential, no answer');
  const dashboard = /dashboard +(\S+)/.exec(first.output())![1]!;
  const viewerToken = /#token=(\S+)$/.exec(dashboard)![1]!;
  assert.equal((await call('/api/v1/namespaces/default/pods', { headers: { authorization: `Bearer ${viewerToken}` } }, { ca })).status, 200, 'the token printed for the dashboard works');

  // keelson status reads the kubeconfig as kubectl does: HTTPS with its CA and client certificate.
  const status = execFileSync(process.execPath, [...CLI, 'status', '--kubeconfig', join(dir, 'kubeconfig')], { encoding: 'utf8', timeout: 20_000 });
  assert.match(status, /API server/i);

  // NATS lets in only the cluster's own users, over TLS: not a plain client, not one without a user.
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  await assert.rejects(connectNats({ servers: [natsUrl] }, 'plain', { waitForServer: false, timeoutMs: 3_000 }));
  await assert.rejects(connectNats({ servers: [natsUrl], ca }, 'no-user', { waitForServer: false, timeoutMs: 3_000 }), /authorization/i);

  // A node joins with the join file: it gets a NATS user of its own, kept in its data folder, and registers.
  const joined = spawn(
    process.execPath,
    [...CLI, 'kubelet', '--join', join(dir, 'join.json'), '--name', 'joined-1', '--runtime', 'fake', '--data-dir', join(dir, 'joined-1')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let joinedOut = '';
  joined.stdout!.on('data', (d) => (joinedOut += d));
  joined.stderr!.on('data', (d) => (joinedOut += d));
  const joinedExit = new Promise((r) => joined.once('exit', r));
  t.after(() => joined.kill('SIGKILL'));
  await waitFor(() => joinedOut.includes('registered'), `the joined kubelet to register (${joinedOut})`, 30_000);
  assert.equal((await call('/api/v1/nodes/joined-1')).status, 200);
  const kept = JSON.parse(readFileSync(join(dir, 'joined-1', 'nats-credentials.json'), 'utf8')) as { user: string };
  assert.equal(kept.user, 'system:node:joined-1');
  assert.equal(statSync(join(dir, 'joined-1', 'nats-credentials.json')).mode & 0o777, 0o600);
  joined.kill('SIGTERM');
  await joinedExit;

  const created = await call('/api/v1/namespaces/default/pods', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Fits no node: it stays Pending, so no container outlives the test.
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'keep-me' }, spec: { nodeSelector: { 'test.keelson.io/none': 'x' }, containers: [{ name: 'c', image: 'busybox' }] } }),
  });
  assert.equal(created.status, 201, created.text);
  const uid = (JSON.parse(created.text) as { metadata: { uid: string } }).metadata.uid;

  // The NATS client as printed: the admin's NATS user, the CA.
  const printed = /KEELSON_NATS=(\S+) KEELSON_NATS_CA=(\S+) KEELSON_NATS_CREDENTIALS=(\S+) keelson get pods/.exec(first.output())!;
  const env = { ...process.env, KEELSON_NATS: printed[1], KEELSON_NATS_CA: printed[2], KEELSON_NATS_CREDENTIALS: printed[3] };
  assert.match(execFileSync(process.execPath, [...CLI, 'get', 'pods'], { encoding: 'utf8', timeout: 20_000, env }), /keep-me/);

  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  assert.deepEqual(natsProcesses(dir), [], 'nats-server stopped with keelson up');
  await assert.rejects(call('/version'), 'the API server is gone');

  const second = startUp(args);
  running.push(second);
  await waitFor(() => second.output().includes('Keelson is up.'), 'keelson up to start again');
  assert.doesNotMatch(second.output(), /made now/, 'the CA and the certificates are kept');
  // The same credentials still work: the kubeconfig of the first start is good for the second.
  const got = await call('/api/v1/namespaces/default/pods/keep-me');
  assert.equal(got.status, 200, got.text);
  assert.equal((JSON.parse(got.text) as { metadata: { uid: string } }).metadata.uid, uid);

  second.child.kill('SIGINT');
  assert.equal(await second.exited, 0);
  assert.deepEqual(natsProcesses(dir), []);
  if (process.getuid?.() === 0) assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), /KEELSON/, 'the proxy removed its rules');
});

test('keelson up without nats-server says how to install it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-up-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const u = startUp(['--data-dir', dir, '--nats-port', String(await freePort()), '--port', String(await freePort())], {
    ...process.env,
    KEELSON_NATS_SERVER: join(dir, 'no-such-nats-server'),
  });
  assert.equal(await u.exited, 1);
  assert.match(u.output(), /nats-server was not found.*apt-get install -y nats-server/s);
  assert.equal(existsSync(join(dir, 'kubeconfig')), false);
});
