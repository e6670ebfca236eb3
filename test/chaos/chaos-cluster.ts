/**
 * What every chaos test stands on: its own compose HA cluster (docker-compose.yml,
 * under a name of its own beside any cluster of the user's, haproxy on a free
 * loopback port), torn down after the test whether it passed or not; kubectl
 * through the load balancer; and small reads of the API the scenarios assert on.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../services/lib/nats-server/index.js';
import { fetchText } from '../../services/lib/fetch/index.js';
import { until } from '../harness/wait.js';
import { composeCluster, composeDown, composeUp, type ComposeCluster } from '../../scripts/compose/compose-cluster.js';
import type { ApiEndpoint, LoadReport } from './write-load.js';

const run = promisify(execFile);

export type ChaosCluster = ComposeCluster & {
  /** The API through haproxy as the admin (HTTPS, the cluster CA, the admin's certificate): for write loads. */
  http: ApiEndpoint;
  /** Runs kubectl through haproxy; resolves with its exit code and output (never rejects). */
  kubectl(args: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** GET of an API path through haproxy, parsed; rejects on a non-2xx answer. */
  get<T = any>(path: string): Promise<T>;
  /** Writes a manifest to a scratch folder and returns its path. */
  file(name: string, text: string): string;
  log(line: string): void;
  /** The last lines a compose service's container printed (both streams), for a failing test's diagnostics. */
  logs(service: string, tail?: number): Promise<string>;
};

type Hooks = { after(fn: () => Promise<void> | void): void; diagnostic?(message: string): void };

/** Brings up a fresh cluster for this test file (removing a leftover of a crashed run first). */
export async function startChaosCluster(t: Hooks, name: string): Promise<ChaosCluster> {
  const scratch = mkdtempSync(join(tmpdir(), `${name}-`));
  const home = join(scratch, 'home');
  mkdirSync(home);
  const base = composeCluster({ name, apiPort: await freePort(), dataDir: join(scratch, 'data') });
  const log = (line: string) => process.stderr.write(`# ${name}: ${line}\n`);
  t.after(async () => {
    await composeDown(base, log).catch((e: Error) => log(`teardown failed: ${e.message}`));
    rmSync(scratch, { recursive: true, force: true });
  });
  await composeDown(base).catch(() => undefined);
  try {
    await composeUp(base, { timeoutMs: 180_000, log });
  } catch (e) {
    // The teardown removes the containers: what they said goes with the failure.
    for (const s of CLUSTER_SERVICES) for (const line of `--- ${s}:\n${await serviceLogs(name, s, 40)}`.trimEnd().split('\n')) log(line);
    throw e;
  }
  const env = { PATH: process.env.PATH, HOME: home, KUBECONFIG: base.kubeconfigPath };
  return {
    ...base,
    http: { url: base.api, tls: base.tls() },
    log,
    kubectl: async (args, opts = {}) => {
      const child = run('kubectl', args, { env, timeout: opts.timeoutMs ?? 20_000 });
      if (opts.stdin !== undefined) child.child.stdin?.end(opts.stdin);
      try {
        const { stdout, stderr } = await child;
        return { code: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
        return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr || err.message };
      }
    },
    get: async (path) => {
      // As a client should: a 503 (an API server whose cache is catching up after a failover) is tried again, for up to 30 s.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { status, text } = await fetchText(`${base.api}${path}`, {}, 10_000, base.tls());
        if (status === 503 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        if (status < 200 || status > 299) throw new Error(`GET ${path}: HTTP ${status}: ${text.slice(0, 300)}`);
        return JSON.parse(text);
      }
    },
    logs: (service, tail = 40) => serviceLogs(name, service, tail),
    file: (fileName, text) => {
      const p = join(scratch, fileName);
      writeFileSync(p, text);
      return p;
    },
  };
}

/** The compose services of Keelson's own processes and the load balancer, whose logs a failure prints. */
export const CLUSTER_SERVICES = ['master-1', 'master-2', 'master-3', 'haproxy', 'worker-1', 'worker-2'];

/** The last `tail` lines a compose service wrote (stdout and stderr). */
async function serviceLogs(project: string, service: string, tail: number): Promise<string> {
  try {
    const { stdout, stderr } = await run('docker', ['logs', '--tail', String(tail), `${project}_${service}_1`], { maxBuffer: 16 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  } catch (e) {
    return `(no logs: ${(e as Error).message})`;
  }
}

/**
 * Acknowledged writes (Leases in `namespace`) missing from a list, each looked up by
 * name: a list taken while an API server caught up may lack a write the store has.
 * Returns the ones a GET does not find (404) — served by an API server's watch cache
 * once it holds the store's head revision, so missing from the store: those are lost.
 */
export async function lookUpUnlisted(c: ChaosCluster, namespace: string, report: LoadReport, notListed: string[], note: (line: string) => void): Promise<string[]> {
  const lost: string[] = [];
  for (const n of notListed) {
    const res = await fetchText(`${c.api}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${n}`, {}, 10_000, c.tls());
    note(`acknowledged ${n} at rv ${report.acked.get(n)} is not listed; GET says ${res.status}`);
    if (res.status === 404) lost.push(n);
  }
  return lost;
}

/** The identity holding an election's Lease mirror (kube-system/<name>), e.g. `master-2`. */
export async function leaseHolder(c: ChaosCluster, election: 'kube-scheduler' | 'kube-controller-manager'): Promise<string | undefined> {
  try {
    const lease = await c.get<{ spec?: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${election}`);
    return lease.spec?.holderIdentity;
  } catch {
    return undefined;
  }
}

/** The names of the Leases in a namespace (what the write load creates). */
export async function leaseNames(c: ChaosCluster, namespace: string): Promise<Set<string>> {
  const list = await c.get<{ items: { metadata: { name: string } }[] }>(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`);
  return new Set(list.items.map((l) => l.metadata.name));
}

/** An RC of `replicas` busybox pods that sleep (the image every machine here has offline). */
export function sleeperRC(name: string, namespace: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { app: name },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'sleep', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
      },
    },
  });
}

export type PodList = { items: { metadata: { name: string; uid: string; deletionTimestamp?: string }; spec: { nodeName?: string }; status?: { phase?: string } }[] };

/** Running and not being deleted. */
export function isRunning(p: PodList['items'][number]): boolean {
  return p.status?.phase === 'Running' && !p.metadata.deletionTimestamp;
}

export async function runningPods(c: ChaosCluster, namespace: string, app: string): Promise<PodList['items']> {
  const pods = await c.get<PodList>(`/api/v1/namespaces/${namespace}/pods?labelSelector=app%3D${app}`);
  return pods.items.filter(isRunning);
}

/** `until` as the chaos tests poll: every 250 ms, an error (a master down) only meaning "not yet". */
export function waitUntil<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  return until(what, probe, ms, { intervalMs: 250, retryOn: () => true });
}
