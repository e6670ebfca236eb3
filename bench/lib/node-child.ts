/**
 * A measured Node.js child process: a bench script (TypeScript through tsx, or
 * a compiled .js) with the GC preload of child-memory.ts, read line by line.
 *
 * The child runs in its own process group (Ctrl-C reaches the benchmark, which
 * stops children in order) with a stdin pipe: the bench scripts stop when it
 * closes, so a child never outlives a lost parent for long. Its pid is given to
 * the Cleanup so that it is SIGKILLed if the benchmark dies any other way.
 */
import { spawn } from 'node:child_process';
import { GC_NODE_ARGS, parseMemoryLine, type ChildMemory } from './child-memory.js';
import { rssMB, rssPartsMB, sleep, withTimeout, type Cleanup } from './proc.js';

export type NodeChildOptions = {
  /** For messages: "kubelet", "hollow nodes"... */
  name: string;
  cwd: string;
  /** A .ts file (run through tsx) or a compiled .js file. */
  script: string;
  args?: string[];
  /** Extra node flags (--cpu-prof, --max-old-space-size...). */
  nodeArgs?: string[];
  /** A command node runs under, e.g. `['ip', 'netns', 'exec', NS]` (it must exec node, keeping the pid). */
  prefix?: string[];
  /** Resolve only once a stdout line starts with this. */
  readyMark?: string;
  readyTimeoutMs?: number;
  cleanup: Cleanup;
};

export type NodeChild = {
  pid: number;
  /** 'tsx' when the script is TypeScript run through tsx's loader, else 'node'. */
  loader: 'tsx' | 'node';
  /** The rest of the ready line (after the mark). */
  readyLine: string;
  /** Full GC in the child, then its process.memoryUsage() (MB); waits `settleMs` after. */
  gc(settleMs?: number): Promise<ChildMemory>;
  /** Calls `fn` with every later stdout line that starts with `mark` (the rest of the line); returns an unsubscribe. */
  onLine(mark: string, fn: (rest: string) => void): () => void;
  /** The next stdout line starting with `mark`, within `timeoutMs`. */
  nextLine(mark: string, timeoutMs: number): Promise<string>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Rejects when the child exits before stop() was called. */
  died: Promise<never>;
  stderr(): string;
};

export async function startNodeChild(o: NodeChildOptions): Promise<NodeChild> {
  const loader = o.script.endsWith('.ts') ? 'tsx' : 'node';
  const args = [...GC_NODE_ARGS, ...(o.nodeArgs ?? []), ...(loader === 'tsx' ? ['--import', 'tsx'] : []), o.script, ...(o.args ?? [])];
  const [command, ...prefixArgs] = [...(o.prefix ?? []), process.execPath];
  const child = spawn(command!, [...prefixArgs, ...args], {
    cwd: o.cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const pid = child.pid!;
  o.cleanup.killOnExit(pid);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-16_000)));
  // A child that lost its stdin pipe may be gone already: no EPIPE crash here.
  child.stdin!.on('error', () => undefined);

  const listeners = new Set<{ mark: string; fn: (rest: string) => void }>();
  let memoryWaiter: ((m: ChildMemory) => void) | undefined;
  let pending = '';
  child.stdout!.on('data', (c: Buffer) => {
    pending += c.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = parseMemoryLine(line);
      if (m) {
        memoryWaiter?.(m);
        memoryWaiter = undefined;
        continue;
      }
      for (const l of listeners) if (line.startsWith(l.mark)) l.fn(line.slice(l.mark.length).trim());
    }
  });
  const onLine = (mark: string, fn: (rest: string) => void) => {
    const l = { mark, fn };
    listeners.add(l);
    return () => void listeners.delete(l);
  };

  let stopping = false;
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  const died = exited.then((code) => {
    if (stopping) return new Promise<never>(() => undefined);
    throw new Error(`${o.name} (pid ${pid}) exited (code ${code}) during the benchmark:\n${stderr.split('\n').slice(-30).join('\n')}`);
  });
  died.catch(() => undefined);

  const nextLine = (mark: string, timeoutMs: number) => {
    let off: (() => void) | undefined;
    return withTimeout(
      Promise.race([new Promise<string>((resolve) => (off = onLine(mark, resolve))), died]),
      timeoutMs,
      `${o.name}: a "${mark.trim()}" line`,
    ).finally(() => off?.());
  };

  const stop = async (graceMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    o.cleanup.forget(pid);
  };

  let readyLine = '';
  if (o.readyMark) {
    try {
      readyLine = await nextLine(o.readyMark, o.readyTimeoutMs ?? 60_000);
    } catch (e) {
      stopping = true;
      child.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\n${o.name} stderr:\n${stderr.split('\n').slice(-30).join('\n')}`);
    }
  }

  return {
    pid,
    loader,
    readyLine,
    async gc(settleMs = 1_000) {
      const memory = new Promise<ChildMemory>((resolve) => (memoryWaiter = resolve));
      child.kill('SIGUSR2');
      const m = await withTimeout(Promise.race([memory, died]), 30_000, `${o.name}: memory report after SIGUSR2`);
      await sleep(settleMs);
      return m;
    },
    onLine,
    nextLine,
    send: (line) => void child.stdin!.write(`${line}\n`),
    stop,
    died,
    stderr: () => stderr,
  };
}

/**
 * RSS from /proc right after a forced GC (and 1 s of quiet), split into
 * anonymous and file-backed pages, and the heap figures of that GC.
 */
export type RssAfterGc = { rssMB: number; anonMB: number; fileMB: number; memory: ChildMemory };

export async function rssAfterGc(child: NodeChild): Promise<RssAfterGc> {
  const memory = await child.gc(1_000);
  const parts = rssPartsMB(child.pid);
  return { rssMB: rssMB(child.pid), anonMB: parts.anon, fileMB: parts.file, memory };
}
