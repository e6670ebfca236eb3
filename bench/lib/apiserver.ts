/**
 * The API server under test, as a child process of its own (`node
 * bin/keelson.js apiserver ...`) so that its memory and CPU can be read alone.
 *
 * Two measurement aids are added on the node command line, none in Keelson's
 * code: `--expose-gc` plus a one-line preload that runs a full GC on SIGUSR2
 * (so "RSS after GC" means what it says), and optionally `--cpu-prof`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../services/lib/nats-server/index.js';
import { GC_NODE_ARGS, parseMemoryLine, type ChildMemory } from './child-memory.js';
import { sleep } from './proc.js';

export type ApiServerChild = {
  url: string;
  pid: number;
  /** 'dist' when bin/keelson.js runs the compiled CLI, 'tsx' when it compiles the TypeScript on the fly, 'compiled' for a temporary tsc build. */
  mode: 'dist' | 'tsx' | 'compiled';
  /**
   * Asks the child for a full garbage collection, waits `settleMs`, and returns
   * its process.memoryUsage() right after that GC (MB).
   */
  gc(settleMs?: number): Promise<ChildMemory>;
  /** SIGTERM (the CLI stops cleanly, which also writes a CPU profile), SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** Rejects when the child exits before stop() was called. */
  died: Promise<never>;
  /** The last lines the child wrote on stderr. */
  stderr(): string;
};

export type { ChildMemory } from './child-memory.js';

export async function startApiServerChild(opts: {
  root: string;
  natsUrl: string;
  cpuProfDir?: string;
  readyTimeoutMs?: number;
  /** Run this compiled CLI (services/cli/main.js of a build) instead of bin/keelson.js. */
  compiledMain?: string;
  /** Extra node flags (experiments: heap sizing, --trace-gc...). */
  nodeArgs?: string[];
  /** Also copy the child's stdout and stderr into this file. */
  logFile?: string;
  /** More `keelson apiserver` flags (e.g. --replicas 3). */
  args?: string[];
}): Promise<ApiServerChild> {
  const port = await freePort();
  const nodeArgs = [...GC_NODE_ARGS];
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  nodeArgs.push(...(opts.nodeArgs ?? []));
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, opts.compiledMain ?? join(opts.root, 'bin', 'keelson.js'), 'apiserver', '--nats', opts.natsUrl, '--port', String(port), '--host', '127.0.0.1', ...(opts.args ?? [])],
    { cwd: opts.root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.once('exit', () => log.end());
  }
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-8_000);
  });
  let stopping = false;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const died = exited.then((code) => {
    if (stopping) return new Promise<never>(() => undefined);
    throw new Error(`the API server exited (code ${code}) during the benchmark:\n${stderr}`);
  });
  died.catch(() => undefined);

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the API server was not serving after ${opts.readyTimeoutMs ?? 60_000} ms:\n${stderr}`)), opts.readyTimeoutMs ?? 60_000);
    child.stdout!.on('data', (c: Buffer) => {
      if (stdout.includes('serving on')) return;
      stdout += c.toString();
      if (stdout.includes('serving on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the API server exited (code ${code}) before serving:\n${stderr}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    stopping = true;
    child.kill('SIGKILL');
    throw e;
  }
  let memoryWaiter: ((m: ChildMemory) => void) | undefined;
  let pendingLine = '';
  child.stdout!.on('data', (c: Buffer) => {
    pendingLine += c.toString();
    let nl: number;
    while ((nl = pendingLine.indexOf('\n')) >= 0) {
      const line = pendingLine.slice(0, nl);
      pendingLine = pendingLine.slice(nl + 1);
      const m = parseMemoryLine(line);
      if (!m) continue;
      memoryWaiter?.(m);
      memoryWaiter = undefined;
    }
  });

  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    mode: opts.compiledMain ? 'compiled' : existsSync(join(opts.root, 'dist', 'services', 'cli', 'main.js')) ? 'dist' : 'tsx',
    async gc(settleMs = 1_000) {
      const memory = new Promise<ChildMemory>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the API server did not report its memory after SIGUSR2')), 10_000);
        memoryWaiter = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
      });
      child.kill('SIGUSR2');
      const m = await memory;
      await sleep(settleMs);
      return m;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    died,
    stderr: () => stderr,
  };
}

/**
 * Compiles the project with tsc into `outDir` (not dist/, which bin/keelson.js
 * would pick up for everyone) and returns the path of the compiled CLI. Type
 * errors do not stop the emit; a missing output does.
 */
export function compileProject(root: string, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  // Bare imports (fastify, @nats-io/...) resolve from the build's own folder.
  symlinkSync(join(root, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', outDir, '--sourceMap', 'false'], {
    cwd: root,
    stdio: 'ignore',
  });
  const main = join(outDir, 'services', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`tsc did not produce ${main}`);
  return main;
}
