/**
 * `GET .../pods/{name}/log`: asks the pod's kubelet over NATS and streams what
 * it sends back as text/plain (chunked while following). The client going away
 * cancels the kubelet's stream.
 */
import { createInbox, type NatsConnection } from '@nats-io/nats-core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { REQUEST_TYPE } from '../../lib/api/nats-api.js';
import type { KObject } from '../../lib/api/resources.js';
import { encodeMessage } from '../../lib/codec/index.js';
import { ApiError, errors } from '../../lib/errors/index.js';
import { cancelSubject, ERROR_HEADER, kubeletSubject, START_HEADER, type LogParams } from '../../lib/kubelet-api/index.js';

/** How long the kubelet has to take the request before the client gets a 503. */
const KUBELET_ANSWER_MS = 5_000;

type PodShape = { spec?: { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[] } };

/** The container a log request means: the named one, or the pod's only one. */
export function logContainer(pod: KObject & PodShape, wanted: string | undefined): string {
  const name = pod.metadata!.name!;
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  if (wanted) {
    if (!all.includes(wanted)) throw errors.badRequest(`container ${wanted} is not valid for pod ${name}`);
    return wanted;
  }
  if (all.length === 1) return all[0]!;
  throw errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(' ')}]`);
}

export async function streamLogs(nc: NatsConnection, pod: KObject & PodShape, q: Record<string, string | undefined>, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const meta = pod.metadata!;
  const node = pod.spec?.nodeName;
  if (!node) throw errors.badRequest(`pod ${meta.name} does not have a host assigned`);
  const params: LogParams = { container: logContainer(pod, q.container) };
  for (const k of ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds'] as const) {
    const v = q[k];
    if (v !== undefined) params[k] = v;
  }
  const inbox = createInbox();
  const body = new PassThrough();
  // The first message says how it went: START (stream follows) or an error Status.
  let settle!: (outcome: true | ApiError) => void;
  const first = new Promise<true | ApiError>((r) => (settle = r));
  const sub = nc.subscribe(inbox, {
    callback: (_err, m) => {
      if (m.headers?.get(START_HEADER)) return settle(true);
      const failure = m.headers?.get(ERROR_HEADER);
      if (failure) {
        const error = ApiError.fromStatus(JSON.parse(failure) as { reason?: string; message?: string; code?: number });
        settle(error);
        body.end(`\nerror: ${error.message}\n`);
        sub.unsubscribe();
      } else if (m.data.length === 0) {
        body.end();
        sub.unsubscribe();
      } else body.write(m.data);
    },
  });
  const request = { verb: 'get', resource: 'pods', version: 'v1', namespace: meta.namespace, name: meta.name, subresource: 'log', params };
  nc.publish(kubeletSubject(node, 'logs'), encodeMessage(REQUEST_TYPE, request), { reply: inbox });
  const timer = setTimeout(
    () => settle(new ApiError('ServiceUnavailable', `the kubelet of node "${node}" did not answer; is it running?`)),
    KUBELET_ANSWER_MS,
  );
  const outcome = await first;
  clearTimeout(timer);
  if (outcome !== true) {
    sub.unsubscribe();
    throw outcome;
  }
  req.raw.on('close', () => {
    if (!sub.isClosed()) {
      nc.publish(cancelSubject(inbox), new Uint8Array(0));
      sub.unsubscribe();
    }
  });
  return reply.type('text/plain').send(body);
}
