/**
 * "RSS after GC" for a child process without touching Keelson's code: the child
 * runs with `--expose-gc` and a one-line preload (a `data:` URL on the node
 * command line) that on SIGUSR2 runs a full GC and prints one line of
 * process.memoryUsage() and V8's heap spaces on stdout. The parent reads that line with
 * `parseMemoryLine` and the RSS from /proc.
 */

export const MEM_MARK = 'KEELSON-BENCH-MEMORY ';

/** Loaded into the child with --import; nothing else. */
export const GC_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    'import v8 from "node:v8";' +
      `process.on("SIGUSR2",()=>{globalThis.gc();const spaces=Object.fromEntries(v8.getHeapSpaceStatistics().map((s)=>[s.space_name,[s.space_size,s.space_used_size]]));` +
      `process.stdout.write(${JSON.stringify(MEM_MARK)}+JSON.stringify({...process.memoryUsage(),spaces})+"\\n")})`,
  );

/** The node flags that install the preload. */
export const GC_NODE_ARGS: readonly string[] = ['--expose-gc', '--import', GC_PRELOAD];

/** Heap figures of the child's main thread right after a forced full GC, MB; per V8 heap space, [committed, used] MB. */
export type ChildMemory = {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces?: Record<string, [number, number]>;
};

/** The figures of one memory line, or undefined when the line is something else. */
export function parseMemoryLine(line: string): ChildMemory | undefined {
  if (!line.startsWith(MEM_MARK)) return undefined;
  const raw = JSON.parse(line.slice(MEM_MARK.length)) as Record<Exclude<keyof ChildMemory, 'spaces'>, number> & { spaces?: Record<string, [number, number]> };
  const mb = (k: Exclude<keyof ChildMemory, 'spaces'>) => raw[k] / 1048576;
  const spaces = raw.spaces
    ? Object.fromEntries(Object.entries(raw.spaces).filter(([, [size]]) => size > 0).map(([name, [size, used]]) => [name, [size / 1048576, used / 1048576] as [number, number]]))
    : undefined;
  return { rss: mb('rss'), heapTotal: mb('heapTotal'), heapUsed: mb('heapUsed'), external: mb('external'), arrayBuffers: mb('arrayBuffers'), ...(spaces ? { spaces } : {}) };
}
