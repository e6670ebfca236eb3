/**
 * What every scenario's run starts with: a cleanup list, a results stamp, a log
 * with the seconds since the start, a hard time limit for the whole run, and a
 * temp dir removed at the end.
 *
 *   const run = startBenchRun('failover', 30 * 60_000);
 *   try { ... run.log('...'); ... } finally { await run.finish(); }
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from './proc.js';
import { nowMs } from './stats.js';

export type BenchRun = {
  cleanup: Cleanup;
  /** `2026-11-27-035858`: names the results files. */
  stamp: string;
  log(message: string): void;
  /** A new temp dir (`keelson-bench-<name>-*`), removed by the cleanup. */
  tempDir(): string;
  /** Stops the time limit and runs the cleanup. */
  finish(): Promise<void>;
};

export function startBenchRun(name: string, limitMs: number): BenchRun {
  const cleanup = new Cleanup();
  const t0 = nowMs();
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name} bench: over the ${limitMs / 60_000}-minute limit; stopping\n`);
    void cleanup.run().finally(() => process.exit(1));
  }, limitMs);
  watchdog.unref();
  return {
    cleanup,
    stamp: new Date().toISOString().replace(/:/g, '').replace(/\..*$/, '').replace('T', '-'),
    log: (s) => process.stderr.write(`[${((nowMs() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`),
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), `keelson-bench-${name}-`));
      cleanup.add('temp dir', () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    async finish() {
      clearTimeout(watchdog);
      await cleanup.run();
    },
  };
}
