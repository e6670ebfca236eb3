/**
 * `GET .../pods/{name}/log`: asks the pod's kubelet over NATS and streams what
 * it sends back as text/plain (chunked while following). The client going away
 * cancels the kubelet's stream.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import type { LogParams } from '../../../lib/kubelet-api/index.js';
import { openKubeletStream, podContainer, podNode, statusOf, type PodShape } from './kubelet.js';

export async function streamLogs(nc: NatsConnection, pod: PodShape, q: Record<string, string | undefined>, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const meta = pod.metadata!;
  const node = podNode(pod);
  const params: LogParams = { container: podContainer(pod, q.container) };
  for (const k of ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds'] as const) {
    const v = q[k];
    if (v !== undefined) params[k] = v;
  }
  const body = new PassThrough();
  const request = { verb: 'get', resource: 'pods', version: 'v1', namespace: meta.namespace, name: meta.name, subresource: 'log', params };
  const stream = await openKubeletStream(nc, node, 'logs', request, (m) => {
    const error = statusOf(m);
    if (error) body.end(`\nerror: ${error.message}\n`);
    else if (m.data.length === 0) body.end();
    else body.write(m.data);
  });
  req.raw.on('close', () => stream.cancel());
  return reply.type('text/plain').send(body);
}
