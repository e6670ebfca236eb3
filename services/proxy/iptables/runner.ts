/**
 * How the backend runs iptables: a command runner, so that everything can run
 * inside a network namespace (`ip netns exec NAME ...`, what the integration test
 * does) or be replaced in unit tests. A command that cannot start or runs too long
 * is an outcome (exit code 127 or 124, with the reason in stderr), not an exception.
 */
import { spawn } from 'node:child_process';

export type CommandResult = { code: number; stdout: string; stderr: string };

/** Runs `argv` (no shell) with `input` on stdin, resolves when it exits. Never rejects. */
export type CommandRunner = (argv: readonly string[], input?: string) => Promise<CommandResult>;

export type ExecRunnerOptions = {
  /** Put before every command, e.g. `['ip', 'netns', 'exec', 'ns1']` or `['nsenter', '-t', pid, '-n']`. */
  prefix?: readonly string[];
  /** A command still running after this long is killed (exit code 124). Default 60 s. */
  timeoutMs?: number;
};

/** Exit code of a command that could not be started (as a shell reports it). */
export const EXIT_NOT_FOUND = 127;
/** Exit code of a command killed for running too long (as `timeout(1)` reports it). */
export const EXIT_TIMED_OUT = 124;

export function execRunner(options: ExecRunnerOptions = {}): CommandRunner {
  const prefix = options.prefix ?? [];
  const timeoutMs = options.timeoutMs ?? 60_000;
  return (argv, input) => {
    const [cmd, ...args] = [...prefix, ...argv];
    return new Promise<CommandResult>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const done = (code: number, extra = '') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() + extra });
      };
      const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done(EXIT_TIMED_OUT, `${cmd} timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => done(EXIT_NOT_FOUND, `cannot run ${cmd}: ${e.message}`));
      child.on('close', (code, signal) => done(code ?? 128, signal ? `${cmd} killed by ${signal}` : ''));
      // A command that exits without reading its input must not crash us with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  };
}

/** Runs every command inside the named network namespace (`ip netns exec NAME`). */
export function netnsRunner(name: string, options: Omit<ExecRunnerOptions, 'prefix'> = {}): CommandRunner {
  return execRunner({ ...options, prefix: ['ip', 'netns', 'exec', name] });
}
