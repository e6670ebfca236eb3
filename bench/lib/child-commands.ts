/**
 * What every bench child script does with its stdin: the parent writes one
 * command per line, and the pipe closing means the parent is gone (the child
 * then stops). `heap <file>` writes a V8 heap snapshot there (for diagnosis)
 * and answers `HEAP-WRITTEN <file>`; a script adds its own commands.
 */
import { writeHeapSnapshot } from 'node:v8';

export const HEAP_WRITTEN = 'HEAP-WRITTEN';
/** idle-child.ts's ready line. */
export const IDLE_READY = 'IDLE-READY';
/** kubelet-child.ts's ready line. */
export const KUBELET_READY = 'KUBELET-READY';

export function serveCommands(onEnd: () => void, commands: Record<string, (arg: string) => void> = {}): void {
  let input = '';
  process.stdin.on('data', (c: Buffer) => {
    input += c.toString();
    let nl: number;
    while ((nl = input.indexOf('\n')) >= 0) {
      const line = input.slice(0, nl).trim();
      input = input.slice(nl + 1);
      const sp = line.indexOf(' ');
      const [cmd, arg] = sp < 0 ? [line, ''] : [line.slice(0, sp), line.slice(sp + 1)];
      if (cmd === 'heap') {
        writeHeapSnapshot(arg);
        process.stdout.write(`${HEAP_WRITTEN} ${arg}\n`);
      } else commands[cmd]?.(arg);
    }
  });
  process.stdin.on('end', onEnd);
  process.stdin.resume();
}

/**
 * A bench child's whole lifetime around its commands: it stops once — on
 * SIGTERM/SIGINT, when stdin closes (the parent is gone) or at `hardLimitMs` —
 * by running `cleanup`, which has `graceMs` before the exit is forced. Returns
 * `stopping()`, for loops that must end early.
 */
export function serveChild(
  o: { hardLimitMs: number; graceMs?: number; cleanup: () => Promise<void> | void },
  commands: Record<string, (arg: string) => void> = {},
): { stopping(): boolean } {
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(code || 1), o.graceMs ?? 20_000).unref();
    try {
      await o.cleanup();
    } catch (e) {
      process.stderr.write(`stopping: ${(e as Error).message}\n`);
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  setTimeout(() => void stop(2), o.hardLimitMs).unref();
  serveCommands(() => void stop(0), commands);
  return { stopping: () => stopping };
}
