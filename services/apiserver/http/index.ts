/**
 * The HTTP edge of the API server (Fastify): Kubernetes paths and JSON shapes,
 * so that kubectl works; every error leaves as a Kubernetes `Status`.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Authenticator, UserInfo } from '../authn/index.js';
import { requestAttributes, type Authorizer } from '../authz/index.js';
import { ApiError, logServerFailure, toApiError } from '../../lib/errors/index.js';
import { REQUEST_ID_HEADER, withRequestId } from '../../lib/store/index.js';
import type { Registry } from '../registry/index.js';
import { registerClusterStatusRoutes } from './cluster-status.routes.js';
import { registerInspectRoutes } from './inspect.routes.js';
import { registerUiRoutes, UI_PATHS } from './ui.routes.js';
import { BODY_LIMIT, registerContentTypes } from './content.js';
import { registerDiscoveryRoutes } from './discovery.routes.js';
import { registerAccessReviewRoutes } from './access-review.routes.js';
import { registerResourceRoutes } from './resources.routes.js';
import { chooseExecProtocol } from './streams/exec.js';

export type HttpOptions = {
  registry: Registry;
  /** Health as the lifecycle machine sees it, for /readyz and /livez. */
  health: () => { live: boolean; ready: boolean; state: string };
  metrics: () => string;
  logger?: boolean;
  /** Serve HTTPS with this certificate; with `clientCA`, client certificates it signed are verified. */
  tls?: { cert: string; key: string; clientCA?: string };
  /** Who may call: without it every request is served (plain HTTP for in-process tests). */
  authenticator?: Authenticator;
  /** What each authenticated caller may do (403 otherwise); needs `authenticator`. */
  authorizer?: Authorizer;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (undefined when the server runs without authentication, or on a public path). */
    user?: UserInfo;
    /** It came through an authenticating proxy (the load balancer), whose Keelson-Request-Id is trusted. */
    viaProxy?: boolean;
  }
}

/**
 * A slow client cannot hold the server: headers must arrive within 10 s and the
 * whole request within 30 s (Node checks every second, not every 30 s as by default),
 * else the connection gets a 408 Status and is closed.
 */
const REQUEST_TIMEOUT_MS = 30_000;
const SLOW_CLIENT_LIMITS = { headersTimeout: 10_000, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };

/** Answered to anyone, as Kubernetes' system:public-info-viewer: health, the version and the dashboard's static files. */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', ...UI_PATHS]);

export function buildHttpServer(opts: HttpOptions): FastifyInstance {
  const app = Fastify({
    ...(opts.tls ? { https: { ...SLOW_CLIENT_LIMITS, ...httpsOptions(opts.tls) } } : { http: SLOW_CLIENT_LIMITS }),
    // The whole request (line, headers, body) must arrive within this; a watch's or an exec's long life comes after.
    requestTimeout: REQUEST_TIMEOUT_MS,
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Open watches would otherwise keep close() waiting forever.
    forceCloseConnections: true,
    // Object names may be long (253 chars); keep the router out of it.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // A URL the router cannot decode (`%zz`, `%ff`) and a request Node cannot parse
    // (headers over 16 KiB, garbage) get a Status like every other error.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).type('application/json').send(new ApiError('BadRequest', `the request URL is not valid: ${err.message}`).toStatus());
    },
    clientErrorHandler: answerUnparsable,
  });
  registerContentTypes(app);
  if (opts.authenticator) authenticateEveryRequest(app, opts.authenticator);
  if (opts.authenticator && opts.authorizer) authorizeEveryRequest(app, opts.authorizer);
  // A request replayed by the load balancer after its first API server died keeps
  // its id, and so do its store writes: the replay finds its own write (store/write-ids.ts).
  // With authentication, only the load balancer (an authenticating proxy) may name requests:
  // a client's own id could otherwise claim another request's writes.
  const trustsRequestId = (req: FastifyRequest) => !opts.authenticator || req.viaProxy === true;
  app.addHook('onRequest', (req, _reply, done) => withRequestId(trustsRequestId(req) ? req.headers[REQUEST_ID_HEADER] : undefined, done));
  app.setErrorHandler((err: FastifyError | ApiError, _req, reply) => {
    const apiErr = fromFastifyError(err);
    logServerFailure('apiserver: request failed', apiErr, err);
    // As kube-apiserver: a Status that says when to try again says it in Retry-After too, which
    // client-go (kubectl) honours by retrying — through the load balancer, often on another API server.
    const retryAfter = apiErr.details?.retryAfterSeconds;
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    reply.code(apiErr.code).type('application/json').send(apiErr.toStatus());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError('NotFound', `the server could not find the requested resource (${req.method} ${req.url.split('?')[0]})`);
    reply.code(404).send(e.toStatus());
  });
  registerDiscoveryRoutes(app);
  registerAccessReviewRoutes(app, opts.authenticator ? opts.authorizer : undefined);
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

/** A request Node's HTTP parser refused (or one that came too slowly): a Status, then the connection is closed. */
function answerUnparsable(err: NodeJS.ErrnoException, socket: Duplex): void {
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError('RequestHeaderFieldsTooLarge', 'the request line and headers are larger than 16 KiB')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ApiError('RequestTimeout', 'the request was not received in time')
        : new ApiError('BadRequest', `the request is not valid HTTP (${err.code ?? err.message})`);
  const body = JSON.stringify(e.toStatus());
  if (socket.writable) {
    // end() closes once the answer is out.
    socket.end(`HTTP/1.1 ${e.code} ${STATUS_CODES[e.code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  else socket.destroy();
}

function httpsOptions(tls: NonNullable<HttpOptions['tls']>) {
  // A client certificate is asked for but not required: a bearer token may be used instead.
  return { cert: tls.cert, key: tls.key, ...(tls.clientCA ? { ca: tls.clientCA, requestCert: true, rejectUnauthorized: false } : {}) };
}

/** 401 Status for every request with no valid credentials, but on the public paths. */
function authenticateEveryRequest(app: FastifyInstance, authenticator: Authenticator): void {
  app.decorateRequest('user', undefined);
  app.addHook('onRequest', (req: FastifyRequest, reply, done) => {
    if (PUBLIC_PATHS.has(req.url.split('?')[0]!.replace(/(.)\/+$/, '$1'))) return done();
    const who = authenticator.authenticate(req.raw.headersDistinct, req.raw.socket);
    if (typeof who !== 'string') {
      req.user = who.user;
      req.viaProxy = who.viaProxy;
      return done();
    }
    reply.code(401).type('application/json').send(new ApiError('Unauthorized', `Unauthorized: ${who}`).toStatus());
  });
}

/**
 * 403 Status for what the caller may not do. After the body is read (a node may
 * create only the Node named in it) and before any route's own checks.
 */
function authorizeEveryRequest(app: FastifyInstance, authorizer: Authorizer): void {
  app.addHook('preHandler', async (req: FastifyRequest) => {
    if (!req.user) return; // a public path
    req.user = authorizer.impersonate(req.user, req.raw.headersDistinct);
    authorizer.check(req.user, requestAttributes(req.method, req.url, req.query as Record<string, unknown>), req.body);
  });
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
