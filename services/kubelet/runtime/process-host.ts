/**
 * The host-side pieces of the process runtime: FIFOs for a child's output, process
 * identity that survives PID reuse, and signalling a whole process group.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';

/** Creates a named pipe (Node has no mkfifo of its own). */
export function mkfifo(path: string): void {
  execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
}

/**
 * The descriptor a child writes its output to. Opened read-write, so the child
 * itself counts as a reader: its writes never fail with EPIPE while no kubelet
 * reads (the pipe buffers 64 KiB, then the writer waits for the next kubelet).
 */
export function openFifoForChild(path: string): number {
  return openSync(path, constants.O_RDWR);
}

/** The kubelet's end of a FIFO, as a stream that ends when every writer has closed it. */
export function openFifoReader(path: string): Readable {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  // Linux reports hang-up to a FIFO reader only if a writer opened after it did
  // ("suppress EPOLLHUP until we have seen a writer"). Writers that were already
  // there (a child we adopt, or one that exited before we read) would otherwise
  // leave us waiting forever: open and close a writer once, so the last close counts.
  closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  return new Socket({ fd, readable: true, writable: false });
}

/**
 * The process's start time in clock ticks since boot (field 22 of /proc/PID/stat):
 * with the PID, it names one process for good, even after the PID is reused.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 is the 20th after the state field
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive (not a zombie) and is still the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return false;
    return startTime === undefined || rest[19] === startTime;
  } catch {
    return false;
  }
}

/** Signals the process group (the child was started as its leader); false when it is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Signals one process; false when it is gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Kubernetes' exit code for a process killed by a signal: 128 + the signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? osConstants.signals[signal] : undefined;
  return n ? 128 + n : 255;
}
