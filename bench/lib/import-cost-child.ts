/**
 * What loading code costs before it does anything: imports the modules named
 * on the command line (package names, or paths relative to this file's build
 * root), then waits like idle-child.ts, so the parent can read its RSS after GC.
 *
 *   node <build>/bench/lib/import-cost-child.js dockerode ./services/kubelet/index.js
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IDLE_READY, serveCommands } from './child-commands.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<void> {
  for (const m of process.argv.slice(2)) await import(m.startsWith('./') ? pathToFileURL(join(root, m)).href : m);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  serveCommands(stop);
  setTimeout(stop, 10 * 60_000).unref();
  process.stdout.write(`${IDLE_READY} ${process.pid}\n`);
}

main().catch((e) => {
  process.stderr.write(`import-cost child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
