/**
 * `keelson status` and `GET /keelson/v1/status` against real servers: a 3-node
 * NATS cluster with an R3 store and three API servers behind haproxy (peers,
 * stream leaders, masters, election leader, nodes; read over NATS, from each
 * API server, through the load balancer, through a kubeconfig, by the real
 * CLI; a peer going down), and a single nats-server (reported as such; a 503
 * Status once NATS is gone). Everything started here is stopped, pass or fail.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clusterStatus, type ClusterStatus } from '../../services/apiserver/cluster-status/index.js';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { startLeaderElection, type LeaderElection } from '../../services/lib/leader-election/index.js';
import { connectNats, type NatsConnection } from '../../services/lib/nats/index.js';
import { freePort, startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from '../../services/lib/nats-server/index.js';
import { formatStatus, runStatus } from '../../services/cli/status.js';
import { kubeconfig } from '../../services/up/kubeconfig.js';

type Json = any;
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../services/cli/main.ts')];
const HAPROXY = '/usr/sbin/haproxy';
const PEERS = ['keelson-n1', 'keelson-n2', 'keelson-n3'];

/** Polls `get` until `ok`; says what it last saw when it gives up. */
async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (e) {
      error = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 1_500) ?? (error as Error)?.message}`);
}

/** GET on a connection of its own (no keep-alive), so that haproxy balances each request. */
function getJson(url: string): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch (e) {
            reject(new Error(`GET ${url} → ${res.statusCode}: ${text.slice(0, 300)} (${(e as Error).message})`));
          }
        });
      })
      .on('error', reject);
  });
}

/** A command run without blocking this process (whose API servers must keep answering it). */
function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 30_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

/** `keelson status ARGS` in this process: exit code, stdout, stderr. */
async function status(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runStatus(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

/** haproxy in TCP round robin over the API servers, on 127.0.0.1; undefined when it is not installed. */
async function startHaproxy(dir: string, backends: string[]): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  if (!existsSync(HAPROXY)) return undefined;
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  const servers = backends.map((b, i) => `  server api${i} ${new URL(b).host}`);
  writeFileSync(cfg, ['defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', 'frontend api', `  bind 127.0.0.1:${port}`, '  default_backend apiservers', 'backend apiservers', '  balance roundrobin', ...servers, ''].join('\n'));
  const child = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error('haproxy did not start listening');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A Node made Ready, and its heartbeat Lease, through the HTTP API. */
async function registerNode(api: string, name: string): Promise<void> {
  const post = (path: string, body: unknown, method = 'POST') => fetch(api + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const created = await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } });
  assert.equal(created.status, 201, await created.clone().text());
  const node = (await created.json()) as Json;
  const now = new Date().toISOString();
  const ready = { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: now, lastTransitionTime: now };
  const put = await post(`/api/v1/nodes/${name}/status`, { ...node, status: { conditions: [ready] } }, 'PUT');
  assert.equal(put.status, 200, await put.clone().text());
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: now.replace('Z', '000Z') } };
  const l = await post('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease);
  assert.equal(l.status, 201, await l.clone().text());
}

/** What every healthy 3-node report must say. */
function assertHealthyCluster(r: ClusterStatus, apiservers: ApiServer[]): void {
  assert.equal(r.kind, 'ClusterStatus');
  for (const s of [r.masters, r.nats, r.leaders, r.nodes]) assert.equal(s.error, undefined, JSON.stringify(s));
  assert.deepEqual(r.masters.items.map((m) => `${m.address}:${m.port}`).sort(), apiservers.map((a) => new URL(a.url).host).sort());
  assert.equal(r.nats.clustered, true);
  assert.equal(r.nats.server?.cluster, 'keelson');
  assert.equal(r.nats.server?.version, '2.9.10');
  assert.deepEqual(r.nats.peers.map((p) => [p.name, p.current]), PEERS.map((p) => [p, true]));
  for (const name of ['KV_keelson', 'KV_keelson-apiservers', 'KV_keelson-elections']) {
    const s = r.nats.streams.find((x) => x.name === name);
    assert.ok(s, `${name} in ${r.nats.streams.map((x) => x.name)}`);
    assert.equal(s.replicas, 3);
    assert.ok(PEERS.includes(s.leader!), `${name} has a leader: ${s.leader}`);
    assert.deepEqual(s.followers.map((f) => f.name), PEERS.filter((p) => p !== s.leader));
  }
  assert.deepEqual(r.leaders.items.map((e) => [e.election, e.holderIdentity]), [['kube-scheduler', 'sched-a']]);
  assert.deepEqual(r.nodes.items.map((n) => [n.name, n.ready, n.lease?.holderIdentity]), [['w1', 'True', 'w1']]);
}

describe('cluster status: 3-node NATS cluster, R3 store, three API servers', () => {
  let dir: string;
  let cluster: NatsCluster | undefined;
  const apiservers: ApiServer[] = [];
  let election: LeaderElection | undefined;
  let lb: Awaited<ReturnType<typeof startHaproxy>>;
  let nc: NatsConnection | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-status-'));
    cluster = await startNatsCluster(dir, 3);
    // One API server per NATS server, as on three masters.
    for (const url of cluster.urls) {
      apiservers.push(await startApiServer({ nats: [url], host: '127.0.0.1', port: 0, replicas: 3, kubernetesService: { renewMs: 500, leaseMs: 3_000 } }));
    }
    nc = await connectNats(cluster.urls[0]!, 'test-status');
    election = await startLeaderElection({ nc, election: 'kube-scheduler', identity: 'sched-a', replicas: 3, mirrorLease: false, onStartedLeading: () => undefined });
    await registerNode(apiservers[0]!.url, 'w1');
    lb = await startHaproxy(dir, apiservers.map((a) => a.url));
  });
  after(async () => {
    const quietly = (p: Promise<unknown> | undefined) => p?.catch(() => undefined);
    await quietly(lb?.stop());
    await quietly(election?.stop());
    for (const a of apiservers) await quietly(a.stop());
    await quietly(nc?.close());
    await quietly(cluster?.stop());
    rmSync(dir, { recursive: true, force: true });
  });

  test('over NATS: the masters, every peer current, each R3 stream led by one peer and followed by the other two', async () => {
    const r = await eventually('a healthy report', () => clusterStatus(nc!), (r) => r.nats.peers.length === 3 && r.nats.peers.every((p) => p.current) && r.masters.items.length === 3);
    assertHealthyCluster(r, apiservers);
    assert.equal(r.source.via, 'nats');
    assert.equal(r.nats.server?.name, 'keelson-n1');
  });

  test('over HTTP from each API server, through haproxy and through kubectl: the same report', async (t) => {
    // A peer's "current" can drop for a moment while a follower catches up (the API servers' own writes): as over NATS, wait for a healthy report.
    const healthy = (r: { status: number; body: { nats?: { peers?: { current: boolean }[] } } }) => r.status !== 200 || (r.body.nats?.peers?.every((p) => p.current) ?? false);
    for (const [i, a] of apiservers.entries()) {
      const { status: code, body } = await eventually('a healthy report', () => getJson(`${a.url}/keelson/v1/status`), healthy);
      assert.equal(code, 200, JSON.stringify(body));
      assertHealthyCluster(body, apiservers);
      assert.equal(body.source.via, 'apiserver');
      assert.equal(body.source.apiserver, new URL(a.url).host);
      assert.equal(body.nats.server.name, `keelson-n${i + 1}`, 'the API server reports the NATS server it is on');
    }
    assert.equal((await fetch(`${apiservers[0]!.url}/keelson/v1/status`, { method: 'POST' })).status, 404);
    if (!lb) return t.skip('haproxy is not installed');
    const lbUrl = lb.url;
    const seen = new Set<string>();
    // Three answers in a row come from the three (round robin); a retried one may skip one: a few more then.
    for (let i = 0; i < 9 && seen.size < 3; i++) {
      const { status: code, body } = await eventually('a healthy report through haproxy', () => getJson(`${lbUrl}/keelson/v1/status`), healthy);
      assert.equal(code, 200);
      assertHealthyCluster(body, apiservers);
      seen.add(body.source.apiserver);
    }
    assert.equal(seen.size, 3, `round robin over the three API servers: ${[...seen]}`);
    if (!existsSync('/usr/bin/kubectl')) return;
    const raw = await eventually(
      'a healthy report through kubectl',
      () => run('/usr/bin/kubectl', ['--server', lbUrl, 'get', '--raw', '/keelson/v1/status']),
      (r) => r.code !== 0 || healthy({ status: 200, body: JSON.parse(r.stdout) }),
    );
    assert.equal(raw.code, 0, raw.stderr);
    assertHealthyCluster(JSON.parse(raw.stdout), apiservers);
  });

  test('keelson status: --kubeconfig through the load balancer, --server, -o json, over NATS; the real CLI', async (t) => {
    const server = lb?.url ?? apiservers[0]!.url;
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, kubeconfig({ server }));
    const viaKubeconfig = await status(['--kubeconfig', file]);
    assert.equal(viaKubeconfig.code, 0, viaKubeconfig.err);
    const text = viaKubeconfig.out;
    for (const line of text.trimEnd().split('\n')) t.diagnostic(line);
    assert.match(text, /gathered by the API server at 127\.0\.0\.1:\d+/);
    assert.match(text, /Masters:\n  HOSTNAME +ADDRESS +LAST SEEN\n(  \S+ +127\.0\.0\.1:\d+ +\d+\.\ds ago\n){3}/);
    assert.match(text, /NATS: connected to keelson-n\d \(nats-server 2\.9\.10, cluster keelson\)\n/);
    for (const p of PEERS) assert.match(text, new RegExp(`\\n  ${p} +yes +0 +`));
    assert.match(text, /\n  KV_keelson +3 +keelson-n\d +keelson-n\d, keelson-n\d\n/);
    assert.match(text, /\n  kube-scheduler +sched-a +\d+ +/);
    assert.match(text, /Nodes:\n  NAME +READY +REASON +LEASE RENEWED\n  w1 +True +KubeletReady +\d+\.\ds ago\n$/);

    const json = await status(['--server', apiservers[1]!.url, '-o', 'json']);
    assert.equal(json.code, 0, json.err);
    assertHealthyCluster(JSON.parse(json.out), apiservers);
    const overNats = await status(['--nats', cluster!.urls.join(','), '-o', 'json']);
    assert.equal(overNats.code, 0, overNats.err);
    assert.equal(JSON.parse(overNats.out).source.via, 'nats');

    // The executable's wiring and exit codes.
    const cli = (args: string[]) => run(process.execPath, [...CLI, 'status', ...args]);
    const ok = await cli(['--server', server]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Leaders:\n  ELECTION/);
    const down = await cli(['--server', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /error: could not reach the API server at http:\/\/127\.0\.0\.1:\d+\/keelson\/v1\/status/);
    const help = await run(process.execPath, [...CLI, 'help']);
    assert.match(help.stdout, /status +Cluster health: masters, NATS peers and stream leaders/);
  });

  test('a NATS server goes down: its peer is no longer current and leads no stream', async (t) => {
    await cluster!.servers[2]!.stop();
    const r = await eventually(
      'keelson-n3 reported down',
      () => clusterStatus(nc!),
      (r) => {
        const n3 = r.nats.peers.find((p) => p.name === 'keelson-n3');
        return !!n3 && !n3.current && n3.leads === 0 && r.nats.streams.every((s) => s.leader && s.leader !== 'keelson-n3');
      },
      30_000,
    );
    assert.deepEqual(r.nats.peers.filter((p) => p.current).map((p) => p.name), ['keelson-n1', 'keelson-n2']);
    const text = formatStatus(r);
    for (const line of text.trimEnd().split('\n')) t.diagnostic(line);
    assert.match(text, /\n  keelson-n3 +(no|offline) +/);
  });
});

describe('cluster status: a single nats-server', () => {
  let server: NatsServer | undefined;
  let api: ApiServer | undefined;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-status-single-'));
    server = await startNatsServer({ dataDir: dir });
    api = await startApiServer({ nats: [server.url], host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await api?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('reported as a single server that leads every stream; a 503 Status once NATS is gone', async () => {
    const { status: code, body } = await getJson(`${api!.url}/keelson/v1/status`);
    assert.equal(code, 200, JSON.stringify(body));
    const r = body as ClusterStatus;
    assert.equal(r.nats.clustered, false);
    assert.equal(r.nats.server?.cluster, undefined);
    assert.deepEqual(r.nats.peers.map((p) => [p.name, p.current]), [[server!.serverName, true]]);
    assert.ok(r.nats.streams.some((s) => s.name === 'KV_keelson'));
    for (const s of r.nats.streams) assert.deepEqual([s.name, s.replicas, s.leader, s.followers], [s.name, 1, server!.serverName, []]);
    assert.equal(r.masters.items.length, 1);
    assert.deepEqual(r.nodes.items, []);
    const text = await status(['--server', api!.url]);
    assert.match(text.out, new RegExp(`NATS: connected to ${server!.serverName} \\(nats-server 2\\.9\\.10, single server, no cluster\\)`));

    await server!.stop();
    const gone = await getJson(`${api!.url}/keelson/v1/status`);
    assert.equal(gone.status, 503, JSON.stringify(gone.body));
    assert.equal(gone.body.kind, 'Status');
    assert.equal(gone.body.reason, 'ServiceUnavailable');
    assert.match(gone.body.message, /could not gather the cluster status over NATS: masters: .*; NATS: .*; leaders: /);
    const cli = await status(['--server', api!.url]);
    assert.equal(cli.code, 1);
    assert.match(cli.err, /^Error from server \(ServiceUnavailable\): could not gather the cluster status/);
  });
});
