/**
 * Processes a benchmark starts and measures: memory and CPU read from /proc,
 * and a cleanup list that runs on normal exit, on failure and on Ctrl-C, so no
 * nats-server or API server outlives the run.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of a process in MB (VmRSS in /proc/<pid>/status). */
export function rssMB(pid: number): number {
  return statusKB(pid, 'VmRSS') / 1024;
}

/**
 * The RSS split: anonymous pages (heap, stacks: the process's own) and
 * file-backed ones (mostly the node binary's code, shared with every other
 * node process on the machine), MB.
 */
export function rssPartsMB(pid: number): { anon: number; file: number } {
  return { anon: statusKB(pid, 'RssAnon') / 1024, file: (statusKB(pid, 'RssFile') + statusKB(pid, 'RssShmem')) / 1024 };
}

/** Peak resident set size of a process in MB (VmHWM). */
export function peakRssMB(pid: number): number {
  return statusKB(pid, 'VmHWM') / 1024;
}

function statusKB(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** The pids of a process's children now (the children file of each of its threads in /proc); [] once it is gone. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** A process and its descendants now. */
export function treePids(pid: number): number[] {
  return [pid, ...childPids(pid).flatMap(treePids)];
}

/** cpuSeconds of a process and of its descendants alive now (the proxy and its forwarders, say). */
export function treeCpuSeconds(pid: number): number {
  return treePids(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** rssMB of a process and its descendants. */
export function treeRssMB(pid: number): number {
  return treePids(pid).reduce((sum, p) => sum + rssMB(p), 0);
}

/** peakRssMB of a process plus its descendants' (an upper bound: the peaks need not coincide). */
export function treePeakRssMB(pid: number): number {
  return treePids(pid).reduce((sum, p) => sum + peakRssMB(p), 0);
}

/** CPU seconds all processes of the machine have used (busy time in /proc/stat, all cores). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, ...ticks] = line.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user, nice, system, , , irq, softirq, steal] = ticks as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

type CleanupFn = () => Promise<void> | void;

/**
 * Cleanup steps, run last-in first-out exactly once: by `run()` (the finally
 * of a scenario), on SIGINT/SIGTERM, or — synchronously, as a last resort — by
 * `killOnExit` pids when the process exits any other way.
 */
export class Cleanup {
  private readonly steps: { name: string; fn: CleanupFn }[] = [];
  private readonly pids = new Set<number>();
  private running?: Promise<void>;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopping everything the benchmark started...\n`);
    void this.run().finally(() => process.exit(130));
  };
  private readonly onExit = () => {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('exit', this.onExit);
  }

  add(name: string, fn: CleanupFn): void {
    this.steps.push({ name, fn });
  }

  /** A child that must never outlive this process, even on a crash. */
  killOnExit(pid: number): void {
    this.pids.add(pid);
  }

  forget(pid: number): void {
    this.pids.delete(pid);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length) {
        const step = this.steps.pop()!;
        try {
          await withTimeout(Promise.resolve().then(step.fn), 15_000, `cleanup "${step.name}"`);
        } catch (e) {
          process.stderr.write(`cleanup "${step.name}" failed: ${(e as Error).message}\n`);
        }
      }
      this.onExit();
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
      process.off('exit', this.onExit);
    })();
    return this.running;
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` every `everyMs` until it gives a value (not undefined); rejects
 * with `${what}: not within ${timeoutMs} ms` at the deadline.
 */
export async function pollUntil<T>(what: string, probe: () => T | undefined, timeoutMs: number, everyMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
