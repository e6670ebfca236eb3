/**
 * `keelson proxy`: the node's service proxy on its own (kube-proxy), with
 * health and metrics on 10256. `keelson agent` and `keelson up` run the same
 * proxy beside their kubelets (`--proxy-mode`, `--proxy-bind-address`).
 */
import { NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { parseArgs } from 'node:util';
import { KeelsonClient } from '../lib/client/index.js';
import { metric, serveComponent, type Metric } from '../lib/component/index.js';
import { parseForwarders, parseProxyMode, startNodeProxy, type NodeProxy } from '../proxy/node-proxy.js';

export const PROXY_HELP = `  proxy              Forwards Services to their ready endpoints (health and metrics on --port 10256)
      --mode MODE        auto | iptables | userspace (default auto: iptables where it may, else userspace)
      --bind-address IP  where user-space node ports listen (default 0.0.0.0)
      --forwarders N     user space: processes besides this one that forward TCP connections
                         (default: one per core beyond the first; 0: this process alone)
      --service-cidr CIDR  the Services' range; iptables rejects what matches no Service (default 10.96.0.0/16)
      --port N, --host ADDR  health/metrics server (default 10256 on 0.0.0.0)
`;

export async function runProxyCommand(argv: string[], onStop: (stop: () => Promise<void>) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...NATS_FLAGS,
      mode: { type: 'string' },
      'bind-address': { type: 'string' },
      forwarders: { type: 'string' },
      'service-cidr': { type: 'string' },
      port: { type: 'string', default: '10256' },
      host: { type: 'string', default: '0.0.0.0' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, not "${values.port}"`);
  const mode = parseProxyMode(values.mode);
  const forwarders = parseForwarders(values.forwarders, '--forwarders');
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const client = await KeelsonClient.connect(natsFlagTarget(values), 'keelson-proxy');
  let proxy: NodeProxy;
  try {
    proxy = await startNodeProxy({ client, mode, bindAddress: values['bind-address'], serviceCIDR: values['service-cidr'], forwarders, log });
  } catch (e) {
    await client.close();
    throw e;
  }
  const server = await serveComponent({
    name: 'kube-proxy',
    host: values.host,
    port,
    healthz: () => ({ ok: !client.nc.isClosed(), message: 'the NATS connection is closed' }),
    readyz: () => ({ ok: !client.nc.isClosed(), message: 'the NATS connection is closed' }),
    metrics: () => proxyMetrics(proxy),
  }).catch(async (e) => {
    await proxy.stop();
    await client.close();
    throw e;
  });
  onStop(async () => {
    await proxy.stop();
    await server.close();
    await client.close();
  });
  process.stdout.write(`keelson proxy: ${proxy.summary}; health on ${server.url}/healthz\n`);
}

export function proxyMetrics(proxy: NodeProxy): Metric[] {
  const s = proxy.stats();
  const mode = { mode: proxy.mode };
  const out: Metric[] = [
    metric('keelson_proxy_syncs_total', 'counter', 'Syncs of the service map to the backends.', s.syncs, mode),
    metric('keelson_proxy_service_ports', 'gauge', 'Service ports forwarded.', s.servicePorts, mode),
    metric('keelson_proxy_endpoints', 'gauge', 'Ready endpoints behind them.', s.endpoints, mode),
    metric('keelson_proxy_sync_latency_ms', 'gauge', 'First change → its sync done, the last one.', s.lastSyncLatencyMs, mode),
    metric('keelson_proxy_sync_latency_max_ms', 'gauge', 'First change → its sync done, the worst since start.', s.maxSyncLatencyMs, mode),
    metric('keelson_proxy_sync_errors_total', 'counter', 'Backend syncs that failed (retried).', s.syncErrors, mode),
  ];
  for (const [k, v] of Object.entries(proxy.backendStats())) {
    if (typeof v === 'number') out.push(metric(`keelson_proxy_backend_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, 'gauge', `${k} (backend stats).`, v, mode));
  }
  return out;
}
