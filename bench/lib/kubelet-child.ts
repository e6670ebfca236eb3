/**
 * One kubelet on the Docker runtime, as a child process of the startup and
 * kubelet benchmarks (so that its RSS and CPU can be read alone from /proc):
 *
 *   node --import tsx bench/lib/kubelet-child.ts <natsUrl> <nodeName> <network> <dataDir>
 *   node <tsc build>/bench/lib/kubelet-child.js ...   (the same, compiled)
 *
 * Unlike `keelson kubelet` it puts pods on a private Docker network. Prints
 * "KUBELET-READY" once the node is registered and pods are being run; on
 * SIGTERM/SIGINT stops the kubelet and closes the runtime (containers are left
 * to the parent, which removes them by label). Stops when its stdin closes
 * (the parent is gone); `heap <file>` on stdin writes a heap snapshot
 * (child-commands.ts). Exits by itself after a hard limit.
 */
import { startKubelet } from '../../services/kubelet/index.js';
import { DockerRuntime } from '../../services/kubelet/runtime/index.js';
import { KUBELET_READY, serveCommands } from './child-commands.js';

const HARD_LIMIT_MS = 40 * 60_000;

async function main(): Promise<void> {
  const [natsUrl, nodeName, network, dataDir] = process.argv.slice(2);
  if (!natsUrl || !nodeName || !network || !dataDir) throw new Error('usage: kubelet-child.ts <natsUrl> <nodeName> <network> <dataDir>');
  const runtime = await DockerRuntime.connect({ dataDir, network, nodeName, log: (m) => process.stderr.write(`runtime: ${m}\n`) });
  const kubelet = await startKubelet({ nats: [natsUrl], nodeName, runtime, dataDir, log: (m) => process.stderr.write(`${m}\n`) });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code || 1), 10_000);
    force.unref();
    await kubelet.stop().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  serveCommands(() => void stop(0));
  setTimeout(() => void stop(1), HARD_LIMIT_MS).unref();
  process.stdout.write(`${KUBELET_READY} ${process.pid}\n`);
}

main().catch((e) => {
  process.stderr.write(`kubelet child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
