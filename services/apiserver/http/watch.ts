/**
 * Watch streams over HTTP: chunked JSON lines, one `{"type","object"}` per
 * event, Table rows for kubectl, BOOKMARKs for clients that ask, and an end after
 * `timeoutSeconds` (or 30 min) so clients re-list now and then, as with Kubernetes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KObject, ResourceInfo } from '../../lib/api/resources.js';
import { ApiError, toApiError } from '../../lib/errors/index.js';
import type { Registry } from '../registry/index.js';
import { toTable } from '../tables/index.js';
import { wantsTable } from './content.js';

const DEFAULT_TIMEOUT_S = 1800;
const BOOKMARK_EVERY_MS = 10_000;
/** A client this far behind is cut off rather than buffered without end. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Open watches one authenticated user may hold at once; more get 429 until one ends. */
export const MAX_WATCHES_PER_USER = 100;

/** Open watches per user: one user cannot hold the server's watch capacity (anonymous callers are not counted: no authentication, no quota). */
export class WatchQuota {
  private readonly open = new Map<string, number>();
  constructor(private readonly perUser = MAX_WATCHES_PER_USER) {}

  /** Takes a place for `user`, or throws 429; the returned function gives it back (once). */
  take(user: string | undefined): () => void {
    if (user === undefined) return () => undefined;
    const n = this.open.get(user) ?? 0;
    if (n >= this.perUser) {
      throw new ApiError('TooManyRequests', `too many watches: user "${user}" already holds ${n}, the most one user may hold at once; close one or try again later`, { retryAfterSeconds: 1 });
    }
    this.open.set(user, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.open.get(user) ?? 1) - 1;
      if (left > 0) this.open.set(user, left);
      else this.open.delete(user);
    };
  }
}

export async function streamWatch(
  registry: Registry,
  quota: WatchQuota,
  resource: ResourceInfo,
  namespace: string,
  q: Record<string, string | undefined>,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const release = quota.take(req.user?.name);
  const table = wantsTable(req);
  const includeObject = q.includeObject === 'None' || q.includeObject === 'Object' ? q.includeObject : 'Metadata';
  let first = true;
  /** The event's object as JSON: serialized once and shared by every plain watcher. */
  const render = (obj: KObject): string => {
    if (!table) return jsonOf(obj);
    const t = toTable(resource, [obj], { resourceVersion: obj.metadata?.resourceVersion ?? '', includeObject });
    // Column definitions go with the first event only; kubectl keeps them.
    if (!first) (t as { columnDefinitions?: unknown }).columnDefinitions = [];
    first = false;
    return JSON.stringify(t);
  };

  const raw = reply.raw;
  let watcher: { stop(): void } | undefined;
  let closed = false;
  let pending: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    release();
    watcher?.stop();
    timers.forEach(clearTimeout);
    timers.forEach(clearInterval);
    // What is still queued (an ERROR event, the last changes) goes out first.
    raw.end(pending.length ? pending.join('') : undefined);
    pending = [];
  };
  // Lines queue up and leave in one socket write after the poll phase: events
  // from every NATS read handled in one loop iteration share a syscall, which
  // is what a watch with many clients spends most of its time on.
  const flush = () => {
    const lines = pending;
    pending = [];
    if (closed || lines.length === 0) return;
    raw.write(lines.length === 1 ? lines[0]! : lines.join(''));
    if (raw.writableLength > MAX_BUFFERED_BYTES) close();
  };
  const write = (type: string, json: string) => {
    if (closed) return;
    if (pending.length === 0) setImmediate(flush);
    pending.push(`{"type":"${type}","object":${json}}\n`);
  };

  // A bad selector is an ordinary HTTP error; a too-old resourceVersion is an
  // ERROR event inside the stream (what client-go and kubectl expect), after
  // which the client lists again.
  const events: { type: string; object: KObject }[] = [];
  let started = false;
  let expired: unknown;
  try {
    watcher = registry.watch(resource, namespace, { ...q, resourceVersion: q.resourceVersion }, (e) => {
      if (!started) events.push({ type: e.type, object: e.object });
      else write(e.type, render(e.object));
    });
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 410)) {
      release();
      throw e;
    }
    expired = e;
  }

  reply.hijack();
  raw.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
  // Node holds the headers back until the first body byte. A quiet watch would
  // then leave its client waiting for the response (kubectl's `delete` waits for
  // its watch request to return before it exits) until the first BOOKMARK.
  raw.flushHeaders();
  started = true;
  if (expired) {
    write('ERROR', JSON.stringify(toApiError(expired).toStatus()));
    return close();
  }
  raw.on('close', close);
  req.raw.on('close', close);
  // A client gone before the listeners were there would otherwise hold its quota place for the whole timeout.
  if (req.raw.destroyed || raw.destroyed) return close();
  try {
    for (const e of events) write(e.type, render(e.object));
  } catch (e) {
    close();
    throw e;
  }

  const timeout = Math.min(Number(q.timeoutSeconds) || DEFAULT_TIMEOUT_S, DEFAULT_TIMEOUT_S);
  timers.push(setTimeout(close, timeout * 1000));
  if (q.allowWatchBookmarks === 'true') {
    timers.push(
      setInterval(() => {
        write('BOOKMARK', JSON.stringify({
          kind: resource.kind,
          apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version,
          metadata: { resourceVersion: String(registry.cache.revision) },
        }));
      }, BOOKMARK_EVERY_MS),
    );
  }
}

/**
 * Objects in the watch cache are immutable and shared by every watcher, so
 * each is serialized once, however many watchers send it.
 */
const serialized = new WeakMap<object, string>();
function jsonOf(obj: KObject): string {
  let json = serialized.get(obj);
  if (json === undefined) {
    json = JSON.stringify(obj);
    serialized.set(obj, json);
  }
  return json;
}
