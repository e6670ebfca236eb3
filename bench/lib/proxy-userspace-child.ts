/**
 * Keelson's user-space proxy as a child process of the proxy benchmark, so
 * that its CPU and memory are read alone: a UserspaceBackend synced with one
 * TCP service port whose node port listens on `bindAddress`, balanced round
 * robin over the given endpoints (what `keelson proxy --proxy-mode userspace`
 * does per service port, without the informers: the data path only).
 *
 *   node proxy-userspace-child.js '<json UserspaceChildConfig>'
 *
 * Prints `PROXY-USERSPACE-READY` once it listens; `stats` on stdin answers
 * `PROXY-USERSPACE-STATS <json>`. Stops (listeners closed) on SIGTERM or
 * when stdin closes.
 */
import { defaultForwarders, UserspaceBackend } from '../../services/proxy/userspace/index.js';
import type { ServicePort } from '../../services/proxy/types.js';
import { serveChild } from './child-commands.js';
import { USERSPACE_READY, USERSPACE_STATS, type UserspaceChildConfig } from './proxy-protocol.js';

const HARD_LIMIT_MS = 40 * 60_000;

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as UserspaceChildConfig;
  const forwarders = cfg.forwarders ?? defaultForwarders();
  const backend = new UserspaceBackend({ bindAddress: cfg.bindAddress, forwarders, log: (m) => process.stderr.write(`${m}\n`) });
  const port: ServicePort = {
    key: 'bench-proxy/data:/TCP',
    namespace: 'bench-proxy',
    name: 'data',
    portName: '',
    protocol: 'TCP',
    clusterIP: '10.96.0.10',
    port: 80,
    nodePort: cfg.nodePort,
    sessionAffinity: { type: 'None' },
    endpoints: cfg.endpoints,
  };
  serveChild({ hardLimitMs: HARD_LIMIT_MS, graceMs: 10_000, cleanup: () => backend.stop() }, {
    stats: () => {
      const { servicePorts, ...rest } = backend.stats();
      process.stdout.write(`${USERSPACE_STATS} ${JSON.stringify({ ...rest, ...servicePorts[0] })}\n`);
    },
  });
  await backend.sync([port]);
  const s = backend.stats();
  if (s.listeners !== 1) throw new Error(`the node port ${cfg.bindAddress}:${cfg.nodePort} is not listening (${s.pendingListeners} pending; see the log above)`);
  process.stdout.write(`${USERSPACE_READY}\n`);
}

main().catch((e) => {
  process.stderr.write(`user-space proxy child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
