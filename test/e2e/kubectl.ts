/**
 * Drives the real `kubectl` on PATH against a `keelson up` cluster: one cluster
 * per test file in a temporary folder, kubectl with its own kubeconfig and
 * discovery cache there, and parsers for what kubectl prints.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../services/lib/nats-server/index.js';
import { ADMIN_USER, joinedTarget } from '../../services/lib/nats-auth/index.js';
import type { NatsTarget } from '../../services/lib/nats/index.js';
import { up, type Cluster } from '../../services/up/index.js';

/** No single kubectl call in these tests should take longer. */
export const KUBECTL_TIMEOUT_MS = 15_000;

export type KubectlResult = { code: number; stdout: string; stderr: string };

export type TestCluster = {
  cluster: Cluster;
  dir: string;
  /** How a test's own controllers reach NATS: as the cluster's admin (system:masters). */
  admin: NatsTarget;
  /** How node `name` reaches NATS: its own user, got as `keelson agent --join` gets it. */
  node(name: string): Promise<NatsTarget>;
  /** What every kubectl child gets: KUBECONFIG, and HOME/KUBECACHEDIR inside `dir`. */
  env: NodeJS.ProcessEnv;
  /** Runs kubectl; rejects only when it could not run or timed out. */
  run(args: string[], opts?: { stdin?: string }): Promise<KubectlResult>;
  /** Runs kubectl and rejects unless it exits 0. */
  ok(args: string[], opts?: { stdin?: string }): Promise<string>;
  /** `kubectl ... -o json`, parsed. */
  json<T = any>(args: string[]): Promise<T>;
  /** Writes a manifest into the cluster folder and returns its path. */
  file(name: string, text: string): string;
  /** Starts a long-running kubectl (e.g. `get -w`), output collected as it comes. */
  spawn(args: string[]): Streaming;
  stop(): Promise<void>;
};

export type Streaming = {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output so far satisfies `pred`; rejects after `ms`. */
  waitFor(pred: (out: string) => boolean, ms?: number): Promise<string>;
  kill(): Promise<void>;
};

export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-e2e-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  let cluster: Cluster;
  try {
    cluster = await up({ dataDir: join(dir, 'data'), natsPort: await freePort(), apiPort: await freePort(), host: '127.0.0.1', nodes: 0 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  // kubectl caches discovery under $HOME/.kube/cache unless told otherwise;
  // each run gets its own so a stale cache of another server never leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    KUBECONFIG: cluster.kubeconfigPath,
    KUBECACHEDIR: join(home, 'cache'),
  };

  const run = (args: string[], opts: { stdin?: string } = {}) =>
    new Promise<KubectlResult>((resolve, reject) => {
      const child = execFile('kubectl', args, { env, timeout: KUBECTL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        // An exit status is a number; 'ENOENT' and the like mean kubectl never ran.
        const e = err as { killed?: boolean; code?: unknown; message: string } | null;
        if (e && (e.killed || typeof e.code !== 'number')) {
          reject(new Error(`kubectl ${args.join(' ')} did not finish: ${e.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
          return;
        }
        resolve({ code: typeof e?.code === 'number' ? e.code : 0, stdout, stderr });
      });
      child.stdin?.end(opts.stdin ?? '');
    });
  const ok = async (args: string[], opts?: { stdin?: string }) => {
    const r = await run(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  const children = new Set<ChildProcess>();

  return {
    cluster,
    dir,
    admin: cluster.credentials.nats.target(ADMIN_USER, [`nats://127.0.0.1:${cluster.nats.port}`]),
    node: (name) => joinedTarget(cluster.joinFilePath, name, join(dir, 'joined', name)),
    env,
    run,
    ok,
    json: async (args) => JSON.parse(await ok([...args, '-o', 'json'])),
    file: (name, text) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    spawn: (args) => {
      const s = streaming(args, env);
      children.add(s.child);
      s.child.once('exit', () => children.delete(s.child));
      return s;
    },
    stop: async () => {
      for (const c of children) c.kill('SIGKILL');
      try {
        await cluster.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function streaming(args: string[], env: NodeJS.ProcessEnv): Streaming {
  const child = spawn('kubectl', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const poke = () => [...waiters].forEach((w) => w());
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    poke();
  });
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  // A safety net: a forgotten watch never outlives the test run.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  guard.unref();
  return {
    child,
    output: () => out,
    waitFor: (pred, ms = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          if (pred(out)) {
            cleanup();
            resolve(out);
          } else if (child.exitCode !== null) {
            cleanup();
            reject(new Error(`kubectl ${args.join(' ')} exited ${child.exitCode}\nstdout: ${out}\nstderr: ${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`kubectl ${args.join(' ')}: no match after ${ms} ms\nstdout: ${out}\nstderr: ${err}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          child.off('exit', check);
        };
        waiters.push(check);
        child.on('exit', check);
        check();
      }),
    kill: async () => {
      clearTimeout(guard);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One printed table: its column names and rows keyed by column name. */
export type PrintedTable = { columns: string[]; rows: Record<string, string>[] };

/**
 * Parses kubectl's column output. Cells are cut at the columns' header
 * positions (kubectl aligns them with a tab writer), so cells with spaces in
 * them ("Successfully assigned ...") survive. Several tables (as `get all`
 * prints) are separated by blank lines.
 */
export function parseTables(text: string): PrintedTable[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => block.split('\n').filter((l) => l.trim() !== ''))
    .filter((lines) => lines.length > 0)
    .map(parseOne);
}

export function parseTable(text: string): PrintedTable {
  const tables = parseTables(text);
  if (tables.length !== 1) throw new Error(`expected one table, got ${tables.length}:\n${text}`);
  return tables[0]!;
}

function parseOne(lines: string[]): PrintedTable {
  const header = lines[0]!;
  // Column names are upper case words joined by single spaces ("NOMINATED NODE").
  const starts: { name: string; at: number }[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) starts.push({ name: m[0], at: m.index! });
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    starts.forEach((c, i) => {
      const end = i + 1 < starts.length ? starts[i + 1]!.at : undefined;
      row[c.name] = line.slice(c.at, end).trim();
    });
    return row;
  });
  return { columns: starts.map((s) => s.name), rows };
}
