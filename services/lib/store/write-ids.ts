/**
 * The ids that tell a write of ours from anyone else's (bucket.ts `Keelson-Write`).
 * Alone, each write gets a random one. Inside `withRequestId`, the writes get
 * `<request id>/<n>` in the order the request makes them — so when a load
 * balancer replays a request whose API server died after storing its write but
 * before answering (haproxy `retry-on empty-response` keeps the request's
 * unique id), the replay's write carries the same id as the stored one and is
 * answered as the success it was, not as a conflict with itself.
 *
 *   await withRequestId(req.headers['keelson-request-id'], () => handle(req));
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { nuid } from '@nats-io/nats-core';

/** The header the load balancer sets (docker-compose's haproxy: unique-id-header). */
export const REQUEST_ID_HEADER = 'keelson-request-id';

type Scope = { prefix: string; next: number };

const scope = new AsyncLocalStorage<Scope>();

/** A request id must be short and plain: it becomes part of a NATS header value. */
const USABLE = /^[\w.:+=@-]{8,128}$/;

/** Runs `fn` with writes numbered under `requestId` (a missing or unusable id: random ids, as outside). */
export function withRequestId<T>(requestId: string | string[] | undefined, fn: () => T): T {
  if (typeof requestId !== 'string' || !USABLE.test(requestId)) return fn();
  return scope.run({ prefix: requestId, next: 0 }, fn);
}

/** The id of the next write made in this context. */
export function nextWriteId(): string {
  const s = scope.getStore();
  return s ? `${s.prefix}/${s.next++}` : nuid.next();
}
