/**
 * The HTTP edge of the API server (Fastify): Kubernetes paths and JSON shapes,
 * so that kubectl works; every error leaves as a Kubernetes `Status`.
 */
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ApiError, logServerFailure, toApiError } from '../../lib/errors/index.js';
import { REQUEST_ID_HEADER, withRequestId } from '../../lib/store/index.js';
import type { Registry } from '../registry/index.js';
import { registerClusterStatusRoutes } from './cluster-status.routes.js';
import { registerInspectRoutes } from './inspect.routes.js';
import { registerUiRoutes } from './ui.routes.js';
import { BODY_LIMIT, registerContentTypes } from './content.js';
import { registerDiscoveryRoutes } from './discovery.routes.js';
import { registerResourceRoutes } from './resources.routes.js';
import { chooseExecProtocol } from './streams/exec.js';

export type HttpOptions = {
  registry: Registry;
  /** Health as the lifecycle machine sees it, for /readyz and /livez. */
  health: () => { live: boolean; ready: boolean; state: string };
  metrics: () => string;
  logger?: boolean;
};

export function buildHttpServer(opts: HttpOptions): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Open watches would otherwise keep close() waiting forever.
    forceCloseConnections: true,
    // Object names may be long (253 chars); keep the router out of it.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
  });
  registerContentTypes(app);
  // A request replayed by the load balancer after its first API server died keeps
  // its id, and so do its store writes: the replay finds its own write (store/write-ids.ts).
  app.addHook('onRequest', (req, _reply, done) => withRequestId(req.headers[REQUEST_ID_HEADER], done));
  app.setErrorHandler((err: FastifyError | ApiError, _req, reply) => {
    const apiErr = fromFastifyError(err);
    logServerFailure('apiserver: request failed', apiErr, err);
    reply.code(apiErr.code).type('application/json').send(apiErr.toStatus());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError('NotFound', `the server could not find the requested resource (${req.method} ${req.url.split('?')[0]})`);
    reply.code(404).send(e.toStatus());
  });
  registerDiscoveryRoutes(app);
  // Routes that may upgrade (pods/exec) are declared once the WebSocket plugin is in.
  app.register(websocket, { options: { handleProtocols: chooseExecProtocol, maxPayload: 1024 * 1024 } });
  app.register(async (scope) => registerResourceRoutes(scope, opts.registry));
  registerClusterStatusRoutes(app, opts.registry);
  registerInspectRoutes(app, () => opts.registry.store.connection);
  registerUiRoutes(app);
  app.get('/healthz', async (_req, reply) => health(reply, opts.health().live, opts.health().state));
  app.get('/livez', async (_req, reply) => health(reply, opts.health().live, opts.health().state));
  app.get('/readyz', async (_req, reply) => health(reply, opts.health().ready, opts.health().state));
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(opts.metrics()));
  return app;
}

function health(reply: { code(c: number): { type(t: string): { send(s: string): unknown } } }, ok: boolean, state: string) {
  return reply.code(ok ? 200 : 503).type('text/plain').send(ok ? 'ok' : `not ready: ${state}`);
}

/** Fastify's own errors (bad JSON, body too large...) as API errors. */
function fromFastifyError(err: FastifyError | ApiError): ApiError {
  if (err instanceof ApiError) return err;
  const status = (err as FastifyError).statusCode;
  if (status === 413) return new ApiError('RequestEntityTooLarge', `the request body is larger than the ${BODY_LIMIT / 1024 / 1024} MiB limit`);
  if (status === 415) return new ApiError('UnsupportedMediaType', err.message);
  if (status && status >= 400 && status < 500) return new ApiError('BadRequest', err.message);
  return toApiError(err);
}
