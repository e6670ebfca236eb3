/**
 * The compose HA cluster (docker-compose.yml) as a program sees it: bring it up
 * and wait until it serves, find the containers of a master or a worker by
 * their labels, and tear everything down — the compose project, its volumes,
 * the network and the pod containers the workers made (compose does not know
 * those). Used by `npm run cluster:*` (cluster.ts) and the chaos tests, which
 * run their own cluster beside the user's under another name.
 *
 *   const c = composeCluster({ name: 'keelson-chaos', apiPort: 16443 });
 *   await composeUp(c); ... await composeDown(c);
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterStatus } from '../../services/apiserver/cluster-status/index.js';
import { fetchText, type TlsClientOptions } from '../../services/lib/fetch/index.js';
import { ensureTokenFile, MASTERS_GROUP } from '../../services/apiserver/authn/index.js';
import { VIEWERS_GROUP } from '../../services/apiserver/authz/index.js';
import { SERVICE_NAMES, VIEWER_USER } from '../../services/up/credentials.js';
import { kubeconfig } from '../../services/up/kubeconfig.js';
import { ELECTIONS_BUCKET } from '../../services/lib/leader-election/index.js';
import {
  ADMIN_USER,
  APISERVER_USER,
  CONTROL_PLANE_USERS,
  CONTROLLER_MANAGER_USER,
  credentialsFileName,
  nodeUser,
  SCHEDULER_USER,
  securedNats,
  writeNatsCredential,
} from '../../services/lib/nats-auth/index.js';
import { ClusterPki } from '../../services/lib/pki/index.js';
import { clusterBlock, routeUrl, tlsBlock } from '../../services/lib/nats-server/index.js';
import { DEFAULT_BUCKET } from '../../services/lib/store/index.js';

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, '../..');
export const MASTERS = [1, 2, 3] as const;
/** The admin's client certificate in the cluster's pki (CN keelson-admin, O system:masters). */
const ADMIN_CERT = 'admin';
/** The CN haproxy's client certificate has: the API servers trust its X-Remote-* headers (--requestheader-allowed-names). */
export const FRONT_PROXY = 'front-proxy';
export const WORKERS = ['worker-1', 'worker-2'] as const;

export type ComposeCluster = {
  /** Compose project; prefix of the network and the node names. */
  name: string;
  /** haproxy's port on 127.0.0.1. */
  apiPort: number;
  /** `https://127.0.0.1:<apiPort>`, through haproxy. */
  api: string;
  /** The cluster CA and the admin's client certificate (read once the cluster's pki exists). */
  tls(): TlsClientOptions;
  /** Host folder of the workers' node data (bind-mounted at the same path). */
  dataDir: string;
  kubeconfigPath: string;
  /** The environment docker-compose runs with (the file's variables). */
  env: NodeJS.ProcessEnv;
};

export type ClusterOptions = { name?: string; apiPort?: number; dataDir?: string; kubeconfigPath?: string };

export function composeCluster(o: ClusterOptions = {}): ComposeCluster {
  const name = o.name ?? process.env.KEELSON_CLUSTER ?? 'keelson';
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`the cluster name "${name}" must be lower-case letters, digits and dashes`);
  const apiPort = o.apiPort ?? Number(process.env.KEELSON_API_PORT ?? 6443);
  const dataDir = resolve(o.dataDir ?? process.env.KEELSON_COMPOSE_DATA ?? join(ROOT, '.keelson', 'compose'));
  const env = { ...process.env, KEELSON_CLUSTER: name, KEELSON_API_PORT: String(apiPort), KEELSON_COMPOSE_DATA: dataDir };
  const pkiDir = join(dataDir, name, 'pki');
  let tls: TlsClientOptions | undefined;
  const read = (f: string) => readFileSync(join(pkiDir, f), 'utf8');
  return {
    name,
    apiPort,
    api: `https://127.0.0.1:${apiPort}`,
    tls: () => (tls ??= { ca: read('ca.crt'), cert: read(`${ADMIN_CERT}.crt`), key: read(`${ADMIN_CERT}.key`) }),
    dataDir,
    kubeconfigPath: o.kubeconfigPath ?? join(dataDir, 'kubeconfig'),
    env,
  };
}

/** The node name of a worker service, as its kubelet registers it. */
export const nodeName = (c: ComposeCluster, worker: string) => `${c.name}-${worker}`;

/** Runs docker-compose for this cluster; rejects with its output when it fails. */
export async function compose(c: ComposeCluster, args: string[], timeoutMs = 300_000): Promise<string> {
  try {
    const { stdout, stderr } = await run('docker-compose', ['-p', c.name, '-f', join(ROOT, 'docker-compose.yml'), ...args], {
      cwd: ROOT,
      env: c.env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`docker-compose ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

export async function docker(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** Container ids of this cluster carrying `label` (`io.keelson.master=1`, ...), running or not. */
export async function containersWith(c: ComposeCluster, label: string, opts: { podsToo?: boolean } = {}): Promise<string[]> {
  const filters = ['--filter', `label=${label}`];
  if (!opts.podsToo) filters.push('--filter', `label=com.docker.compose.project=${c.name}`);
  const out = await docker(['ps', '-aq', ...filters]);
  return out ? out.split('\n') : [];
}

/** Every container of master `n` (its nats-server and its `keelson server`). */
export const masterContainers = (c: ComposeCluster, n: number) => containersWith(c, `io.keelson.master=${n}`);

/** The worker's own container (not its pods). */
export const workerContainers = (c: ComposeCluster, worker: string) => containersWith(c, `io.keelson.node=${nodeName(c, worker)}`);

/** The pod containers a worker's kubelet made (sandboxes and app containers). */
export async function podContainers(c: ComposeCluster, worker?: string): Promise<string[]> {
  const workers = worker ? [worker] : [...WORKERS];
  const ids = await Promise.all(workers.map(async (w) => (await containersWith(c, `io.keelson.node=${nodeName(c, w)}`, { podsToo: true })).filter(Boolean)));
  const own = new Set((await Promise.all(workers.map((w) => workerContainers(c, w)))).flat());
  return ids.flat().filter((id) => !own.has(id));
}

export type UpOptions = {
  /** Rebuild the keelson image first (default: only when missing). */
  build?: boolean;
  /** How long to wait for the API through haproxy and for every worker's node to be Ready. */
  timeoutMs?: number;
  log?: (line: string) => void;
};

/** Starts the cluster (or the parts that are not running) and waits until it serves; writes the kubeconfig. Returns the dashboard's viewer token. */
export async function composeUp(c: ComposeCluster, o: UpOptions = {}): Promise<{ viewerToken: string }> {
  const log = o.log ?? (() => undefined);
  for (const w of WORKERS) mkdirSync(join(c.dataDir, c.name, w), { recursive: true });
  const { made, viewerToken } = preparePki(c);
  if (made.length) log(`made: ${made.join(', ')}`);
  await buildImages(log);
  log(`starting the compose project ${c.name}`);
  await compose(c, ['up', '-d', ...(o.build ? ['--build'] : [])]);
  writeKubeconfig(c);
  await waitServing(c, o.timeoutMs ?? 120_000, log);
  return { viewerToken };
}

/**
 * The cluster's CA, the certificates and each component's NATS user, made on
 * first start in DATA/<name>/pki and kept (lib/pki, lib/nats-auth); then what
 * each container is given, and nothing more, in DATA/<name>/mounts/<who>
 * (mounted at /etc/keelson): the nats-servers their config (TLS for clients
 * and routes, the users and their permissions), certificate and key; the
 * masters the CA, the API servers' serving certificate and the API server's,
 * scheduler's and controller-manager's NATS credentials; haproxy its serving
 * certificate and the front proxy's client certificate; each worker the CA and
 * its node's own NATS credential. Returns what it made now, and the read-only
 * viewer's bearer token (for the dashboard link).
 */
export function preparePki(c: ComposeCluster): { made: string[]; viewerToken: string } {
  const home = join(c.dataDir, c.name);
  const pki = new ClusterPki(join(home, 'pki'));
  const nodes = WORKERS.map((w) => nodeName(c, w));
  const secured = securedNats(pki, join(home, 'pki', 'nats'), {
    users: [...CONTROL_PLANE_USERS, ...nodes.map(nodeUser)],
    hosts: ['nats-1', 'nats-2', 'nats-3', 'localhost', '127.0.0.1'],
    buckets: { store: DEFAULT_BUCKET, elections: ELECTIONS_BUCKET },
  });
  const apiserver = pki.ensure('apiserver', {
    commonName: 'keelson-apiserver',
    hosts: [...MASTERS.map((n) => `master-${n}`), 'localhost', '127.0.0.1', ...SERVICE_NAMES],
    usage: 'server',
  });
  const haproxy = pki.ensure('haproxy', { commonName: 'keelson-haproxy', hosts: ['haproxy', 'localhost', '127.0.0.1', ...SERVICE_NAMES], usage: 'server' });
  const frontProxy = pki.ensure(FRONT_PROXY, { commonName: FRONT_PROXY, usage: 'client' });
  pki.ensure(ADMIN_CERT, { commonName: ADMIN_USER, organizations: [MASTERS_GROUP], usage: 'client' });
  // Written in place (a running container keeps seeing its folder; the API servers read tokens.csv again when it changes).
  const mount = (who: string) => {
    const dir = join(home, 'mounts', who);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(pki.ca.certFile, join(dir, 'ca.crt'));
    return dir;
  };
  const nats = mount('nats');
  copyFileSync(secured.tls.certFile, join(nats, 'tls.crt'));
  copyFileSync(secured.tls.keyFile, join(nats, 'tls.key'));
  // Routes log in with a secret of their own (kept beside the CA): a certificate of the CA alone opens none.
  const secretFile = join(home, 'pki', 'route-secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const secret = readFileSync(secretFile, 'utf8').trim();
  const files = { certFile: '/etc/keelson/tls.crt', keyFile: '/etc/keelson/tls.key', caFile: '/etc/keelson/ca.crt' };
  writeFileSync(
    join(nats, 'nats-server.conf'),
    [
      readFileSync(join(ROOT, 'scripts', 'compose', 'nats.conf'), 'utf8'),
      '# Made by scripts/compose/compose-cluster.ts (preparePki): TLS for clients and routes, the routes, the users.',
      ...tlsBlock(files),
      // Every server lists all three routes (its own is dropped); its name comes as a flag (docker-compose.yml).
      ...clusterBlock({ name: 'keelson', listen: '0.0.0.0:6222', routes: MASTERS.map((n) => routeUrl(`nats-${n}`, 6222, secret)), secret, tls: files }),
      secured.authorization(),
    ].join('\n'),
    { mode: 0o600 },
  );
  // A read-only user for the dashboard link, as keelson up has one.
  const viewer = ensureTokenFile(join(home, 'pki', 'tokens.csv'), [{ name: VIEWER_USER, groups: [VIEWERS_GROUP] }]).get(VIEWER_USER)!;
  const master = mount('master');
  copyFileSync(join(home, 'pki', 'tokens.csv'), join(master, 'tokens.csv'));
  copyFileSync(apiserver.certFile, join(master, 'apiserver.crt'));
  copyFileSync(apiserver.keyFile, join(master, 'apiserver.key'));
  mkdirSync(join(master, 'nats'), { recursive: true });
  for (const user of [APISERVER_USER, SCHEDULER_USER, CONTROLLER_MANAGER_USER]) writeNatsCredential(join(master, 'nats', credentialsFileName(user)), secured.credential(user));
  for (const w of WORKERS) writeNatsCredential(join(mount(w), 'nats.json'), secured.credential(nodeUser(nodeName(c, w))));
  // haproxy wants each certificate and its key in one PEM file.
  const lb = mount('haproxy');
  writeFileSync(join(lb, 'haproxy.pem'), haproxy.cert + haproxy.key, { mode: 0o600 });
  writeFileSync(join(lb, 'front-proxy.pem'), frontProxy.cert + frontProxy.key, { mode: 0o600 });
  handTo(lb, HAPROXY_UID);
  return { made: pki.issued, viewerToken: viewer };
}

/** haproxy runs as its image's user: uid 99 in the official image, and in the one scripts/build-images.sh lays out like it. */
const HAPROXY_UID = 99;

/** Makes a mount folder and its files `uid`'s (the container's user); not being root, readable by all instead. */
function handTo(dir: string, uid: number): void {
  const files = readdirSync(dir).map((f) => join(dir, f));
  try {
    for (const p of [dir, ...files]) chownSync(p, uid, uid);
  } catch {
    chmodSync(dir, 0o755);
    for (const f of files) chmodSync(f, 0o644);
  }
}

/** `scripts/build-images.sh all`: the offline base images when missing, and keelson:dev (its layer cache makes an unchanged tree ~1 s). */
export async function buildImages(log: (line: string) => void = () => undefined): Promise<void> {
  await new Promise<void>((res, rej) => {
    const child = spawn('bash', [join(ROOT, 'scripts', 'build-images.sh'), 'all'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const line = (d: Buffer) => {
      out += d;
      for (const l of d.toString().split('\n')) if (l.trim()) log(l);
    };
    child.stdout.on('data', line);
    child.stderr.on('data', line);
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`scripts/build-images.sh failed (exit ${code}):\n${out.slice(-4000)}`))));
  });
}

/** The admin's kubeconfig: haproxy's address, the cluster CA, the admin's client certificate. */
export function writeKubeconfig(c: ComposeCluster): void {
  mkdirSync(resolve(c.kubeconfigPath, '..'), { recursive: true });
  const { ca, cert, key } = c.tls();
  writeFileSync(c.kubeconfigPath, kubeconfig({ server: c.api, name: c.name, ca, credential: { cert: cert!, key: key! }, user: ADMIN_USER }), { mode: 0o600 });
}

/**
 * Until haproxy answers /readyz, all three API servers report in and have each
 * answered through haproxy (it sends to every one of them), and every worker's
 * Node is Ready (bounded).
 */
export async function waitServing(c: ComposeCluster, timeoutMs: number, log: (line: string) => void = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing yet';
  let said = '';
  const answeredBy = new Set<string>();
  while (Date.now() < deadline) {
    try {
      const readyz = await fetchText(`${c.api}/readyz`, {}, 2_000, c.tls());
      if (readyz.status !== 200) throw new Error(`/readyz through haproxy: ${readyz.status}`);
      const status = JSON.parse((await fetchText(`${c.api}/keelson/v1/status`, {}, 8_000, c.tls())).text) as ClusterStatus;
      if (status.source?.hostname) answeredBy.add(status.source.hostname);
      const ready = new Set(status.nodes?.items?.filter((n) => n.ready === 'True').map((n) => n.name));
      const notReady = WORKERS.map((w) => nodeName(c, w)).filter((n) => !ready.has(n));
      const masters = new Set(status.masters?.items?.map((m) => m.hostname));
      const missing = MASTERS.map((n) => `master-${n}`).filter((m) => !masters.has(m) || !answeredBy.has(m));
      if (notReady.length === 0 && missing.length === 0) return;
      last = [notReady.length ? `nodes not Ready yet: ${notReady.join(', ')}` : '', missing.length ? `API servers not serving through haproxy yet: ${missing.join(', ')}` : ''].filter(Boolean).join('; ');
    } catch (e) {
      last = (e as Error).message;
    }
    if (last !== said) log(`waiting: ${(said = last)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the compose cluster ${c.name} did not come up in ${timeoutMs / 1000} s: ${last}\n(see: docker-compose -p ${c.name} logs)`);
}

/** Removes everything: compose containers and volumes, the workers' pods, the network, the node data. */
export async function composeDown(c: ComposeCluster, log: (line: string) => void = () => undefined): Promise<void> {
  // Pods first: they sit on the compose network, which cannot go while they are attached.
  const pods = await podContainers(c);
  if (pods.length) {
    log(`removing ${pods.length} pod containers`);
    await docker(['rm', '-f', ...pods]);
  }
  log(`removing the compose project ${c.name}`);
  await compose(c, ['down', '-v', '--remove-orphans', '--timeout', '10']);
  const leftover = await containersWith(c, `com.docker.compose.project=${c.name}`);
  if (leftover.length) await docker(['rm', '-f', ...leftover]);
  rmSync(join(c.dataDir, c.name), { recursive: true, force: true });
}
