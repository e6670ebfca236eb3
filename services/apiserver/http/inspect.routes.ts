/**
 * The statecharts and their live actors over HTTP, for the dashboard (/ui) and
 * anyone else — the same API every client uses, no privileged shortcut:
 *
 *   GET /keelson/v1/statecharts                 the machines: name, description
 *   GET /keelson/v1/statecharts/NAME?format=F   one, as json (default), scxml or mermaid
 *   GET /keelson/v1/actors                      every component's actors now (asked over NATS)
 *   GET /keelson/v1/actors?watch=true           their transitions as they happen, one JSON
 *                                               line each: {"type":"TRANSITION","object":{...}}
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/nats-core';
import { STATECHARTS } from '../../../statecharts/index.js';
import { exportChart, FORMATS, type Format } from '../../../statecharts/export/index.js';
import { ApiError } from '../../lib/errors/index.js';
import { decodeTransition, gatherStates, TRANSITIONS_SUBJECT } from '../../lib/inspect/index.js';

export const STATECHARTS_PATH = '/keelson/v1/statecharts';
export const ACTORS_PATH = '/keelson/v1/actors';

const CONTENT_TYPES: Record<Format, string> = { json: 'application/json', scxml: 'application/scxml+xml', mermaid: 'text/plain; charset=utf-8' };

/** A watch ends after this long (clients reconnect), as resource watches do. */
const WATCH_TIMEOUT_MS = 30 * 60_000;
/** A client that reads slower than this much buffered output is cut off. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export function registerInspectRoutes(app: FastifyInstance, nc: () => NatsConnection): void {
  app.get(STATECHARTS_PATH, async () => ({
    kind: 'StatechartList',
    apiVersion: 'keelson/v1',
    items: STATECHARTS.map((s) => ({ name: s.name, description: s.description, formats: FORMATS })),
  }));

  app.get<{ Params: { name: string }; Querystring: { format?: string } }>(`${STATECHARTS_PATH}/:name`, async (req, reply) => {
    const { name } = req.params;
    const format = (req.query.format ?? 'json') as Format;
    if (!STATECHARTS.some((s) => s.name === name)) throw new ApiError('NotFound', `statechart "${name}" not found; there are: ${STATECHARTS.map((s) => s.name).join(', ')}`);
    if (!FORMATS.includes(format)) throw new ApiError('BadRequest', `unknown format "${format}"; use one of ${FORMATS.join(', ')}`);
    return reply.type(CONTENT_TYPES[format]).send(exportChart(name, format));
  });

  app.get<{ Querystring: { watch?: string } }>(ACTORS_PATH, async (req, reply) => {
    if (req.query.watch === 'true' || req.query.watch === '1') return watchTransitions(nc(), req, reply);
    const items = await gatherStates(nc());
    items.sort((a, b) => a.component.localeCompare(b.component) || a.actor.localeCompare(b.actor));
    return { kind: 'ActorList', apiVersion: 'keelson/v1', items };
  });
}

function watchTransitions(nc: NatsConnection, req: FastifyRequest, reply: FastifyReply): void {
  const raw = reply.raw;
  let closed = false;
  const sub = nc.subscribe(`${TRANSITIONS_SUBJECT}.>`, {
    callback: (err, msg) => {
      if (err || closed) return;
      try {
        raw.write(`{"type":"TRANSITION","object":${JSON.stringify(decodeTransition(msg.data))}}\n`);
      } catch {
        return; // not a transition: skip it
      }
      if (raw.writableLength > MAX_BUFFERED_BYTES) close();
    },
  });
  const timer = setTimeout(() => close(), WATCH_TIMEOUT_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    sub.unsubscribe();
    raw.end();
  };
  // The API server replaced its NATS connection: end the stream, the client watches again.
  void sub.closed.then(close, close);
  reply.hijack();
  raw.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
  raw.flushHeaders();
  raw.on('close', close);
  req.raw.on('close', close);
}
