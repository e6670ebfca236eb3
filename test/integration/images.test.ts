/**
 * The images the compose cluster runs, built by scripts/build-images.sh: keelson:dev
 * from this tree (the top-level Dockerfile) and the offline nats and haproxy images.
 * They are checked together as compose uses them: haproxy in front of a keelson
 * apiserver on a JetStream nats-server, on a network of this run's own, reached
 * through a published port. Every container and network made here is removed.
 *
 * Skipped only where there is no docker command at all, and never under CI: an
 * installed client with no engine answering is a failure (run scripts/setup.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from '../harness/wait.js';

const run = randomUUID().slice(0, 8);
const NETWORK = `keelson-images-${run}`;
const NATS = `keelson-images-nats-${run}`;
const API = `keelson-images-api-${run}`;
const PROXY = `keelson-images-haproxy-${run}`;
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

const noDocker = spawnSync('docker', ['--version']).error !== undefined;
const skip = noDocker && !process.env.CI ? 'no docker command (scripts/setup.sh installs Docker)' : false;

/** Runs the docker CLI; a failure's message carries its stderr. */
function docker(...args: string[]): string {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.status}): ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * One HTTP request with a deadline. Not fetch: on Node 20, a fetch whose
 * connection docker-proxy accepts and drops (the published port answers before
 * haproxy listens) can stay pending with nothing keeping the event loop alive.
 */
function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: () => unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    // A connection per request: haproxy's graceful stop waits for open sessions.
    const headers = { connection: 'close', ...(data ? { 'content-type': 'application/json' } : {}) };
    let answer: { status: number; json: () => unknown; text: string } | undefined;
    const req = request(url, { method, headers, agent: false, timeout: 2_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => (answer = { status: res.statusCode ?? 0, json: () => JSON.parse(text), text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 2 s`)));
    req.on('error', reject);
    // Settles once the socket is closed, so no half-closed session outlives the
    // call (the docker CLI calls after it block the event loop that would close it).
    req.on('close', () => (answer ? resolve(answer) : reject(new Error(`${method} ${url}: closed without an answer`))));
    req.end(data);
  });
}

/** A TCP frontend on 6443 over the API server container, as compose's haproxy has. */
function haproxyConfig(backend: string): string {
  return [
    'global',
    '  maxconn 256',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend api',
    '  bind :6443',
    '  default_backend apiservers',
    'backend apiservers',
    `  server api1 ${backend}:6443 check inter 500ms`,
    '',
  ].join('\n');
}

describe('container images', { skip }, () => {
  let dir: string | undefined;

  /** Writes a haproxy.cfg over `backend` and returns its `-v` mount argument. */
  function mountConfig(name: string, backend: string): string {
    const file = join(dir!, name);
    writeFileSync(file, haproxyConfig(backend));
    chmodSync(file, 0o644); // haproxy runs as its own user (uid 99)
    return `${file}:/usr/local/etc/haproxy/haproxy.cfg:ro`;
  }

  before(
    () => {
      const info = spawnSync('docker', ['info'], { encoding: 'utf8' });
      if (info.status !== 0) throw new Error(`no Docker engine answers (run scripts/setup.sh): ${info.stderr.trim()}`);
      // Base images only when missing; keelson:dev always, from this tree (the
      // layer cache makes an unchanged tree cost about a second).
      execFileSync('bash', ['scripts/build-images.sh', 'nats', 'haproxy', 'keelson'], { stdio: ['ignore', 'ignore', 'inherit'] });
      dir = mkdtempSync(join(tmpdir(), 'keelson-images-'));
      docker('network', 'create', NETWORK);
    },
    { timeout: 600_000 },
  );

  after(() => {
    spawnSync('docker', ['rm', '-f', PROXY, API, NATS], { stdio: 'ignore' });
    spawnSync('docker', ['network', 'rm', NETWORK], { stdio: 'ignore' });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('keelson:dev runs the keelson command: version and help', () => {
    assert.equal(docker('run', '--rm', 'keelson:dev', 'version'), `keelson ${version}`);
    const help = docker('run', '--rm', 'keelson:dev', 'help');
    assert.match(help, /^keelson \S+ — /);
    assert.match(help, /^\s+apiserver\s/m);
  });

  test('haproxy:2.6 is laid out like the official image and accepts a TCP config', () => {
    const cfg = JSON.parse(docker('image', 'inspect', '--format', '{{json .Config}}', 'haproxy:2.6')) as {
      User: string;
      StopSignal: string;
      Cmd: string[];
    };
    assert.equal(cfg.User, 'haproxy');
    assert.equal(cfg.StopSignal, 'SIGUSR1');
    assert.deepEqual(cfg.Cmd, ['haproxy', '-f', '/usr/local/etc/haproxy/haproxy.cfg']);
    const mount = mountConfig('check.cfg', '127.0.0.1');
    const out = docker('run', '--rm', '-v', mount, 'haproxy:2.6', 'haproxy', '-c', '-f', '/usr/local/etc/haproxy/haproxy.cfg');
    assert.match(out, /Configuration file is valid/);
  });

  test('haproxy → keelson apiserver → nats:2.9.10, each in its container', { timeout: 60_000 }, async () => {
    docker('run', '-d', '--name', NATS, '--network', NETWORK, 'nats:2.9.10', '-js');
    docker('run', '-d', '--name', API, '--network', NETWORK, 'keelson:dev', 'apiserver', '--nats', `nats://${NATS}:4222`);
    // haproxy resolves its backend's name at start: the API container exists by now.
    const mount = mountConfig('haproxy.cfg', API);
    docker('run', '-d', '--name', PROXY, '--network', NETWORK, '-p', '127.0.0.1::6443', '-v', mount, 'haproxy:2.6');
    const base = `http://${docker('port', PROXY, '6443/tcp').split('\n')[0]}`;

    await until(
      `the API server through haproxy at ${base}`,
      () => http('GET', `${base}/healthz`).then((r) => r.status === 200, () => false),
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\napiserver log:\n${docker('logs', API)}`);
    });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `images-${run}` } };
    const created = await http('POST', `${base}/api/v1/namespaces`, ns);
    assert.equal(created.status, 201, created.text);
    const got = await http('GET', `${base}/api/v1/namespaces/${ns.metadata.name}`);
    assert.equal(got.status, 200, got.text);
    assert.equal((got.json() as { metadata: { name: string } }).metadata.name, ns.metadata.name);

    // STOPSIGNAL SIGUSR1 is haproxy's graceful stop (it waits for open sessions;
    // none are left), and keelson stops on SIGTERM: both exit 0, not killed (137).
    docker('stop', PROXY, API);
    assert.equal(docker('inspect', '--format', '{{.State.ExitCode}}', PROXY), '0');
    assert.equal(docker('inspect', '--format', '{{.State.ExitCode}}', API), '0');
  });
});
