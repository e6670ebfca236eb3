/**
 * `keelson up` as a user runs it: a child process that starts nats-server and
 * the control plane, writes the kubeconfig, keeps every object across a restart,
 * and leaves no process behind after SIGTERM or SIGINT.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../services/lib/nats-server/index.js';

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
  const api = `http://127.0.0.1:${apiPort}`;

  const first = startUp(args);
  running.push(first);
  await waitFor(() => first.output().includes('Keelson is up.'), 'keelson up to start');
  assert.match(first.output(), /kubectl get/);
  // One proxy for the machine: iptables as root, user space otherwise.
  assert.match(first.output(), process.getuid?.() === 0 ? /proxy +iptables mode/ : /proxy +user-space mode/);
  const kubeconfig = readFileSync(join(dir, 'kubeconfig'), 'utf8');
  assert.match(kubeconfig, new RegExp(`server: ${api}`));
  assert.equal(natsProcesses(dir).length, 1, 'one embedded nats-server');

  const created = await fetch(`${api}/api/v1/namespaces/default/pods`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Fits no node: it stays Pending, so no container outlives the test.
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'keep-me' }, spec: { nodeSelector: { 'test.keelson.io/none': 'x' }, containers: [{ name: 'c', image: 'busybox' }] } }),
  });
  assert.equal(created.status, 201);
  const uid = ((await created.json()) as { metadata: { uid: string } }).metadata.uid;

  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  assert.deepEqual(natsProcesses(dir), [], 'nats-server stopped with keelson up');
  await assert.rejects(fetch(`${api}/version`), 'the API server is gone');

  const second = startUp(args);
  running.push(second);
  await waitFor(() => second.output().includes('Keelson is up.'), 'keelson up to start again');
  const got = await fetch(`${api}/api/v1/namespaces/default/pods/keep-me`);
  assert.equal(got.status, 200);
  assert.equal(((await got.json()) as { metadata: { uid: string } }).metadata.uid, uid);

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
