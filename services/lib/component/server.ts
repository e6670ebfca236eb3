/**
 * The small HTTP server every control-plane component runs beside its work
 * (scheduler on 10251, controller-manager on 10252, as DESIGN.md fixes):
 * `/healthz` (the process is alive and connected), `/readyz` (it can do its
 * job: leading, or a ready standby), `/metrics` (Prometheus text). Plain
 * node:http: three fixed routes need no framework.
 */
import { createServer, type Server } from 'node:http';
import { renderMetrics, type Metric } from './metrics.js';

export type Check = { ok: boolean; message: string };

export type ComponentServerOptions = {
  /** For messages, e.g. `kube-scheduler`. */
  name: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  healthz: () => Check;
  readyz: () => Check;
  metrics: () => Metric[];
};

export type ComponentServer = { url: string; port: number; close(): Promise<void> };

export async function serveComponent(opts: ComponentServerOptions): Promise<ComponentServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    try {
      if (path === '/healthz' || path === '/livez' || path === '/readyz') {
        const check = path === '/readyz' ? opts.readyz() : opts.healthz();
        res.writeHead(check.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${check.ok ? 'ok' : check.message}\n`);
        return;
      }
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(opts.metrics()));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`${opts.name} serves /healthz, /readyz and /metrics\n`);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`${opts.name}: cannot serve health and metrics on ${opts.host ?? '0.0.0.0'}:${opts.port} (${e.code ?? e.message}); pick another with --port`)),
    );
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
