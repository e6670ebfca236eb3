/**
 * A `keelson <command>` process of a benchmark (the compiled CLI of the code
 * measured), read line by line from stdout and stderr together, each line
 * stamped with the monotonic time it arrived. Meant for processes the
 * benchmark kills on purpose: their exit is an event, not a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { nowMs } from './stats.js';
import { withTimeout, type Cleanup } from './proc.js';

export type CliLine = { atMs: number; text: string };

export type CliProcess = {
  readonly name: string;
  readonly pid: number;
  /** Calls `fn` with every later line matching `re`; returns an unsubscribe. */
  onLine(re: RegExp, fn: (line: CliLine) => void): () => void;
  /** The next line matching `re`, within `timeoutMs`. */
  nextLine(re: RegExp, timeoutMs: number): Promise<CliLine>;
  /** Sends a signal; resolves with the monotonic time just before it was sent. */
  signal(sig: NodeJS.Signals): number;
  /** Resolves once the process is gone, with the time its exit was seen. */
  readonly exited: Promise<number>;
  alive(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it wrote. */
  tail(): string;
};

export function startCli(o: { name: string; cliMain: string; cwd: string; args: string[]; cleanup: Cleanup }): CliProcess {
  const child: ChildProcess = spawn(process.execPath, [o.cliMain, ...o.args], {
    cwd: o.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const pid = child.pid!;
  o.cleanup.killOnExit(pid);
  const listeners = new Set<{ re: RegExp; fn: (l: CliLine) => void }>();
  let tail = '';
  const reader = () => {
    let pending = '';
    return (c: Buffer) => {
      const atMs = nowMs();
      pending += c.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        tail = `${tail}${text}\n`.slice(-8_000);
        for (const l of listeners) if (l.re.test(text)) l.fn({ atMs, text });
      }
    };
  };
  child.stdout!.on('data', reader());
  child.stderr!.on('data', reader());
  const exited = new Promise<number>((resolve) =>
    child.once('exit', () => {
      o.cleanup.forget(pid);
      resolve(nowMs());
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const onLine = (re: RegExp, fn: (l: CliLine) => void) => {
    const l = { re, fn };
    listeners.add(l);
    return () => void listeners.delete(l);
  };
  return {
    name: o.name,
    pid,
    onLine,
    nextLine(re, timeoutMs) {
      let off: (() => void) | undefined;
      const gone = exited.then(() => Promise.reject(new Error(`${o.name} exited while waiting for ${re}:\n${tail}`)));
      gone.catch(() => undefined);
      return withTimeout(Promise.race([new Promise<CliLine>((resolve) => (off = onLine(re, resolve))), gone]), timeoutMs, `${o.name}: a line matching ${re}`).finally(
        () => off?.(),
      );
    },
    signal(sig) {
      const at = nowMs();
      if (alive()) child.kill(sig);
      return at;
    },
    exited,
    alive,
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    tail: () => tail,
  };
}
