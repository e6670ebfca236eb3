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
