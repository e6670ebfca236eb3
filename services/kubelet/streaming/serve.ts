/**
 * The skeleton every kubelet stream shares: take a request on the node's
 * subject, run the handler, and always end the requester's stream — with an
 * empty message when the handler is done, or a Status header when it failed.
 * The requester's cancel message aborts the handler's signal.
 */
import { headers, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { REQUEST_TYPE, type ApiRequest } from '../../lib/api/nats-api.js';
import { decodeMessage } from '../../lib/codec/index.js';
import { toApiError } from '../../lib/errors/index.js';
import { cancelSubject, ERROR_HEADER, isKubeletInbox, kubeletSubject, START_HEADER } from '../../lib/kubelet-api/index.js';
import type { ContainerRuntime } from '../runtime/index.js';

/** Bytes per NATS message: well under the server's payload limit. */
export const CHUNK = 64 * 1024;

export type StreamContext = {
  nc: NatsConnection;
  runtime: ContainerRuntime;
  request: ApiRequest;
  /** Where the answer goes. */
  inbox: string;
  /** Aborted when the requester went away. */
  signal: AbortSignal;
  /** Tells the requester the stream begins (errors before this become its HTTP status). */
  start(extra?: Record<string, string>): void;
};

export type StreamHandler = (ctx: StreamContext) => Promise<void>;

export function serveStream(nc: NatsConnection, node: string, what: 'logs' | 'exec', runtime: ContainerRuntime, handler: StreamHandler): Subscription {
  return nc.subscribe(kubeletSubject(node, what), {
    callback: (err, msg) => {
      // Answers go only under the node's own subjects, whoever asked and whatever reply subject they gave.
      if (err || !msg.reply || !isKubeletInbox(node, msg.reply)) return;
      const inbox = msg.reply;
      const aborter = new AbortController();
      const cancel = nc.subscribe(cancelSubject(inbox), { max: 1, callback: () => aborter.abort() });
      const ctx: StreamContext = {
        nc,
        runtime,
        inbox,
        signal: aborter.signal,
        request: {} as ApiRequest,
        start: (extra = {}) => {
          const h = headers();
          h.set(START_HEADER, 'start');
          for (const [k, v] of Object.entries(extra)) h.set(k, v);
          nc.publish(inbox, new Uint8Array(0), { headers: h });
        },
      };
      void (async () => {
        try {
          ctx.request = decodeMessage(REQUEST_TYPE, msg.data) as ApiRequest;
          await handler(ctx);
          if (!aborter.signal.aborted) nc.publish(inbox, new Uint8Array(0));
        } catch (e) {
          if (aborter.signal.aborted) return;
          nc.publish(inbox, new Uint8Array(0), { headers: statusHeader(e) });
        } finally {
          cancel.unsubscribe();
        }
      })();
    },
  });
}

function statusHeader(e: unknown): MsgHdrs {
  const h = headers();
  h.set(ERROR_HEADER, JSON.stringify(toApiError(e).toStatus()));
  return h;
}

/** Sends `data` to `subject` in chunks of at most CHUNK bytes, each passed through `wrap` (e.g. to frame it). */
export function publishChunked(nc: NatsConnection, subject: string, data: Buffer, wrap: (part: Buffer) => Uint8Array = (p) => p): void {
  for (let i = 0; i < data.length; i += CHUNK) nc.publish(subject, wrap(data.subarray(i, i + CHUNK)));
}
