/**
 * Serves `kubectl logs` for the pods of this node over NATS: finds the
 * container instance (the current one, or with `previous` the one before), reads
 * its log from the runtime and streams the chunks to the requester's inbox.
 */
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Readable } from 'node:stream';
import { REQUEST_TYPE, type ApiRequest } from '../lib/api/nats-api.js';
import { decodeMessage } from '../lib/codec/index.js';
import { ApiError, toApiError } from '../lib/errors/index.js';
import { cancelSubject, ERROR_HEADER, kubeletSubject, START_HEADER, type LogParams } from '../lib/kubelet-api/index.js';
import type { ContainerRuntime } from './runtime/index.js';

/** Bytes per NATS message: well under the server's payload limit. */
const CHUNK = 64 * 1024;

export function serveLogs(nc: NatsConnection, nodeName: string, runtime: ContainerRuntime): Subscription {
  return nc.subscribe(kubeletSubject(nodeName, 'logs'), {
    callback: (err, msg) => {
      if (!err && msg.reply) void answer(nc, runtime, msg);
    },
  });
}

async function answer(nc: NatsConnection, runtime: ContainerRuntime, msg: Msg): Promise<void> {
  const inbox = msg.reply!;
  let stream: Readable | undefined;
  const cancel = nc.subscribe(cancelSubject(inbox), { max: 1, callback: () => void stream?.destroy() });
  try {
    const req = decodeMessage(REQUEST_TYPE, msg.data) as ApiRequest;
    const p = (req.params ?? {}) as LogParams;
    const id = await instance(runtime, req.namespace ?? '', req.name ?? '', p.container, p.previous === 'true');
    stream = await runtime.logs(id, {
      follow: p.follow === 'true',
      timestamps: p.timestamps === 'true',
      ...(p.tailLines ? { tailLines: Number(p.tailLines) } : {}),
      ...(p.sinceSeconds ? { sinceSeconds: Number(p.sinceSeconds) } : {}),
    });
    // Found and readable: from here on the requester streams (errors before this
    // point become its HTTP status).
    const start = headers();
    start.set(START_HEADER, 'start');
    nc.publish(inbox, new Uint8Array(0), { headers: start });
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      for (let i = 0; i < buf.length; i += CHUNK) nc.publish(inbox, buf.subarray(i, i + CHUNK));
    }
    nc.publish(inbox, new Uint8Array(0));
  } catch (e) {
    if (stream?.destroyed) return; // cancelled by the requester
    const h = headers();
    h.set(ERROR_HEADER, JSON.stringify(toApiError(e).toStatus()));
    nc.publish(inbox, new Uint8Array(0), { headers: h });
  } finally {
    cancel.unsubscribe();
  }
}

/** The runtime id of a container's current instance, or of the one before it. */
async function instance(runtime: ContainerRuntime, namespace: string, pod: string, container: string, previous: boolean): Promise<string> {
  const all = (await runtime.listManaged())
    .filter((m) => m.kind === 'container' && m.namespace === namespace && m.podName === pod && m.container === container)
    .sort((a, b) => b.attempt - a.attempt);
  const found = all[previous ? 1 : 0];
  if (!found) {
    throw new ApiError(
      previous ? 'BadRequest' : 'NotFound',
      previous
        ? `previous terminated container "${container}" in pod "${pod}" not found`
        : `container "${container}" in pod "${pod}" is waiting to start: no instance has run yet`,
    );
  }
  return found.id;
}
